"""The rules every suite runs under (root pyproject.toml and conftest.py): deadlines, warnings, xfail."""

from __future__ import annotations

import warnings

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
