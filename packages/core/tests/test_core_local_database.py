"""The local database address: one definition, followed by the default configuration and the scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from algo_trade_core import (
    DEFAULT_LOCAL_PORT,
    LOCAL_PORT_ENV,
    AppConfig,
    ConfigError,
    DatabaseConfig,
    load_config,
    local_database_url,
    local_port,
)

REPO = Path(__file__).resolve().parents[3]


def test_the_port_comes_from_the_environment_else_the_default() -> None:
    assert local_port({}) == DEFAULT_LOCAL_PORT == 54329
    assert local_port({LOCAL_PORT_ENV: " 55123 "}) == 55123
    assert (
        local_database_url(env={LOCAL_PORT_ENV: "55123"})
        == "postgresql://algo_trade@127.0.0.1:55123/algo_trade"
    )
    assert local_database_url("postgres", env={}) == "postgresql://algo_trade@127.0.0.1:54329/postgres"


@pytest.mark.parametrize("raw", ["abc", "0", "65536", "-1", "54329x"])
def test_a_bad_port_names_the_variable_and_the_expectation(raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"{LOCAL_PORT_ENV}: expected a port number 1-65535, got '{raw}'"):
        local_port({LOCAL_PORT_ENV: raw})


def test_the_default_database_url_follows_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCAL_PORT_ENV, "55123")
    expected = "postgresql://algo_trade@127.0.0.1:55123/algo_trade"
    assert DatabaseConfig().url == expected
    assert AppConfig().database.url == expected
    # The shipped file leaves the URL to the default, so the port moves it too.
    assert load_config(REPO / "config" / "Config.toml", env={}).database.url == expected
    monkeypatch.delenv(LOCAL_PORT_ENV)
    assert DatabaseConfig().url == "postgresql://algo_trade@127.0.0.1:54329/algo_trade"


def test_an_explicit_url_wins_over_the_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(LOCAL_PORT_ENV, "55123")
    path = tmp_path / "c.toml"
    path.write_text("[database]\nurl = 'postgresql://me@db.internal:5432/trading'\n", encoding="utf-8")
    assert load_config(path, env={}).database.url == "postgresql://me@db.internal:5432/trading"


def test_the_makefile_and_db_script_default_to_the_same_port() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    script = (REPO / "scripts" / "db.sh").read_text(encoding="utf-8")
    assert re.findall(r"^export ALGO_TRADE_PGPORT \?= (\d+)$", makefile, re.M) == [str(DEFAULT_LOCAL_PORT)]
    assert set(re.findall(r"\$\{ALGO_TRADE_PGPORT:-(\d+)\}", script)) == {str(DEFAULT_LOCAL_PORT)}
