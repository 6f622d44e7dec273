"""The cache settings record: one set of defaults, validated when built, passed whole."""

from __future__ import annotations

import math
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from glovebox.config import default_config_file
from glovebox.config.models import CacheSection, GloveboxConfig
from glovebox.core.cache_v2 import (
    CacheSettings,
    DiskCacheManager,
    UnusableStorageError,
    create_diskcache_manager,
    get_shared_cache_instance,
)
from glovebox.core.cache_v2 import models as engine_models
from glovebox.errors import CacheError, ConfigError, GloveboxError


def test_config_model_defaults_equal_default_yaml_and_the_record() -> None:
    documented = yaml.safe_load(default_config_file().read_text())["cache"]
    model = CacheSection()
    record = CacheSettings()
    assert documented["max_size_gb"] == model.max_size_gb == record.max_size_gb
    assert documented["timeout"] == model.timeout == record.timeout
    assert GloveboxConfig().cache == model


def test_config_model_takes_its_defaults_from_the_engine_constants() -> None:
    fields = CacheSection.model_fields
    assert fields["max_size_gb"].default == engine_models.DEFAULT_MAX_SIZE_GB
    assert fields["timeout"].default == engine_models.DEFAULT_TIMEOUT


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_size_gb", math.inf),
        ("max_size_gb", math.nan),
        ("max_size_gb", 1e400),
        ("max_size_gb", 10**400),
        ("max_size_gb", None),
        ("max_size_gb", True),
        ("max_size_gb", "2"),
        ("max_size_gb", 0),
        ("max_size_gb", -1),
        ("max_size_gb", engine_models.MAX_SIZE_GB_LIMIT + 1),
        ("timeout", -math.inf),
        ("timeout", None),
        ("timeout", False),
        ("timeout", "30"),
        ("timeout", 0.0),
        ("timeout", engine_models.MAX_TIMEOUT * 2),
        ("default_ttl", 0),
        ("default_ttl", math.inf),
        ("default_ttl", "60"),
        ("default_ttl", True),
    ],
)
def test_bad_numbers_are_one_line_errors_naming_setting_and_range(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        CacheSettings(**{field: value})
    message = str(info.value)
    assert "\n" not in message
    assert f"cache setting {field}:" in message
    assert "accepted: a finite number" in message
    assert "greater than 0" in message


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("serializer", "yaml", "pickle, json"),
        ("serializer", None, "pickle, json"),
        ("backend", "", "registered backend"),
        ("backend", 3, "registered backend"),
    ],
)
def test_bad_words_name_the_setting_and_the_accepted_values(
    field: str, value: Any, accepted: str
) -> None:
    with pytest.raises(ConfigError, match=f"cache setting {field}:.*accepted: .*{accepted}"):
        CacheSettings(**{field: value})


def test_valid_numbers_are_kept_as_given() -> None:
    settings = CacheSettings(max_size_gb=0.5, timeout=1, default_ttl=3600)
    assert (settings.max_size_gb, settings.timeout, settings.default_ttl) == (0.5, 1, 3600)
    assert settings.size_limit_bytes == 512 * 1024**2


def test_the_record_is_frozen() -> None:
    settings = CacheSettings()
    with pytest.raises(AttributeError):
        settings.timeout = 5  # type: ignore[misc]


def test_get_shared_cache_instance_builds_one_record(tmp_path: Path) -> None:
    cache = get_shared_cache_instance(tmp_path, "sized", max_size_gb=1, timeout=7, default_ttl=9)
    assert isinstance(cache, DiskCacheManager)
    assert cache.settings == CacheSettings(max_size_gb=1, timeout=7, default_ttl=9)


def test_get_shared_cache_instance_validates_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cache setting timeout"):
        get_shared_cache_instance(tmp_path, "bad", timeout=math.nan)
    assert not (tmp_path / "bad").exists()


def test_create_diskcache_manager_takes_the_record(tmp_path: Path) -> None:
    settings = CacheSettings(max_size_gb=1, serializer="json")
    with create_diskcache_manager(tmp_path, "tool", settings=settings) as cache:
        assert cache.settings is settings
        cache.set("doc", {"a": 1})
        with pytest.raises(CacheError):
            cache.set("set", {1, 2})  # not JSON


def test_create_diskcache_manager_refuses_other_backends(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"disk caches only.*'memory'"):
        create_diskcache_manager(tmp_path, "tool", settings=CacheSettings(backend="memory"))


def test_unusable_storage_is_a_glovebox_cache_error(tmp_path: Path) -> None:
    root = tmp_path / "shared-root"
    root.mkdir()
    root.chmod(0o777)
    with pytest.raises(UnusableStorageError, match="chmod go-w") as info:
        create_diskcache_manager(root, "tool")
    assert isinstance(info.value, CacheError)
    assert isinstance(info.value, GloveboxError)
    assert stat.S_IMODE(root.stat().st_mode) == 0o777  # refused, not "fixed" behind our back
