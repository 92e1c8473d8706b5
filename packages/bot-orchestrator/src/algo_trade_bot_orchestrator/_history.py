"""Closed bars from the past, for warm-ups and for catching up after a restart: the store, then REST."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
from loguru import logger

from algo_trade_bot_orchestrator._config import BotConfig
from algo_trade_bot_orchestrator._memory_feed import FeedBar
from algo_trade_bot_orchestrator._ports import BotStore, CandleSource
from algo_trade_core import interval_to_ms, ms_to_datetime

__all__ = ["bars_frame", "history_bars", "load_history"]

_SCHEMA = {
    "t": pl.Int64,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}


def bars_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``t`` (open time, epoch ms) and float OHLCV columns of a candle frame.

    Accepts the store's and the REST client's frames (``timestamp``) and freqtrade's (``date``).
    """
    if frame.is_empty():
        return pl.DataFrame(schema=_SCHEMA)
    time_col = "timestamp" if "timestamp" in frame.columns else "date"
    times = frame[time_col]
    t = times.dt.epoch("ms") if times.dtype.is_temporal() else times
    return pl.DataFrame(
        {
            "t": t.cast(pl.Int64),
            **{name: frame[name].cast(pl.Float64) for name in ("open", "high", "low", "close", "volume")},
        }
    )


async def load_history(
    config: BotConfig,
    store: BotStore,
    candles: CandleSource | None,
    start_ms: int,
    end_ms: int,
    *,
    now_ms: int,
) -> pl.DataFrame:
    """Return the closed bars of ``config``'s market opening in ``[start_ms, end_ms]``, ascending.

    The store comes first (the hub records every closed bar); when it lacks bars of the window and a
    REST source is given, the exchange tops it up (it keeps only the latest 5000 bars). Every bar that
    comes from REST is written to the store too: they are the bars the hub missed while the process
    was down, and once they leave the exchange's window nothing else has them. A REST failure is
    logged and what the store had is returned; a store that refuses the write is logged too (the
    bars still serve the bot, and the next refresh repairs the hole).
    """
    step = interval_to_ms(config.interval)
    expected = (end_ms - start_ms) // step + 1
    if expected <= 0:
        return bars_frame(pl.DataFrame())
    frame = bars_frame(
        await store.query_candles(
            config.symbol,
            config.interval,
            ms_to_datetime(start_ms),
            ms_to_datetime(end_ms + 1),
            config.exchange,  # the store's end is exclusive
        )
    )
    if frame.height < expected and candles is not None:
        try:
            fetched = await candles.candle_snapshot(
                config.symbol,
                config.interval,
                start_ms,
                end_ms,
                now_ms=now_ms,
            )
        except Exception as exc:  # the store's bars still serve; say why the rest is missing
            logger.warning("bot {}: REST candles unavailable: {!r}", config.bot_id, exc)
        else:
            await _record(config, store, fetched)
            frame = pl.concat([frame, bars_frame(fetched)]).unique("t", keep="first")
    return frame.filter(pl.col("t").is_between(start_ms, end_ms)).sort("t")


async def _record(config: BotConfig, store: BotStore, fetched: pl.DataFrame) -> None:
    """Write bars fetched over REST to the store (the exchange's frame is the store's schema)."""
    if fetched.is_empty() or config.exchange != "hyperliquid":
        return
    try:
        await store.upsert_candles(fetched)
    except Exception as exc:  # the bot trades on; the hole is repaired by the next refresh
        logger.warning("bot {}: could not store {} REST bars: {!r}", config.bot_id, fetched.height, exc)


def history_bars(config: BotConfig, frame: pl.DataFrame) -> Iterator[FeedBar]:
    """Yield the rows of a :func:`bars_frame` as bars of ``config``'s market."""
    for t, o, h, lo, c, v in frame.select("t", "open", "high", "low", "close", "volume").iter_rows():
        yield FeedBar(
            symbol=config.symbol, interval=config.interval, t=t, open=o, high=h, low=lo, close=c, volume=v
        )
