"""The rules every suite runs under (root pyproject.toml and conftest.py): deadlines, warnings, xfail."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import pytest


def test_every_test_has_a_deadline_strict_xfail_and_warnings_as_errors(pytestconfig: pytest.Config) -> None:
    assert float(pytestconfig.getini("timeout")) == 300
    assert pytestconfig.getini("xfail_strict") is True
    assert pytestconfig.getini("filterwarnings")[0] == "error"
    with pytest.raises(DeprecationWarning):
        warnings.warn("a warning fails the test that raised it", DeprecationWarning, stacklevel=1)


@pytest.mark.slow
def test_slow_tests_get_the_longer_deadline(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None
    assert marker.args == (900,)


def test_other_tests_keep_the_default_deadline(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("timeout") is None


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "pyproject", sorted(ROOT.glob("packages/*/pyproject.toml")), ids=lambda p: p.parent.name
)
def test_every_package_can_run_its_suite_alone(pyproject: Path) -> None:
    # `make test-pkg` syncs only the package's own dev group; the root options `timeout` and
    # `asyncio_mode` are unknown (an error under --strict-config) without these plugins.
    dev = tomllib.loads(pyproject.read_text(encoding="utf-8"))["dependency-groups"]["dev"]
    names = {re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0] for spec in dev}
    assert {"pytest", "pytest-asyncio", "pytest-timeout"} <= names, f"{pyproject}: dev = {dev}"
