"""The test kit: everything tests and benchmarks need, kept apart from the product's API.

::

    from algo_trade_data.testing import FakeHyperliquid, real_candles, temporary_client, wait_for

- throw-away databases on the local cluster (:func:`temporary_client`, :func:`temporary_database`,
  :func:`truncate_tables`);
- a fake Hyperliquid: a real aiohttp server on 127.0.0.1 speaking the REST and WebSocket API, with
  limits and fault injection (:class:`FakeHyperliquid`, :class:`FakeWebSocketFeed`), a manual clock
  and generated candles;
- :func:`wait_for`: poll a condition with a deadline instead of sleeping a guessed time;
- real candles from the shared data folder (:func:`real_candles`, :func:`real_candle_arrays`,
  :func:`hyperliquid_file`), skipping the test when the folder is absent.

Importing this package loads ``aiohttp.web``; the product never imports it.
"""

from algo_trade_data.testing._database import (
    ADMIN_URL_ENV,
    TABLES,
    default_admin_url,
    resolve_admin_url,
    temporary_client,
    temporary_database,
    truncate_tables,
)
from algo_trade_data.testing._fake_exchange import (
    DEFAULT_MARKETS,
    FakeHyperliquid,
    FakeMarket,
    FaultKind,
    LoggedRequest,
    ManualClock,
    fake_candles,
)
from algo_trade_data.testing._fake_ws import FakeWebSocketFeed
from algo_trade_data.testing._polling import wait_for
from algo_trade_data.testing._real_candles import (
    SHARED_DATA_ENV,
    hyperliquid_file,
    real_candle_arrays,
    real_candles,
    shared_data_dir,
)

__all__ = [
    "ADMIN_URL_ENV",
    "DEFAULT_MARKETS",
    "SHARED_DATA_ENV",
    "TABLES",
    "FakeHyperliquid",
    "FakeMarket",
    "FakeWebSocketFeed",
    "FaultKind",
    "LoggedRequest",
    "ManualClock",
    "default_admin_url",
    "fake_candles",
    "hyperliquid_file",
    "real_candle_arrays",
    "real_candles",
    "resolve_admin_url",
    "shared_data_dir",
    "temporary_client",
    "temporary_database",
    "truncate_tables",
    "wait_for",
]
