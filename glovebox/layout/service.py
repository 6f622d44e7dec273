"""LayoutService: layouts compiled to ``.keymap``/``.conf``, cached by content.

The compiled result lives under ``compiled:v<GENERATOR_VERSION>:<content hash>``, where the
content hash is the SHA-256 of the canonical JSON (sorted keys, no whitespace): reformatting
or reordering a file still hits, any change to what it says misses, and a new generator
version never serves an older generator's output. For files, a second key maps the SHA-256
of the raw bytes to the content hash, so a repeat compile of an unchanged file skips JSON
parsing altogether.

Three layers answer a repeat compile, each skipping more work than the one below:

1. In this process, a file's identity (device, inode, size, change times) -> its content
   hash: an untouched file is neither read nor hashed (a long-lived service compiling the
   same files, e.g. a watcher). Only identities older than a timestamp tick are trusted.
2. In the cache, ``file:<SHA-256 of the bytes>`` -> content hash: a new process reads the
   file once and hashes its bytes, without parsing JSON (the cached ``layout compile``).
3. In the cache, ``compiled:v<N>:<content hash>`` -> ``.keymap``/``.conf``: any source of
   the same content (reformatted file, parsed JSON, a document object) is served.

Dropping 1 costs a read and a hash per repeat in a long-lived process; dropping 2 costs
a JSON parse and canonical dump per cached CLI compile, most of its run time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from glovebox.core.cache_v2 import CacheManager, DisabledCache, best_effort
from glovebox.layout.errors import LayoutError

if TYPE_CHECKING:
    from glovebox.layout.models import LayoutDocument
    from glovebox.layout.summary import ProcessedLayout

__all__ = [
    "GENERATOR_VERSION",
    "CompiledLayout",
    "LayoutResult",
    "LayoutService",
    "LayoutSource",
    "compile_layout",
    "layout_hash",
    "parse_layout",
    "read_layout",
]

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 2
"""Bump whenever generated text changes, so cached output of older generators is not served."""

# A file identity is remembered only once its last change is this old, so two writes within
# one filesystem timestamp tick can never share an identity (the "racy clean" rule of git).
_SETTLED_NS = 2_000_000_000
_MAX_IDENTITIES = 256

FileIdentity: TypeAlias = tuple[int, int, int, int, int]

# Bump when ProcessedLayout changes shape, so old cache entries are not misread.
_SUMMARY_FORMAT = 1

LayoutSource: TypeAlias = "Path | str | Mapping[str, Any] | LayoutDocument"
"""A layout file (path), its parsed JSON, or a validated :class:`LayoutDocument`."""


@dataclass(frozen=True, slots=True)
class CompiledLayout:
    """The firmware sources generated from one layout."""

    keymap: str
    conf: str
    content_hash: str
    from_cache: bool
    warnings: tuple[str, ...] = ()
    """One line each, naming the file and JSON path (an unknown ``.conf`` parameter)."""


@dataclass(frozen=True, slots=True)
class LayoutResult:
    layout: ProcessedLayout
    from_cache: bool
    stored: bool = True
    """Whether a summary computed now was kept in the cache (False: the cache is disabled)."""


def layout_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON form: key order and whitespace do not change it."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_layout(path: Path) -> bytes:
    """The bytes of a layout file; ``LayoutError`` says why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LayoutError(f"{path}: layout file not found") from None
    except IsADirectoryError:
        raise LayoutError(f"{path}: is a directory; expected a layout .json file") from None
    except OSError as exc:
        raise LayoutError(f"{path}: cannot read layout file: {exc.strerror or exc}") from None


def parse_layout(raw: bytes, name: str) -> Mapping[str, Any]:
    """Parsed JSON object; syntax errors are reported as ``name:line:col``."""
    from pydantic_core import from_json

    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        document = from_json(raw)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise LayoutError(_too_deep(name)) from None
        # The fast parser's message has no reliable position: ask json for line and column.
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LayoutError(
                f"{name}: not UTF-8 text (byte {exc.start}); a layout is a UTF-8 JSON file"
            ) from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LayoutError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise LayoutError(_too_deep(name)) from None
    if not isinstance(document, dict):
        raise LayoutError(
            f"{name}: a layout is a JSON object with layer_names and layers, "
            f"got a JSON {type(document).__name__}"
        )
    return document


