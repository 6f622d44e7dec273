"""Start-up and global options of the installed ``glovebox`` script (no timing).

What a command imports is checked in a fresh interpreter: ``--help`` must not load the
container, the configuration models or rich; ``cache get`` must not load the
compilation stack or rich. Everything else runs the console script in a subprocess
with HOME and the XDG directories below the test's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from glovebox.testing import IsolatedConfig
from tests.helpers import REPO_ROOT

GLOVEBOX = Path(sys.executable).parent / "glovebox"
TIMEOUT = 60.0

# Never needed to show help: the container (dependency-injector pulls in asyncio), the
# configuration models (pydantic, yaml), the cache engine and rich.
HELP_FORBIDDEN = (
    "asyncio",
    "dependency_injector",
    "pydantic",
    "yaml",
    "rich",
    "diskcache",
    "glovebox.compilation",
    "glovebox.config",
    "glovebox.core",
    "glovebox.layout",
    "glovebox.metrics",
    "glovebox.moergo",
    "containers.application",
    "containers.bootstrap",
    "obstore",
    "zstandard",
    "glovebox.remote",
)
# Never needed to read one key: the compilation stack, the other domains' services, rich,
# the lock library (only get_or_set locks), typer's pydantic coercion and, once the
# configuration snapshot is written, the configuration models with pydantic's model
# machinery and its plugin loader (importlib.metadata).
GET_FORBIDDEN = (
    "rich",
    "pydantic.main",
    "importlib.metadata",
    "glovebox.config.models",
    "filelock",
    "pydantic.type_adapter",
    "typer._adapters",
    "glovebox.compilation.cache",
    "glovebox.compilation.west_adapter",
    "glovebox.compilation.zmk_west_service",
    "glovebox.layout",
    "glovebox.metrics",
    "glovebox.moergo",
)
# The remote tier's S3 client: loaded only by the commands that use the remote tier.
REMOTE_CLIENT = ("obstore", "zstandard", "glovebox.remote.tier", "glovebox.remote.tree_stream")


# Never loaded by the commands that serve from the cache (cache get, layout compile,
# firmware compile): they start without the container (glovebox.cli.runtime), so neither
# dependency-injector (which pulls in asyncio, pydantic and yaml) nor the container's
# modules are imported; with a warm configuration snapshot, neither is yaml.
CONTAINER_FREE = (
    "dependency_injector",
    "asyncio",
    "pydantic",
    "pydantic_core",
    "yaml",
    "glovebox.config.layers",
    "glovebox.config.yaml_reader",
    "containers.application",
    "containers.bootstrap",
    "containers.builders",
    "containers.providers",
    "glovebox.cli.injected",
    "glovebox.api",
)
# The container and what builds it.
CONTAINER = (
    "dependency_injector",
    "containers.application",
    "containers.bootstrap",
    "glovebox.cli.injected",
    "glovebox.api",
)
# Never needed to serve an already built firmware: the compilation stack's workspace
# service and west adapters, the full firmware service, the layout compiler, rich, the
# cache engine's administration (usage, listings, quarantine), the layout summary.
FIRMWARE_HIT_FORBIDDEN = (
    "rich",
    "filelock",
    "glovebox.compilation.cache",
    "glovebox.compilation.west_adapter",
    "glovebox.compilation.zmk_west_service",
    "glovebox.firmware.service",
    "glovebox.layout.compiler",
    "glovebox.remote",
    "obstore",
    "glovebox.core.cache_v2.admin",
    "glovebox.layout.summary",
)

# Never needed to serve an already compiled layout: its input model, the compiler, rich,
# the cache engine's administration, the layout summary (``layout show``).
COMPILE_HIT_FORBIDDEN = (
    "rich",
    "pydantic.main",
    "glovebox.config.models",
    "filelock",
    "glovebox.layout.models",
    "glovebox.layout.compiler",
    "glovebox.layout.keymap",
    "glovebox.layout.render",
    "glovebox.compilation.cache",
    "pydantic.type_adapter",
    "typer._adapters",
    "glovebox.core.cache_v2.admin",
    "glovebox.layout.summary",
)
# The cache engine itself: no pydantic models (the Redis settings load with a server).
ENGINE_FORBIDDEN = ("pydantic.main", "filelock", "glovebox.core.cache_v2.redis_settings")


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLOVEBOX")}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
    )
    env.update(extra)
    return env


def glovebox(home: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GLOVEBOX), *args],
        env=env_for(home),
        input=input,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def modules_after(home: Path, *args: str) -> tuple[list[str], str]:
    """The modules loaded by running ``glovebox ARGS`` in a fresh interpreter, and stdout."""
    # Django is made unimportable, as in a venv with the runtime dependencies only: with
    # the development extras, `import diskcache` imports Django's cache framework (and
    # asyncio with it), which no user's `glovebox` loads. The caches the command opened
    # must all be closed when it returns.
    code = textwrap.dedent(
        """
        import io, json, sys, contextlib
        sys.modules["django"] = None
        from containers.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main(sys.argv[1:])
            except SystemExit:
                pass
        modules = sorted(sys.modules)
        if "glovebox.core.cache_v2" in modules:
            from glovebox.core.cache_v2 import get_cache_instance_count
            assert get_cache_instance_count() == 0, "a cache was left open"
        print(json.dumps({"modules": modules, "out": out.getvalue()}))
        """
    )
    data = json.loads(python_in(home, code, *args).splitlines()[-1])
    return data["modules"], data["out"]


def modules_imported_by(home: Path, statements: str) -> list[str]:
    """The modules loaded after running ``statements`` in a fresh interpreter."""
    code = f"import json, sys\n{statements}\nprint(json.dumps(sorted(sys.modules)))"
    modules: list[str] = json.loads(python_in(home, code))
    return modules


def python_in(home: Path, code: str, *args: str) -> str:
    """Standard output of ``code`` run by this venv's Python with HOME at ``home``."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env_for(home, PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return result.stdout


