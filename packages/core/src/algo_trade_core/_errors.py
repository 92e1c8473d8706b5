"""The error hierarchy, sorted by what the caller should do.

::

    AlgoTradeError                 root of everything this project raises on purpose
    ├── ConfigError                fix the configuration, then start again (stop)
    ├── DataError                  bad or missing input data: skip this token/file, report it
    │   └── CandleValidationError  one candle (or file row) breaks an OHLCV invariant
    ├── ExchangeError              the exchange misbehaved
    │   ├── RateLimited            HTTP 429 or our own budget: back off, then retry
    │   ├── ExchangeUnavailable    5xx, timeouts, dropped connections: retry with backoff
    │   │   └── ExchangeUnreachable  DNS failure, connection refused: not there; work offline, no retry
    │   └── UnknownSymbol          the exchange does not list (or delisted) this coin: skip it
    └── DatabaseError              the database refused or went away: the batch was rolled back
"""

from __future__ import annotations

__all__ = [
    "AlgoTradeError",
    "CandleValidationError",
    "ConfigError",
    "DataError",
    "DatabaseError",
    "ExchangeError",
    "ExchangeUnavailable",
    "ExchangeUnreachable",
    "RateLimited",
    "UnknownSymbol",
]


class AlgoTradeError(Exception):
    """Root of every error raised on purpose by algo-trade."""


class ConfigError(AlgoTradeError):
    """The configuration is invalid: the message names the file, the key and what was expected."""


class DataError(AlgoTradeError):
    """Input data is bad or missing: the message names the token, interval, file or row."""


class CandleValidationError(DataError):
    """A candle breaks an OHLCV invariant (non-positive price, high below low, negative volume...)."""


class ExchangeError(AlgoTradeError):
    """The exchange answered with an error or with something that is not its API."""


class RateLimited(ExchangeError):
    """The exchange answered 429 (or our own weight budget is exhausted): back off, then retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ExchangeUnavailable(ExchangeError):
    """The exchange answered 5xx, timed out or dropped the connection: retry with backoff."""


class ExchangeUnreachable(ExchangeUnavailable):
    """The exchange's host cannot be reached at all (DNS failure, connection refused, no route).

    Not worth retrying request by request: nothing answers. Skip the exchange (work on stored
    candles) and try again on the next command or cycle.
    """


class UnknownSymbol(ExchangeError):
    """The exchange does not list this coin, or lists it as delisted."""


class DatabaseError(AlgoTradeError):
    """The database refused a statement or went away; the surrounding transaction was rolled back."""
