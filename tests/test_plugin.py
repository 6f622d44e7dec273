"""The pytest plugin works in a downstream project that only installed glovebox."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from glovebox.core.cache_v2 import create_default_cache
from glovebox.testing import IsolatedConfig

DOWNSTREAM_TESTS = """
from pathlib import Path

from glovebox.core.cache_v2 import create_default_cache


def test_first_creates_an_instance(isolated_config, shared_cache_stats):
    cache = create_default_cache(tag="downstream")
    cache.set("k", "v")
    stats = shared_cache_stats()
    assert stats["instance_count"] == 1
    assert stats["instance_keys"] == [f"{isolated_config.cache_path.resolve()}:downstream"]
    assert Path(isolated_config.cache_path, "downstream", "cache.db").is_file()


def test_second_starts_with_no_instances(isolated_config, shared_cache_stats):
    assert shared_cache_stats()["instance_count"] == 0
    # a new tmp_path: the previous test's data is not visible
    assert create_default_cache(tag="downstream").get("k") is None


def test_cache_root_is_below_tmp_path(isolated_config, tmp_path):
    assert str(isolated_config.cache_path).startswith(str(tmp_path))
    assert str(create_default_cache().get_stats().directory).startswith(str(tmp_path))
"""


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("glovebox") == "glovebox.testing.plugin"


def test_downstream_project_gets_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_downstream=DOWNSTREAM_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=3)


LEAVES_AN_INSTANCE_OPEN = """
from glovebox.core.cache_v2 import create_default_cache, get_cache_instance_count


def test_opens_a_shared_cache(isolated_config):
    create_default_cache(tag="left-open").set("k", "v")
    assert get_cache_instance_count() == 1


def test_starts_with_none(isolated_config):
    assert get_cache_instance_count() == 0
"""

# Runs after every fixture finaliser of a test (the plugin's included), so it sees what
# the next test would inherit if nothing reset the registry before it.
COUNT_AFTER_TEARDOWN = """
import pytest

from glovebox.core.cache_v2 import get_cache_instance_count


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    count = get_cache_instance_count()
    assert count == 0, f"{count} shared cache instance(s) left open after {item.name}"
    return result
"""

# The plugin's fixture with its after-test reset left out.
RESET_BEFORE_ONLY = """
import pytest

from glovebox.core.cache_v2 import reset_shared_cache_instances


@pytest.fixture(autouse=True)
def reset_shared_cache():
    reset_shared_cache_instances()
    yield
"""


def test_no_shared_instance_survives_a_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(COUNT_AFTER_TEARDOWN)
    pytester.makepyfile(test_left_open=LEAVES_AN_INSTANCE_OPEN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_teardown_check_catches_a_missing_after_test_reset(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(COUNT_AFTER_TEARDOWN + RESET_BEFORE_ONLY)
    pytester.makepyfile(test_left_open=LEAVES_AN_INSTANCE_OPEN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*1 shared cache instance(s) left open after test_opens_a_shared_cache*"]
    )


def test_isolated_config_points_everything_at_tmp(
    isolated_config: IsolatedConfig, tmp_path: object
) -> None:
    import os

    assert os.environ["XDG_CACHE_HOME"] == str(isolated_config.cache_home)
    assert os.environ["HOME"] == str(isolated_config.home)
    assert isolated_config.cache_path.is_relative_to(str(tmp_path))
    assert not any(name.startswith("GLOVEBOX_") for name in os.environ)


def test_isolated_config_is_a_user_config_for_the_factories(
    isolated_config: IsolatedConfig,
) -> None:
    from glovebox.config import UserConfig
    from glovebox.core.cache_v2 import create_cache_from_user_config

    assert isinstance(isolated_config, UserConfig)
    assert isolated_config.cache_path == isolated_config.cache_home / "glovebox"
    layout = create_cache_from_user_config(isolated_config, tag="layout")
    assert layout is create_cache_from_user_config(isolated_config._config, tag="layout")
    assert layout is create_default_cache(tag="layout")
    assert str(layout.get_stats().directory).startswith(str(isolated_config.home.parent))
