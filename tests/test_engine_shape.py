"""The engine's shape: the lazy backend table, one fork hook, the administration API,
capabilities instead of type checks, one family of argument errors, one size ceiling."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from glovebox.config import user_config_from_mapping
from glovebox.config.models import MAX_CACHE_SIZE_GB, MAX_CACHE_TIMEOUT
from glovebox.core.cache_v2 import (
    BACKENDS,
    CORRUPT_MARKER,
    MAX_SIZE_GB_LIMIT,
    MAX_TIMEOUT,
    CacheAdmin,
    CacheSettings,
    DisabledCache,
    MemoryCache,
    create_cache_from_user_config,
    create_default_cache,
    get_cache_instance_count,
    open_backend,
    register_backend,
    validate_key,
    validate_tag,
)
from glovebox.core.cache_v2.backends import LazyOpener
from glovebox.core.cache_v2.forks import Forks
from glovebox.errors import (
    ConfigError,
    GloveboxError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from glovebox.layout.service import LayoutService
from glovebox.testing import IsolatedConfig
from tests.helpers import REPO_ROOT, run_python

EXAMPLE = REPO_ROOT / "docs" / "examples" / "glove80-example.json"

# -- the backend table -----------------------------------------------------------------


def loaded_after(code: str) -> dict[str, bool]:
    probe = (
        "import json, sys\n"
        f"{code}\n"
        "print(json.dumps({name: name in sys.modules for name in "
        "('diskcache', 'redis', 'glovebox.core.cache_v2.backends.disk', "
        "'glovebox.core.cache_v2.backends.redis')}))\n"
    )
    result: dict[str, bool] = json.loads(run_python(probe).stdout.strip().splitlines()[-1])
    return result


def test_importing_the_engine_loads_no_backend(isolated_config: IsolatedConfig) -> None:
    assert loaded_after("import glovebox.core.cache_v2") == {
        "diskcache": False,
        "redis": False,
        "glovebox.core.cache_v2.backends.disk": False,
        "glovebox.core.cache_v2.backends.redis": False,
    }


def test_a_backend_module_is_loaded_when_a_cache_first_uses_it(
    isolated_config: IsolatedConfig,
) -> None:
    memory = loaded_after(
        "import os\nos.environ['GLOVEBOX_CACHE_LAYOUT'] = 'memory'\n"
        "from glovebox.core.cache_v2 import create_default_cache\n"
        "create_default_cache('layout')"
    )
    assert memory["diskcache"] is False
    assert memory["redis"] is False
    disk = loaded_after(
        "from glovebox.core.cache_v2 import create_default_cache\ncreate_default_cache('layout')"
    )
    assert disk["glovebox.core.cache_v2.backends.disk"] is True
    assert disk["redis"] is False


def test_builtin_backends_are_registered_by_module_path() -> None:
    for name in ("disk", "memory", "redis"):
        opener = BACKENDS[name]
        assert isinstance(opener, LazyOpener)
        assert opener.module_path == f"glovebox.core.cache_v2.backends.{name}"


def test_register_backend_by_module_path_imports_on_first_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "tests_plugin_probe.py").write_text(
        "from glovebox.core.cache_v2 import MemoryCache\n"
        "opened = []\n"
        "def open_cache(root, name, settings):\n"
        "    opened.append(name)\n"
        "    return MemoryCache(name)\n"
        "not_a_function = 3\n"
    )
    module = "tests_plugin_probe"
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(BACKENDS, "probe", BACKENDS["memory"])  # restored after the test
    register_backend("probe", module, "open_cache")
    assert module not in sys.modules  # registering imports nothing
    cache = open_backend(tmp_path, "plugged", CacheSettings(backend="probe"))
    assert isinstance(cache, MemoryCache)
    assert sys.modules[module].opened == ["plugged"]

    register_backend("probe", module, "not_a_function")
    with pytest.raises(ConfigError, match="not callable"):
        open_backend(tmp_path, "plugged", CacheSettings(backend="probe"))
    with pytest.raises(ConfigError, match="name of the opening function"):
        register_backend("probe", module)
    with pytest.raises(ConfigError, match="opening function or a module path"):
        register_backend("probe", 42)  # type: ignore[arg-type]


# -- one fork hook ---------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_sees_a_new_generation_and_an_empty_registry(
    isolated_config: IsolatedConfig,
) -> None:
    create_default_cache("layout")
    assert get_cache_instance_count() == 1
    before = Forks.generation
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, f"{Forks.generation - before},{get_cache_instance_count()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    reply = os.read(read, 100).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert reply == "1,0"
    assert Forks.generation == before
    assert get_cache_instance_count() == 1


# -- the administration API ------------------------------------------------------------


def test_admin_lists_known_configured_and_stored_tags_and_quarantined_folders(
    isolated_config: IsolatedConfig,
) -> None:
    create_cache_from_user_config(isolated_config, tag="extra").set("k", 1)
    root = Path(isolated_config.cache_path)
    aside = root / f"old{CORRUPT_MARKER}20260101T000000-1"
    aside.mkdir()
    admin = CacheAdmin(
        isolated_config, lambda tag: create_cache_from_user_config(isolated_config, tag)
    )
    assert admin.known() == sorted(
        {"compilation", "layout", "metrics", "moergo", "default", "extra"}
    )
    assert admin.quarantined() == [aside]
    report = admin.report("extra")
    assert (report.backend, report.stats.entries, report.unusable) == ("disk", 1, None)
    assert report.disk_bytes > 0
    with admin.stored("layout") as nothing:
        assert nothing is None  # never opened, so never created
    assert not (root / "layout").exists()


def test_admin_reads_a_switched_off_domain_through_a_private_handle(
    isolated_config: IsolatedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_cache_from_user_config(isolated_config, tag="metrics").set("k", "v")
    monkeypatch.setenv("GLOVEBOX_CACHE_METRICS", "disabled")
    admin = CacheAdmin(
        isolated_config, lambda tag: create_cache_from_user_config(isolated_config, tag)
    )
    report = admin.report("metrics")
    assert report.disabled
    assert report.backend == "disabled"
    assert report.stats.entries == 1
    with admin.stored("metrics") as private:
        assert private is not None
        assert private.get("k") == "v"


def test_admin_says_why_a_live_cache_could_not_be_opened(isolated_config: IsolatedConfig) -> None:
    create_cache_from_user_config(isolated_config, tag="layout").set("k", 1)
    broken = DisabledCache("layout", reason="the directory is not writable")
    admin = CacheAdmin(isolated_config, lambda tag: broken)
    assert admin.report("layout").unusable == "the directory is not writable"
    with pytest.raises(GloveboxError, match="could not be opened: the directory is not writable"):
        admin.usable("layout")


# -- capabilities ----------------------------------------------------------------------


def test_caches_say_whether_they_store_and_why_not() -> None:
    assert MemoryCache("m").stores is True
    assert MemoryCache("m").unusable is None
    assert DisabledCache("m").stores is False
    assert DisabledCache("m").unusable is None
    assert DisabledCache("m", reason="disk full").unusable == "disk full"


class NonStoring(MemoryCache):
    """A cache that says it keeps nothing, though it could: the service must believe it."""

    @property
    def stores(self) -> bool:
        return False


def test_layout_service_asks_the_cache_whether_it_stores() -> None:
    cache = NonStoring("layout")
    result = LayoutService(cache).compile(EXAMPLE)
    assert result.from_cache is False
    assert cache.keys() == []
    assert LayoutService(cache).compile(EXAMPLE).from_cache is False
    storing = MemoryCache("layout")
    LayoutService(storing).compile(EXAMPLE)
    assert storing.keys() != []


# -- argument errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "bad", "family"),
    [
        (validate_tag, "../etc", ValueError),
        (validate_tag, "global", ValueError),
        (validate_tag, 42, TypeError),
        (validate_key, "", ValueError),
        (validate_key, "x" * 2000, ValueError),
        (validate_key, b"bytes", TypeError),
    ],
)
def test_bad_tags_and_keys_raise_the_projects_errors(
    check: object, bad: object, family: type[Exception]
) -> None:
    assert callable(check)
    with pytest.raises(InvalidArgumentError) as info:
        check(bad)
    assert isinstance(info.value, GloveboxError)
    assert isinstance(info.value, family)
    if family is TypeError:
        assert isinstance(info.value, InvalidArgumentTypeError)


def test_every_backend_refuses_a_bad_key_with_the_projects_error(tmp_path: Path) -> None:
    for backend in ("disk", "memory"):
        cache = open_backend(tmp_path, "keys", CacheSettings(backend=backend))
        with pytest.raises(InvalidArgumentError, match="cache key"):
            cache.set("", 1)
        with pytest.raises(InvalidArgumentTypeError, match="cache key"):
            cache.get(7)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="ttl"):
            cache.set("k", 1, ttl=-1)
        cache.close()


# -- one size ceiling ------------------------------------------------------------------


def test_configuration_and_engine_share_the_bounds() -> None:
    assert MAX_CACHE_SIZE_GB == MAX_SIZE_GB_LIMIT == 1024**2
    assert MAX_CACHE_TIMEOUT == MAX_TIMEOUT


@pytest.mark.parametrize(
    ("field", "limit"), [("max_size_gb", MAX_SIZE_GB_LIMIT), ("timeout", MAX_TIMEOUT)]
)
def test_the_ceiling_is_accepted_and_one_more_is_refused_on_both_sides(
    field: str, limit: int
) -> None:
    at_limit: dict[str, Any] = {field: limit}
    beyond: dict[str, Any] = {field: limit + 1}
    assert getattr(CacheSettings(**at_limit), field) == limit
    with pytest.raises(ConfigError, match=field):
        CacheSettings(**beyond)
    config = user_config_from_mapping({"cache": {field: limit}})
    assert getattr(config.cache, field) == limit
    with pytest.raises(ConfigError, match=field):
        user_config_from_mapping({"cache": {field: limit + 1}})
