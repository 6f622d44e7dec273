"""Test support for applications built on Glovebox's caches.

Installing the package registers :mod:`glovebox.testing.plugin` with pytest (entry point
``pytest11``), which provides the ``reset_shared_cache`` (autouse), ``isolated_config``
and ``shared_cache_stats`` fixtures.
"""

from glovebox.testing.plugin import (
    IsolatedConfig,
    IsolatedPaths,
    isolate_environment,
    shared_cache_snapshot,
)

__all__ = ["IsolatedConfig", "IsolatedPaths", "isolate_environment", "shared_cache_snapshot"]
