"""Read-only views the web dashboard needs and the CLI did not: one token's metrics across sweeps in
one scope, and whether the store knows a token at all (for a 404 that says what was not found)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from algo_trade_data._db_base import _DatabaseBase
from algo_trade_data._records import BacktestResultRecord

__all__ = ["DashboardMixin", "SymbolPresence"]

_COLS = ", ".join(f.name for f in fields(BacktestResultRecord))
# The newest `limit` results of one token in one scope by window end, served by
# idx_backtest_results_latest_window (strategy, symbol, params_hash, interval, window end DESC); the
# outer query turns them oldest first, a time line.
_METRIC_HISTORY = (
    f"SELECT * FROM (SELECT {_COLS} FROM backtest_results "  # noqa: S608 - identifiers are module constants; values are bound parameters
    "WHERE strategy_name = $1 AND symbol = $2 AND params_hash = $3 AND interval = $4 "
    "ORDER BY backtest_window_end DESC, timestamp DESC LIMIT $5) h "
    "ORDER BY backtest_window_end, timestamp"
)
_METRIC_HISTORY_ANY = (
    f"SELECT * FROM (SELECT {_COLS} FROM backtest_results "  # noqa: S608 - identifiers are module constants; values are bound parameters
    "WHERE symbol = $1 AND ($2::text IS NULL OR strategy_name = $2) "
    "AND ($3::text IS NULL OR params_hash = $3) AND ($4::text IS NULL OR interval = $4) "
    "ORDER BY backtest_window_end DESC, timestamp DESC LIMIT $5) h "
    "ORDER BY backtest_window_end, timestamp"
)
_PRESENCE = (
    "SELECT EXISTS (SELECT 1 FROM backtest_results WHERE symbol = $1) AS results, "
    "EXISTS (SELECT 1 FROM ohlcv WHERE symbol = $1) AS candles, "
    "EXISTS (SELECT 1 FROM bots WHERE symbol = $1) AS bots"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class SymbolPresence:
    """What the store holds for one token: any backtest result, any candle, any bot."""

    results: bool
    candles: bool
    bots: bool

    @property
    def known(self) -> bool:
        return self.results or self.candles or self.bots


class DashboardMixin(_DatabaseBase):
    """Dashboard reads of :class:`~algo_trade_data.DatabaseClient`."""

    async def metric_history(
        self,
        symbol: str,
        strategy_name: str | None = None,
        *,
        params_hash: str | None = None,
        interval: str | None = None,
        limit: int = 400,
    ) -> list[BacktestResultRecord]:
        """Return a token's newest ``limit`` results by backtest window end, oldest first.

        With strategy, parameter set and interval all given (a selection scope) it is one index range
        scan; a ``None`` widens that part of the scope. Several results with the same window end (a
        window swept twice) all appear, in the order they were stored.
        """
        if limit < 1:
            raise ValueError(f"limit: expected >= 1, got {limit}")
        async with self._connection("metric_history") as conn:
            rows: list[Any]
            if strategy_name is not None and params_hash is not None and interval is not None:
                rows = await conn.fetch(_METRIC_HISTORY, strategy_name, symbol, params_hash, interval, limit)
            else:
                rows = await conn.fetch(
                    _METRIC_HISTORY_ANY, symbol, strategy_name, params_hash, interval, limit
                )
        return [BacktestResultRecord(**dict(r)) for r in rows]

    async def symbol_presence(self, symbol: str) -> SymbolPresence:
        """Return whether any result, candle or bot of ``symbol`` is stored (three index probes)."""
        async with self._connection("symbol_presence") as conn:
            row = await conn.fetchrow(_PRESENCE, symbol)
        return SymbolPresence(
            results=bool(row["results"]), candles=bool(row["candles"]), bots=bool(row["bots"])
        )
