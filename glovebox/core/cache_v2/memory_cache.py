"""The memory backend under its earlier path; it lives in :mod:`.backends.memory`."""

from glovebox.core.cache_v2.backends.memory import MemoryCache

__all__ = ["MemoryCache"]
