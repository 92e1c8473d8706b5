"""The address of the project-local PostgreSQL cluster (``make db-up``): defined once, here.

``scripts/db.sh`` starts the cluster on 127.0.0.1 at ``$ALGO_TRADE_PGPORT`` (default
:data:`DEFAULT_LOCAL_PORT`); the default ``[database] url``, the test kit's admin URL and ``make help``
derive from the same variable, so moving the port moves everything at once. The Makefile and
``scripts/db.sh`` repeat the default port (shell cannot import it); a test keeps them equal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from algo_trade_core._errors import ConfigError

__all__ = [
    "DEFAULT_LOCAL_PORT",
    "LOCAL_DATABASE",
    "LOCAL_HOST",
    "LOCAL_PORT_ENV",
    "LOCAL_USER",
    "local_database_url",
    "local_port",
]

LOCAL_PORT_ENV = "ALGO_TRADE_PGPORT"
DEFAULT_LOCAL_PORT = 54329  # non-standard, so it never collides with a system PostgreSQL on 5432
LOCAL_HOST = "127.0.0.1"
LOCAL_USER = "algo_trade"
LOCAL_DATABASE = "algo_trade"


def local_port(env: Mapping[str, str] | None = None) -> int:
    """Return the local cluster's port: ``$ALGO_TRADE_PGPORT``, else :data:`DEFAULT_LOCAL_PORT`.

    Raises:
        ConfigError: the variable is set but is not a port number (1-65535).
    """
    raw = (os.environ if env is None else env).get(LOCAL_PORT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCAL_PORT
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ConfigError(
            f"environment variable {LOCAL_PORT_ENV}: expected a port number 1-65535, got {raw!r}"
        )
    return port


def local_database_url(database: str = LOCAL_DATABASE, env: Mapping[str, str] | None = None) -> str:
    """Return the URL of ``database`` on the local cluster.

    For example ``postgresql://algo_trade@127.0.0.1:54329/algo_trade`` when ``$ALGO_TRADE_PGPORT`` is unset.
    """
    return f"postgresql://{LOCAL_USER}@{LOCAL_HOST}:{local_port(env)}/{database}"
