"""Secrets out of everything the product prints: the dashboard token, a database password.

A key holding a secret says so where it is declared (``setting(..., redact=redact_secret)`` or
``redact=redact_url``); :func:`redact_config` returns a copy of a configuration with those values
replaced, for ``config show`` and anything else that prints the configuration. :func:`redact_url`
also serves the messages that name a database.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from algo_trade_core._schema import field_specs

__all__ = ["REDACTED", "redact_config", "redact_secret", "redact_url"]

REDACTED = "***"

T = TypeVar("T")

# Query parameters of a connection URL that carry a secret (libpq and asyncpg accept ?password=).
_SECRET_QUERY_KEYS = frozenset({"password", "sslpassword"})


def redact_secret(value: str) -> str:
    """Return :data:`REDACTED` for a set secret; an empty one (no secret) stays empty."""
    return REDACTED if value else value


def redact_url(url: str) -> str:
    """Return ``url`` with its password (in the address or a ``?password=`` parameter) replaced."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL at all: say nothing of it rather than risk a secret
        return REDACTED if url else url
    netloc = parts.netloc
    if password is not None:
        user_info, _, host = netloc.rpartition("@")
        user = user_info.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            hidden = [(k, REDACTED if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs]
            query = urlencode(hidden, safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_config(config: T) -> T:
    """Return a copy of a configuration dataclass with every secret replaced (for printing only).

    Walks nested sections and lists of them; a key declared with ``redact=`` gets that function's
    result. The copy is not a working configuration: the token no longer authenticates.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return config
    changes: dict[str, Any] = {}
    for spec in field_specs(type(config)):
        value = getattr(config, spec.name)
        if spec.redact is not None:
            hidden = spec.redact(value)
        elif isinstance(value, tuple):
            hidden = tuple(redact_config(v) for v in value)
        else:
            hidden = redact_config(value)
        if hidden != value:
            changes[spec.name] = hidden
    return dataclasses.replace(config, **changes) if changes else config
