"""Package attributes imported on first use (``containers``, ``glovebox.config``)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_python

# In a fresh interpreter: what importing the package loads, then what one attribute loads.
PROBE = """
import json, sys
import {package} as package
before = sorted(sys.modules)
value = package.{name}
print(json.dumps({{
    "home_loaded_before": {home!r} in before,
    "home_loaded_after": {home!r} in sys.modules,
    "kept": "{name}" in vars(package),
    "same": value is getattr(sys.modules[{home!r}], "{name}"),
    "listed": "{name}" in dir(package),
}}))
"""


@pytest.mark.parametrize(
    ("package", "name", "home"),
    [
        ("containers", "ApplicationContainer", "containers.application"),
        ("glovebox.config", "GloveboxConfig", "glovebox.config.models"),
    ],
)
def test_an_attribute_is_imported_from_its_home_on_first_use(
    package: str, name: str, home: str
) -> None:
    code = PROBE.format(package=package, name=name, home=home)
    result = run_python(code)
    assert json.loads(result.stdout) == {
        "home_loaded_before": False,
        "home_loaded_after": True,
        "kept": True,
        "same": True,
        "listed": True,
    }


@pytest.mark.parametrize("package", ["containers", "glovebox.config"])
def test_an_unknown_attribute_names_the_package(package: str) -> None:
    module = __import__(package, fromlist=["__all__"])
    with pytest.raises(AttributeError, match=rf"module '{package}' has no attribute 'nope'"):
        module.nope  # noqa: B018 - the lookup is what is tested
    assert set(module.__all__) <= set(dir(module))
