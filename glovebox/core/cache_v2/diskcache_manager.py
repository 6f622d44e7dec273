"""The disk backend under its documented path; it lives in :mod:`.backends.disk`."""

from glovebox.core.cache_v2.backends.disk import DiskCacheManager

__all__ = ["DiskCacheManager"]
