"""The metrics domain: usage counters and timings."""

from glovebox.metrics.service import MetricsService, TimingSummary

__all__ = ["MetricsService", "TimingSummary"]
