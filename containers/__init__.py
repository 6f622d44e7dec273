"""The composition root: the container, its providers, bootstrap and the console entry.

``glovebox`` never imports this package; code there refers to providers by string id
(``Provide["layout_cache"]``) and is wired by :func:`bootstrap`.

The names below are imported on first use, so ``containers.cli`` (the ``glovebox``
script) starts without loading dependency-injector or the configuration models; a
command loads them when it first needs its caches.
"""

from __future__ import annotations

try:  # Ctrl-C while the `glovebox` script starts: one line, as in containers/cli.py
    from typing import TYPE_CHECKING

    from glovebox._lazy import lazy_attributes
except KeyboardInterrupt:
    import sys

    sys.stderr.write("glovebox: interrupted\n")
    raise SystemExit(130) from None

if TYPE_CHECKING:
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

_HOMES = {
    "ApplicationContainer": "containers.application",
    "WIRED_MODULES": "containers.bootstrap",
    "WIRED_PACKAGES": "containers.bootstrap",
    "bootstrap": "containers.bootstrap",
    "shutdown": "containers.bootstrap",
    "DomainCachesSingleton": "containers.providers",
    "TaggedCacheSingleton": "containers.providers",
}


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
