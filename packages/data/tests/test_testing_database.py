"""The test kit's admin URL follows the local cluster's address (ALGO_TRADE_PGPORT), like the app's."""

from __future__ import annotations

import pytest

from algo_trade_core import DatabaseConfig
from algo_trade_data.testing import ADMIN_URL_ENV, default_admin_url, resolve_admin_url


def test_the_admin_url_follows_the_local_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADMIN_URL_ENV, raising=False)
    monkeypatch.setenv("ALGO_TRADE_PGPORT", "55123")
    assert default_admin_url() == "postgresql://algo_trade@127.0.0.1:55123/postgres"
    assert resolve_admin_url() == default_admin_url()
    # The same server as the application's default database.
    assert DatabaseConfig().url.rsplit("/", 1)[0] == default_admin_url().rsplit("/", 1)[0]


def test_an_explicit_admin_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGO_TRADE_PGPORT", "55123")
    monkeypatch.setenv(ADMIN_URL_ENV, "postgresql://admin@10.0.0.1:5432/postgres")
    assert resolve_admin_url() == "postgresql://admin@10.0.0.1:5432/postgres"
    assert resolve_admin_url("postgresql://x@y:1/z") == "postgresql://x@y:1/z"
