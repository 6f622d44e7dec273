"""The composition root: the container, its providers, bootstrap and the console entry.

``glovebox`` never imports this package; code there refers to providers by string id
(``Provide["layout_cache"]``) and is wired by :func:`bootstrap`.
"""

from containers.application import ApplicationContainer
from containers.bootstrap import WIRED_MODULES, WIRED_PACKAGES, bootstrap, shutdown
from containers.providers import DomainCachesSingleton, TaggedCacheSingleton

__all__ = [
    "WIRED_MODULES",
    "WIRED_PACKAGES",
    "ApplicationContainer",
    "DomainCachesSingleton",
    "TaggedCacheSingleton",
    "bootstrap",
    "shutdown",
]