def _too_deep(name: str) -> str:
    return (
        f"{name}: JSON nested too deeply (arrays or objects inside each other more than "
        "200 levels); a layout nests a few levels: layers, bindings, params"
    )


def _compiled_key(content_hash: str) -> str:
    return f"compiled:v{GENERATOR_VERSION}:{content_hash}"


def _file_key(raw: bytes) -> str:
    return f"file:v{GENERATOR_VERSION}:{hashlib.sha256(raw).hexdigest()}"


def _identity(path: Path) -> FileIdentity | None:
    """Device, inode, size, mtime and ctime: any write to the file changes at least one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _stored(value: Any) -> tuple[str, str, tuple[str, ...]] | None:
    if isinstance(value, dict):
        keymap, conf = value.get("keymap"), value.get("conf")
        warnings = value.get("warnings", [])
        if (
            isinstance(keymap, str)
            and isinstance(conf, str)
            and isinstance(warnings, list)
            and all(isinstance(warning, str) for warning in warnings)
        ):
            return keymap, conf, tuple(warnings)
    return None


class LayoutService:
    """Compiles and summarises layouts; identical content is compiled once per cache lifetime."""

    def __init__(self, cache: CacheManager) -> None:
        self._cache = cache
        # Reads and writes go through a best-effort view: a cache that fails costs a
        # miss and one WARNING, never the compile (see glovebox.core.cache_v2.best_effort_cache).
        self._store = best_effort(cache)
        # File identity -> content hash of what that file held, for files compiled before
        # by this service: a repeat compile of an untouched file skips reading and hashing.
        self._identities: dict[FileIdentity, str] = {}

    @property
    def cache(self) -> CacheManager:
        return self._cache

    def compile(self, source: LayoutSource, *, use_cache: bool = True) -> CompiledLayout:
        """The ``.keymap`` and ``.conf`` for ``source``, from the cache when already compiled.

        With ``use_cache=False`` the cache is neither read nor written.
        Raises ``LayoutError`` (file, line/column or JSON path, what is accepted).
        """
        if use_cache and not self._cache.stores:
            logger.debug("layout cache is disabled: compiling without it")
            use_cache = False
        if not isinstance(source, str | Path):
            return self._compile_document(source, "layout", use_cache, None, None)
        path = Path(source)
        name = str(path)
        if not use_cache:
            return self._compile_document(None, name, False, read_layout(path), None)
        identity = _identity(path)
        known = self._identities.get(identity) if identity else None
        if known is not None and (hit := self._hit(name, known)) is not None:
            return hit
        raw = read_layout(path)
        content_hash = self._store.get(_file_key(raw))
        if isinstance(content_hash, str) and (hit := self._hit(name, content_hash)) is not None:
            self._remember(identity, content_hash)
            return hit
        return self._compile_document(None, name, True, raw, identity)

    def _hit(self, name: str, content_hash: str) -> CompiledLayout | None:
        stored = _stored(self._store.get(_compiled_key(content_hash)))
        if stored is None:
            return None
        logger.debug("layout %s: served from the layout cache (%s)", name, content_hash)
        keymap, conf, warnings = stored
        # Stored without a file name: the same content may come from another file.
        named = tuple(f"{name}: {warning}" for warning in warnings)
        return CompiledLayout(keymap, conf, content_hash, from_cache=True, warnings=named)

    def _compile_document(
        self,
        document: Any,
        name: str,
        use_cache: bool,
        raw: bytes | None,
        identity: FileIdentity | None,
    ) -> CompiledLayout:
        """Parse (if ``raw``), hash, then serve from the cache or compile and store."""
        if raw is not None:
            document = parse_layout(raw, name)
        content_hash = layout_hash(_as_mapping(document, name))
        file_key = _file_key(raw) if use_cache and raw is not None else None
        if use_cache and (hit := self._hit(name, content_hash)) is not None:
            if file_key is not None:
                self._store.set(file_key, content_hash)
            self._remember(identity, content_hash)
            return hit
        from glovebox.layout.compiler import compile_document

        keymap, conf, warnings = compile_document(document, name)
        if use_cache:
            key = _compiled_key(content_hash)
            entry = {"keymap": keymap, "conf": conf, "warnings": list(warnings)}
            entries: dict[str, Any] = {key: entry}
            if file_key is not None:
                entries[file_key] = content_hash
            self._store.set_many(entries)
            self._remember(identity, content_hash)
            logger.debug("layout %s: compiled (not in the cache) and stored as %s", name, key)
        else:
            logger.debug("layout %s: compiled without the layout cache", name)
        named = tuple(f"{name}: {warning}" for warning in warnings)
        return CompiledLayout(keymap, conf, content_hash, from_cache=False, warnings=named)

    def _remember(self, identity: FileIdentity | None, content_hash: str) -> None:
        if identity is None or time.time_ns() - max(identity[3], identity[4]) < _SETTLED_NS:
            return
        if len(self._identities) >= _MAX_IDENTITIES:
            self._identities.clear()
        self._identities[identity] = content_hash

    def process(
        self, document: Mapping[str, Any], *, source: str = "layout", validate: bool = False
    ) -> LayoutResult:
        """Summarise ``document`` (``layout show``) or return the cached summary.

        With ``validate=True`` the layout must also pass every check ``compile`` makes
        (``LayoutError`` otherwise); such summaries are cached under their own keys.
        """
        if not isinstance(document, Mapping):
            raise LayoutError(f"{source}: a layout is a JSON object, got {type(document).__name__}")
        content_hash = layout_hash(document)
        # Summaries of layouts that passed validation are kept apart, per generator version.
        if validate:
            key = f"processed:checked:v{GENERATOR_VERSION}.{_SUMMARY_FORMAT}:{content_hash}"
        else:
            key = f"processed:v{_SUMMARY_FORMAT}:{content_hash}"
        # Imported here: a compile served from the cache never needs the summary.
        from glovebox.layout.summary import ProcessedLayout, summarize

        cached = self._store.get(key)
        if isinstance(cached, ProcessedLayout):
            logger.debug("layout %s served from cache", content_hash[:12])
            return LayoutResult(cached, from_cache=True)
        if validate:
            from glovebox.layout.compiler import validate_document

            validate_document(document, source)
        processed = summarize(document, content_hash, source)
        stored = self._cache.stores
        if stored:
            self._store.set(key, processed)
        return LayoutResult(processed, from_cache=False, stored=stored)

    def process_file(self, path: Path, *, validate: bool = False) -> LayoutResult:
        """Read a layout JSON file and summarise it (see :meth:`process`)."""
        document = parse_layout(read_layout(path), str(path))
        return self.process(document, source=str(path), validate=validate)


def _as_mapping(document: Any, name: str) -> Mapping[str, Any]:
    """The JSON object whose canonical form is hashed."""
    if isinstance(document, Mapping):
        return document
    from glovebox.layout.models import LayoutDocument

    if isinstance(document, LayoutDocument):
        dumped: dict[str, Any] = document.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return dumped
    raise LayoutError(
        f"{name}: a layout is a path, a JSON object or a LayoutDocument, "
        f"got {type(document).__name__}"
    )


def compile_layout(
    source: LayoutSource, *, cache: CacheManager | None = None, use_cache: bool = True
) -> CompiledLayout:
    """Compile a layout (path, parsed JSON or ``LayoutDocument``) to ``.keymap``/``.conf``.

    By default the layout domain's coordinated cache (as the configuration files and
    ``GLOVEBOX_CACHE_*`` variables set it up, the same one ``glovebox layout compile``
    uses) serves a layout already compiled and keeps new results; ``cache`` uses the given
    cache instead; ``use_cache=False`` reads and stores nothing. A cache that cannot be
    opened costs a warning, never the compile.
    """
    if not use_cache:
        return LayoutService(DisabledCache("layout")).compile(source, use_cache=False)
    if cache is not None:
        return LayoutService(cache).compile(source)
    return _default_service(_layout_cache()).compile(source)


_default: list[LayoutService] = []


def _default_service(cache: CacheManager) -> LayoutService:
    """One service per default cache, so repeat calls keep its memory of unchanged files."""
    if not _default or _default[0].cache is not cache:
        _default[:] = [LayoutService(cache)]
    return _default[0]


def _layout_cache() -> CacheManager:
    """The ``layout`` domain's shared cache, or a disabled one when it cannot be opened."""
    from glovebox.config import load_user_config
    from glovebox.core.cache_v2 import create_cache_from_user_config
    from glovebox.errors import GloveboxError

    try:
        return create_cache_from_user_config(load_user_config(snapshot=True), "layout")
    except (GloveboxError, OSError) as exc:
        logger.warning("layout cache unavailable, compiling without it: %s", exc)
        return DisabledCache("layout")
