"""The I/O shell: a bot's row, fills and bars from the database, and the backtest it is judged by.

Everything else in the package is pure; this module only reads (``bots``, ``fills``, ``ohlcv``,
``backtest_results``) through the data package's client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import polars as pl

from algo_trade_backtest import params_hash
from algo_trade_bot_orchestrator import BotConfig, read_saved, strategy_warmup_bars
from algo_trade_core import ConfigError, DataError, datetime_to_ms, interval_to_ms, ms_to_datetime
from algo_trade_data import BacktestResultRecord, BotRecord, FillColumns
from algo_trade_tracking._reconcile import BarArrays
from algo_trade_tracking._trades import FillArrays

__all__ = ["Basis", "BotHistory", "TrackingStore", "bars_of_frame", "load_basis", "load_bot_history"]


class TrackingStore(Protocol):
    """The slice of ``DatabaseClient`` tracking reads."""

    async def get_bot(self, bot_id: str) -> BotRecord | None: ...

    async def list_bots(self, *, state: str | None = None, symbol: str | None = None) -> list[BotRecord]: ...

    async def query_fill_columns(self, bot_id: str, *, since: datetime | None = None) -> FillColumns: ...

    async def query_candles(
        self, symbol: str, interval: str, start: datetime, end: datetime, exchange: str = ...
    ) -> pl.DataFrame: ...

    async def query_latest_backtest_results(
        self,
        strategy_name: str,
        params_hash: str | None = None,
        *,
        since: datetime | None = None,
        interval: str | None = None,
        symbols: list[str] | None = None,
        until: datetime | None = None,
    ) -> dict[str, BacktestResultRecord]: ...


def bars_of_frame(frame: pl.DataFrame) -> BarArrays:
    """The store's candle frame (``timestamp`` and OHLCV columns) as engine arrays."""
    if frame.is_empty():
        empty = np.zeros(0)
        return BarArrays(np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty)
    t = np.ascontiguousarray(frame["timestamp"].dt.epoch("ms").to_numpy(), dtype=np.int64)
    o, h, lo, c, v = (
        np.ascontiguousarray(frame[name].cast(pl.Float64).to_numpy(), dtype=np.float64)
        for name in ("open", "high", "low", "close", "volume")
    )
    return BarArrays(t, o, h, lo, c, v)


@dataclass(frozen=True, kw_only=True, slots=True)
class BotHistory:
    """What a bot has seen and done, read back from the database."""

    record: BotRecord
    config: BotConfig
    warmup_end_ms: int
    warmup_end_note: str  # "recorded by the bot", or how it was estimated for older rows
    last_bar_ms: int | None
    bars_seen: int
    bars: BarArrays  # the store's bars from the warm-up to the last bar acted on
    fills: FillArrays  # the bot's fills since its warm-up ended

    @property
    def start(self) -> datetime:
        """When the bot started trading: the close of its last warm-up bar."""
        return ms_to_datetime(self.warmup_end_ms + interval_to_ms(self.config.interval))


async def load_bot_history(db: TrackingStore, bot_id: str) -> BotHistory:
    """Read a bot's row, its fills and the bars it has seen.

    Raises:
        DataError: no such bot, or a row without the bot's configuration (the message names the bot).
    """
    record = await db.get_bot(bot_id)
    if record is None:
        raise DataError(f"no bot {bot_id!r} in the database")
    try:
        saved = read_saved(record)
    except (ValueError, ConfigError) as exc:
        raise DataError(f"bot {bot_id}: its stored state cannot be read: {exc}") from None
    if saved.config is None:
        raise DataError(f"bot {bot_id}: the row holds no configuration (position.config), nothing to replay")
    config = saved.config
    step = interval_to_ms(config.interval)
    if saved.warmup_end is not None:
        warmup_end, note = saved.warmup_end, "recorded by the bot"
    else:
        # Rows written before bots recorded it: the bot warmed up to the last bar closed at its creation.
        created = datetime_to_ms(record.created_at)
        warmup_end = created - created % step - step
        note = "estimated from the bot's creation time (the row predates the recorded warm-up end)"
    last = datetime_to_ms(record.last_candle_time) if record.last_candle_time is not None else None
    warmup = max(config.warmup_bars, strategy_warmup_bars(config.strategy, config.parameters))
    first = warmup_end - (warmup - 1) * step
    end = max(last if last is not None else warmup_end, warmup_end)
    frame = await db.query_candles(
        config.symbol, config.interval, ms_to_datetime(first), ms_to_datetime(end + 1), config.exchange
    )
    fills = await db.query_fill_columns(bot_id, since=ms_to_datetime(warmup_end + step))
    try:
        tracked = FillArrays.of_columns(fills)
    except ValueError as exc:
        raise DataError(f"bot {bot_id}: {exc}") from None
    return BotHistory(
        record=record,
        config=config,
        warmup_end_ms=warmup_end,
        warmup_end_note=note,
        last_bar_ms=last,
        bars_seen=saved.bars,
        bars=bars_of_frame(frame),
        fills=tracked,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Basis:
    """The backtest a bot is judged by: the stored result, why this one, and the bars of its window."""

    result: BacktestResultRecord
    note: str
    bars: BarArrays
    same_parameters: bool


async def load_basis(db: TrackingStore, config: BotConfig, start: datetime) -> Basis | None:
    """The result the bot was approved on, with its window's bars; None when there is none.

    Bots do not store which result approved them, so this is the latest result of the bot's symbol,
    strategy, interval and parameter set whose window ended at or before the bot started (what the
    selection that started it saw); failing that, of any parameter set (said in ``note``).
    """
    wanted = params_hash(config.strategy, dict(config.parameters))
    same = True
    found = await db.query_latest_backtest_results(
        config.strategy, wanted, interval=config.interval, symbols=[config.symbol], until=start
    )
    if config.symbol not in found:
        same = False
        found = await db.query_latest_backtest_results(
            config.strategy, None, interval=config.interval, symbols=[config.symbol], until=start
        )
    result = found.get(config.symbol)
    if result is None:
        return None
    note = (
        f"latest {config.strategy} result for {config.symbol} {config.interval} whose window ended before "
        f"the bot started (bots do not record the result that approved them): window "
        f"{result.backtest_window_start.isoformat()} to {result.backtest_window_end.isoformat()}"
        + (f", run {result.run_id}" if result.run_id else "")
    )
    if not same:
        note += f"; its parameters ({result.params_hash}) differ from the bot's ({wanted})"
    frame = await db.query_candles(
        config.symbol,
        config.interval,
        result.backtest_window_start,
        result.backtest_window_end,
        config.exchange,
    )
    return Basis(result=result, note=note, bars=bars_of_frame(frame), same_parameters=same)
