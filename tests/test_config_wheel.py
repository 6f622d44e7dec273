"""The built-in defaults ship inside the wheel: an installed package finds them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PIP = (sys.executable, "-m", "pip")

PROBE = """
import json, sys
import glovebox
from glovebox.config import default_config_file, load_user_config
config = load_user_config()
print(json.dumps({
    "package": glovebox.__file__,
    "defaults": str(default_config_file()),
    "moergo_ttl": config.cache.domains["moergo"].default_ttl,
    "cache_path": str(config.cache_path),
}))
"""


@pytest.mark.slow
def test_defaults_load_from_an_installed_wheel(tmp_path: Path) -> None:
    dist, target = tmp_path / "dist", tmp_path / "site"
    subprocess.run(
        [*PIP, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("glovebox-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("glovebox/config/default.yaml")
    assert shipped == (REPO / "config" / "default.yaml").read_bytes()

    subprocess.run(
        [*PIP, "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GLOVEBOX") and key != "PYTHONPATH"
    }
    env.update(
        PYTHONPATH=str(target),
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        HOME=str(tmp_path / "home"),
    )
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    found = json.loads(probe.stdout)
    assert found["package"].startswith(str(target))
    assert found["defaults"] == str(target / "glovebox" / "config" / "default.yaml")
    assert found["moergo_ttl"] == 86400
    assert found["cache_path"] == str(tmp_path / "xdg-cache" / "glovebox")
