"""Secrets never printed: the keys that hold one say so, and a copy of the configuration hides them."""

from __future__ import annotations

import dataclasses

import pytest

from algo_trade_core import (
    REDACTED,
    AppConfig,
    DatabaseConfig,
    ServerConfig,
    config_to_dict,
    load_config,
    redact_config,
    redact_secret,
    redact_url,
)
from algo_trade_core._schema import field_specs


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:s3cret@db:5432/algo", "postgresql://bob:***@db:5432/algo"),
        ("postgresql://bob:p%40ss%3Aw0rd@db/algo", "postgresql://bob:***@db/algo"),  # encoded @ and :
        ("postgresql://bob:pa@ss@db/algo", "postgresql://bob:***@db/algo"),  # a raw @ in the password
        ("postgresql://bob:@db/algo", "postgresql://bob:***@db/algo"),  # an empty password is one too
        (
            "postgresql://bob@db/algo?password=s3cret&sslmode=require",
            "postgresql://bob@db/algo?password=***&sslmode=require",
        ),
        ("postgresql://bob@db/algo", "postgresql://bob@db/algo"),
        (
            "postgresql://algo_trade@127.0.0.1:54329/algo_trade",
            "postgresql://algo_trade@127.0.0.1:54329/algo_trade",
        ),
        ("postgresql://db/algo?sslmode=require", "postgresql://db/algo?sslmode=require"),
    ],
)
def test_redact_url_hides_the_password_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_of_something_that_is_no_url_hides_it_all() -> None:
    assert redact_url("postgresql://bob:x@[::1/algo") == REDACTED  # urlsplit: invalid IPv6 address
    assert redact_url("") == ""


def test_redact_secret_keeps_an_empty_value() -> None:
    assert redact_secret("a-token-of-sixteen-chars") == REDACTED
    assert redact_secret("") == ""


def test_the_secret_keys_are_declared() -> None:
    secret = {
        f"{section.name}.{spec.name}"
        for section in field_specs(AppConfig)
        if section.is_section
        for spec in field_specs(section.type)
        if spec.redact is not None
    }
    assert secret == {"server.token", "database.url"}


def test_redact_config_hides_every_secret_and_keeps_the_rest() -> None:
    token = "tok-0123456789abcdef"
    cfg = load_config(
        None,
        env={
            "ALGO_TRADE__SERVER__TOKEN": token,
            "ALGO_TRADE__DATABASE__URL": "postgresql://bob:s3cret@db/algo",
            "ALGO_TRADE__SERVER__PORT": "9000",
        },
    )
    shown = redact_config(cfg)
    assert shown.server.token == REDACTED
    assert shown.database.url == "postgresql://bob:***@db/algo"
    assert token not in str(config_to_dict(shown))
    assert "s3cret" not in str(config_to_dict(shown))
    # Everything else is the same object tree, and the original keeps its secrets.
    assert dataclasses.replace(shown, server=cfg.server, database=cfg.database) == cfg
    assert shown.server.port == 9000
    assert cfg.server.token == token


def test_redact_config_without_secrets_returns_an_equal_config() -> None:
    cfg = AppConfig(database=DatabaseConfig(url="postgresql://bob@db/algo"), server=ServerConfig())
    assert redact_config(cfg) == cfg