def loaded(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden)]


@pytest.fixture
def home(isolated_config: IsolatedConfig, tmp_path: Path) -> Path:
    return tmp_path


def test_importing_the_entry_point_loads_no_container(home: Path) -> None:
    assert loaded(modules_imported_by(home, "import containers.cli"), HELP_FORBIDDEN) == []


@pytest.mark.parametrize(
    "args",
    [("--help",), ("-h",), ("cache", "--help"), ("cache", "get", "--help"), ("--version",)],
)
def test_help_and_version_load_nothing_heavy(home: Path, args: tuple[str, ...]) -> None:
    modules, out = modules_after(home, *args)
    assert out.strip()
    assert loaded(modules, HELP_FORBIDDEN) == []
    assert not (home / ".cache" / "glovebox").exists()


def test_cache_get_reads_without_compilation_stack_or_rich(home: Path) -> None:
    assert glovebox(home, "cache", "set", "greeting", "hello").returncode == 0
    modules, out = modules_after(home, "cache", "get", "greeting")
    assert out == "hello\n"
    assert loaded(modules, GET_FORBIDDEN) == []
    # The cache came from the coordinator's factory; the container was never built.
    assert loaded(modules, CONTAINER_FREE) == []
    assert "glovebox.cli.runtime" in modules


def test_a_command_that_is_not_served_from_the_cache_builds_the_container(home: Path) -> None:
    assert glovebox(home, "cache", "set", "greeting", "hello").returncode == 0
    modules, out = modules_after(home, "cache", "stats", "--json")
    assert json.loads(out)["command"] == "cache stats"
    assert "containers.application" in modules
    assert "dependency_injector.wiring" in modules


def test_cache_get_never_loads_the_remote_client_even_with_a_remote_configured(
    home: Path,
) -> None:
    config = home / ".config" / "glovebox" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "cache:\n  remote:\n    url: s3://zmk-cache/ci\n    endpoint: http://127.0.0.1:9\n"
    )
    assert glovebox(home, "cache", "show").returncode == 0  # sees the remote tier
    assert glovebox(home, "cache", "set", "greeting", "hello").returncode == 0
    for args in (("--help",), ("cache", "get", "greeting")):
        modules, _ = modules_after(home, *args)
        assert loaded(modules, REMOTE_CLIENT) == [], args


SNAPSHOT = Path(".local", "state", "glovebox", "config-snapshot.json")


def test_cache_get_with_a_warm_snapshot_loads_no_pydantic_models(home: Path) -> None:
    assert not (home / SNAPSHOT).exists()
    assert glovebox(home, "cache", "set", "greeting", "hello").returncode == 0
    assert (home / SNAPSHOT).is_file()  # written by the first command, outside the cache root
    modules, out = modules_after(home, "cache", "get", "greeting")
    assert out == "hello\n"
    assert "pydantic.main" not in modules
    assert "importlib.metadata" not in modules
    assert "glovebox.config.models" not in modules
    assert "glovebox.config.snapshot" in modules
    cache_root = home / ".cache" / "glovebox"
    assert sorted(p.name for p in cache_root.iterdir()) == ["default"]


