"""Rules every test suite of this repository runs under (`make test` and each `make test-pkg`).

pytest loads this file for any test below the repository root, in the workspace environment and in
each package's own environment alike (which is why it lives here and not in a package: `core`'s
environment has no test kit).

- **Isolation from the user's configuration**: before any test module is imported, the
  ``ALGO_TRADE__*`` overrides and ``ALGO_TRADE_CONFIG`` are removed from ``os.environ``, so no test, and
  no process a test starts (``tests/daemon_child.py``, the CLI in a subprocess), reads the user's
  configuration or connects to the database it names. Tests that need an override set it themselves.
  The local cluster's address (``ALGO_TRADE_PGPORT``, ``ALGO_TRADE_TEST_ADMIN_URL``) is kept: that is
  where the tests create their own throw-away databases.
- **Deadlines**: every test has pytest-timeout's ``timeout`` (root ``pyproject.toml``); tests marked
  ``slow`` get :data:`SLOW_TIMEOUT_S` instead, unless they carry their own ``timeout`` mark.
"""

from __future__ import annotations

import os

import pytest

USER_CONFIG_PREFIX = "ALGO_TRADE__"
USER_CONFIG_FILE = "ALGO_TRADE_CONFIG"
SLOW_TIMEOUT_S = 900

_removed: list[str] = []


def user_configuration_names(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """The variables of ``environ`` that configure the application for the user (sorted)."""
    return sorted(k for k in environ if k.startswith(USER_CONFIG_PREFIX) or k == USER_CONFIG_FILE)


def pytest_configure(config: pytest.Config) -> None:
    for name in user_configuration_names(os.environ):
        del os.environ[name]
        _removed.append(name)


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _removed:
        return None
    return "isolated from the user's configuration: removed " + ", ".join(_removed) + " from the environment"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("timeout"):
        return
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