def write_config(home: Path, text: str) -> None:
    path = home / ".config" / "glovebox" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_a_configuration_changed_between_commands_is_seen(home: Path) -> None:
    write_config(home, f"cache_path: {home / 'one'}\n")
    assert glovebox(home, "cache", "set", "k", "first").returncode == 0
    assert glovebox(home, "cache", "get", "k").stdout == "first\n"
    write_config(home, f"cache_path: {home / 'two'}\n")
    miss = glovebox(home, "cache", "get", "k")
    assert miss.returncode == 1
    assert "miss" in miss.stderr
    write_config(home, "cache_path: [\n")
    broken = glovebox(home, "cache", "get", "k")
    assert broken.returncode == 2
    assert "config.yaml:2:1: malformed YAML" in broken.stderr
    assert "Traceback" not in broken.stderr
    write_config(home, f"cache_path: {home / 'one'}\n")
    assert glovebox(home, "cache", "get", "k").stdout == "first\n"


def test_decided_by_names_the_file_line_when_served_from_the_snapshot(home: Path) -> None:
    write_config(home, "cache:\n  domains:\n    layout:\n      strategy: disabled\n")
    first = glovebox(home, "cache", "show")
    assert (home / SNAPSHOT).is_file()
    second = glovebox(home, "cache", "show")
    assert first.returncode == second.returncode == 0
    assert "config.yaml:4" in second.stdout
    assert second.stdout == first.stdout


def test_a_cached_layout_compile_loads_no_compiler_or_rich(home: Path) -> None:
    layout = home / "mine.json"
    layout.write_bytes((REPO_ROOT / "docs/examples/glove80-example.json").read_bytes())
    out = home / "out"
    assert glovebox(home, "layout", "compile", str(layout), str(out)).returncode == 0
    modules, printed = modules_after(home, "layout", "compile", str(layout), str(out))
    assert printed == f"{layout} -> {out / 'mine.keymap'}, {out / 'mine.conf'} (from cache)\n"
    assert loaded(modules, COMPILE_HIT_FORBIDDEN) == []
    assert loaded(modules, CONTAINER_FREE) == []


def test_layout_compile_without_the_cache_builds_no_container_either(home: Path) -> None:
    layout = home / "mine.json"
    layout.write_bytes((REPO_ROOT / "docs/examples/glove80-example.json").read_bytes())
    out = home / "out"
    modules, printed = modules_after(home, "layout", "compile", "--no-cache", str(layout), str(out))
    assert printed.endswith("(compiled)\n")
    # A compile validates the layout with its (pydantic) model; the container is not built.
    assert loaded(modules, CONTAINER) == []
    assert not (home / ".cache" / "glovebox" / "layout").exists()


def test_a_cached_firmware_compile_loads_no_container_or_compilation_stack(
    home: Path, west_log: Path
) -> None:
    layout = home / "mine.json"
    layout.write_bytes((REPO_ROOT / "docs/examples/glove80-example.json").read_bytes())
    out = home / "out"
    first = glovebox(home, "firmware", "compile", str(layout), str(out))
    assert first.returncode == 0, first.stderr
    builds = west_log.read_text(encoding="utf-8")
    modules, printed = modules_after(home, "firmware", "compile", str(layout), str(out))
    assert "firmware: from cache" in printed
    assert west_log.read_text(encoding="utf-8") == builds  # west did not run again
    assert loaded(modules, FIRMWARE_HIT_FORBIDDEN) == []
    assert loaded(modules, CONTAINER_FREE) == []


def test_a_firmware_compile_the_cache_cannot_serve_builds_the_container(
    home: Path, west_log: Path
) -> None:
    layout = home / "mine.json"
    layout.write_bytes((REPO_ROOT / "docs/examples/glove80-example.json").read_bytes())
    modules, printed = modules_after(home, "firmware", "compile", str(layout), str(home / "out"))
    assert "wrote " in printed
    assert "build" in west_log.read_text(encoding="utf-8")
    assert "containers.application" in modules
    assert "glovebox.firmware.service" in modules


def test_importing_the_cache_engine_loads_no_pydantic_models(home: Path) -> None:
    code = "import glovebox.core.cache_v2 as engine; engine.CacheStats(backend='disk', tag='t')"
    assert loaded(modules_imported_by(home, code), ENGINE_FORBIDDEN) == []


def test_every_module_that_injects_is_wired() -> None:
    from containers.bootstrap import WIRED_MODULES, WIRED_PACKAGES

    injecting = {
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        for path in (REPO_ROOT / "glovebox").rglob("*.py")
        if "Provide[" in path.read_text(encoding="utf-8")
    }
    assert "glovebox.cli.injected" in injecting
    unwired = {
        name
        for name in injecting
        if name not in WIRED_MODULES and not name.startswith(tuple(WIRED_PACKAGES))
    }
    assert unwired == set()


def test_version_prints_package_version(home: Path) -> None:
    result = glovebox(home, "--version")
    assert (result.returncode, result.stdout) == (0, f"glovebox {version('glovebox')}\n")


@pytest.mark.parametrize(
    "command",
    [(), ("cache",), ("cache", "get"), ("cache", "workspace"), ("cache", "workspace", "add")],
)
def test_dash_h_is_help_everywhere(home: Path, command: tuple[str, ...]) -> None:
    short = glovebox(home, *command, "-h")
    long = glovebox(home, *command, "--help")
    assert short.returncode == long.returncode == 0
    assert short.stdout == long.stdout
    assert "-h, --help" in short.stdout


def all_commands(home: Path, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path, found by reading the help of each group."""
    yield prefix
    out = glovebox(home, *prefix, "--help").stdout
    if "Commands:" not in out:
        return
    for line in out.split("Commands:", 1)[1].splitlines():
        match = re.match(r"^  (\S+)", line)
        if match:
            yield from all_commands(home, (*prefix, match.group(1)))


def test_help_shows_no_type_tags_and_capital_metavars(home: Path) -> None:
    paths = list(all_commands(home))
    assert ("cache", "workspace", "add") in paths
    for path in paths:
        out = glovebox(home, *path, "--help").stdout
        assert not re.search(r"<(bool|str|path|file|float|int)>", out), (path, out)
        usage = out.splitlines()[0]
        assert "{" not in usage, usage
    get_help = glovebox(home, "cache", "get", "-h").stdout
    assert "Usage: glovebox cache get [OPTIONS] KEY\n" in get_help
    show_help = glovebox(home, "layout", "show", "-h").stdout
    assert "Usage: glovebox layout show [OPTIONS] FILE\n" in show_help
    root = glovebox(home, "--help").stdout
    assert re.search(r"^  --debug +Show", root, re.MULTILINE)
    assert "-c, --config FILE" in root
    assert "-t, --tag TAG" in get_help


def test_config_directory_is_a_one_line_error(home: Path) -> None:
    result = glovebox(home, "--config", str(home), "cache", "get", "k")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --config {home}: is a directory; give a YAML configuration file"
    ]


def test_help_of_a_group_works_with_a_broken_configuration(home: Path) -> None:
    bad = home / "bad.yaml"
    bad.write_text("cache: [\n", encoding="utf-8")
    assert glovebox(home, "--config", str(bad), "cache", "--help").returncode == 0
    result = glovebox(home, "--config", str(bad), "cache", "get", "k")
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_validation_errors_have_no_pydantic_prefix(home: Path) -> None:
    result = glovebox(home, "cache", "workspace", "show", "-r", "bad repo", "-b", "main")
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid workspace selection: repository 'bad repo'")
    assert "Value error" not in result.stderr
    both = glovebox(home, "cache", "workspace", "show", "-r", "zmkfirmware/zmk")
    assert both.returncode == 2
    assert "Value error" not in both.stderr
    assert "exactly one of 'branch'" in both.stderr


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_ctrl_c_at_a_prompt_exits_130_with_one_line(home: Path) -> None:
    assert glovebox(home, "cache", "set", "k", "v").returncode == 0
    process = subprocess.Popen(
        [str(GLOVEBOX), "cache", "clear"],
        env=env_for(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        first = process.stdout.read(len("Remove everything"))
        assert first == "Remove everything"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(TIMEOUT)
    assert process.returncode == 130
    assert err.strip().splitlines() == ["glovebox: interrupted"]
    assert glovebox(home, "cache", "get", "k").stdout == "v\n"


SELECT = ("-r", "zmkfirmware/zmk", "-b", "main")
SLOW_EXTRACT = """
import os, tarfile, time
_extractall = tarfile.TarFile.extractall
def _slow(self, *args, **kwargs):
    _extractall(self, *args, **kwargs)
    open(os.environ["GLOVEBOX_TEST_MARKER"], "w").close()
    time.sleep(120)
tarfile.TarFile.extractall = _slow
"""


def test_ctrl_c_during_a_workspace_import_caches_nothing(home: Path, tmp_path: Path) -> None:
    import tarfile

    source = tmp_path / "ws"
    (source / "zmk").mkdir(parents=True)
    (source / "zmk" / "README").write_text("zmk\n", encoding="utf-8")
    archive = tmp_path / "ws.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(source, arcname="ws")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SLOW_EXTRACT, encoding="utf-8")
    marker = tmp_path / "extracting"
    env = env_for(home, PYTHONPATH=str(hooks), GLOVEBOX_TEST_MARKER=str(marker))
    process = subprocess.Popen(
        [str(GLOVEBOX), "cache", "workspace", "add", str(archive), *SELECT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(marker.exists, "the import to reach extraction")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(TIMEOUT)
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == (
        "glovebox: interrupted: nothing was cached (the partial workspace was removed)"
    )
    assert "Traceback" not in err
    listing = glovebox(home, "cache", "workspace", "list")
    assert listing.returncode == 0
    assert "ZMK workspaces (0)" in listing.stdout
