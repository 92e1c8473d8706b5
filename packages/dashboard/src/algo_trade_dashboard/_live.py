"""A bot against its own backtest: ``bots report --json`` for the bot page, and what its chart draws.

The report is :func:`algo_trade_tracking.report_bot`, the call ``algo-trade bots report`` makes: the
bot's fills reconciled with the backtest over exactly the bars it saw, and its live path checked against
the envelope of the backtest it was approved on. A report reads the bot's bars, re-runs the engine and
bootstraps the envelope (``benchmarks/bench_tracking.py`` prints the dashboard's first and cached
request); it is cached per bot row version (the row is written at each bar the bot handles) for five
minutes at most, so the page and its chart share one computation and a reload does not repeat it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import numpy as np

from algo_trade_core import AlgoTradeError, ms_to_datetime
from algo_trade_dashboard._charts import line
from algo_trade_dashboard._context import Context, NotFound, PageError
from algo_trade_tracking import BotReport, envelope_band, report_bot

__all__ = [
    "NoReport",
    "ReportCache",
    "bot_report",
    "live_vs_backtest",
    "report_chart",
    "report_chart_view",
    "report_view",
]


REPORT_TTL_S = 300.0


class NoReport(PageError):
    """A stored bot whose report cannot be built (no stored configuration, fills that do not pair)."""

    status = 422
    title = "no report"


class ReportCache:
    """The newest ``size`` bot reports, keyed by the bot row they were built from."""

    def __init__(self, size: int = 32) -> None:
        self._items: OrderedDict[tuple[Any, ...], BotReport] = OrderedDict()
        self._size = size

    def get(self, key: tuple[Any, ...]) -> BotReport | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple[Any, ...], value: BotReport) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


async def bot_report(ctx: Context, bot_id: str, cache: ReportCache) -> BotReport:
    """The bot's report (``report_bot`` with ``[bots.tracking]``), from the cache when its row is unchanged.

    Raises:
        NotFound: no such bot.
        NoReport: the bot is stored but its report cannot be built (the message says why).
    """
    record = await ctx.db.get_bot(bot_id)
    if record is None:
        raise NotFound(f"no bot {bot_id!r} is stored (the bots page lists them)")
    # The row changes at each bar the bot handles; candles imported later (a gap filled) or a newer stored
    # result change the report without touching the row: an entry lives REPORT_TTL_S at most.
    key = (
        bot_id,
        record.updated_at,
        record.last_candle_time,
        record.state,
        int(time.monotonic() // REPORT_TTL_S),
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        report = await report_bot(ctx.db, bot_id, ctx.config.bots.tracking)
    except (AlgoTradeError, ValueError) as exc:
        raise NoReport(f"bot {bot_id!r}: no report against its backtest: {exc}") from exc
    cache.put(key, report)
    return report


async def live_vs_backtest(ctx: Context, bot_id: str, cache: ReportCache) -> dict[str, Any]:
    """The bot page's panel: ``{"available": true, "report": bots report --json}``, or why there is none."""
    try:
        report = await bot_report(ctx, bot_id, cache)
    except NoReport as exc:
        return {"available": False, "reason": exc.message}
    return {"available": True, "report": report.to_json()}


async def report_view(ctx: Context, bot_id: str, cache: ReportCache) -> dict[str, Any]:
    """``bots report BOT_ID --json`` (the one object of its list)."""
    return (await bot_report(ctx, bot_id, cache)).to_json()


async def report_chart_view(ctx: Context, bot_id: str, cache: ReportCache) -> dict[str, Any]:
    """The report's curves over the bot's live bars (see :func:`report_chart`)."""
    return report_chart(await bot_report(ctx, bot_id, cache))


def report_chart(report: BotReport) -> dict[str, Any]:
    """The bot's live path against the backtest over the same bars, inside the envelope (pure).

    Every curve is at the close of each live bar, as a fraction of the bot's starting capital: the bot's
    return (from its fills), the backtest's over the same bars, the envelope's 5-95 % band of
    bootstrapped paths and its median; below, the bot's drawdown and the envelope's drawdown limit.
    """
    rec = report.reconciliation
    capital = report.live.capital
    n = int(rec.live_t.shape[0])
    base = {"bot_id": report.bot_id, "capital": capital, "bars": n}
    if n == 0:
        return {
            **base,
            "available": False,
            "reason": f"the bot has no live bar in the store yet ({rec.message})",
        }
    closes = rec.live_t + rec.step_ms
    curves: dict[str, np.ndarray] = {
        "live": rec.live_equity / capital - 1.0,
        "backtest": rec.backtest_equity / capital - 1.0,
    }
    wealth = np.concatenate(([capital], rec.live_equity))
    curves["drawdown"] = (1.0 - wealth / np.maximum.accumulate(wealth))[1:]
    envelope = report.envelope
    if envelope is not None:
        band = envelope_band(envelope, n)
        curves["band_low"] = band["growth_low"] - 1.0
        curves["band_mid"] = band["growth_mid"] - 1.0
        curves["band_high"] = band["growth_high"] - 1.0
        curves["drawdown_limit"] = band["drawdown_limit"]
    series: dict[str, Any] = {}
    downsampled: dict[str, Any] = {}
    for name, values in curves.items():
        series[name], reduction = line(closes, np.asarray(values, dtype=np.float64), name=name)
        downsampled[name] = None if reduction is None else reduction.to_json()
    quantile = None if envelope is None else envelope.settings.drawdown_quantile
    return {
        **base,
        "available": True,
        "series": series,
        "envelope": envelope is not None,
        "drawdown_quantile": quantile,
        "gaps": [
            {
                "start": g.first_ms // 1000,
                "end": (g.first_ms + g.count * rec.step_ms) // 1000,
                "bars": g.count,
            }
            for g in rec.gaps
        ],
        "diverges_at": None if rec.diverges_at_ms is None else rec.diverges_at_ms // 1000,
        "note": _note(report),
        "downsampled": downsampled,
    }


def _note(report: BotReport) -> str:
    rec = report.reconciliation
    start = ms_to_datetime(rec.live_from_ms)
    parts = [f"{rec.live_t.shape[0]} live bar(s) from {start:%Y-%m-%d %H:%M} UTC"]
    if report.envelope is None:
        parts.append("no envelope: no stored result of its symbol and parameters before it started")
    else:
        settings = report.envelope.settings
        parts.append(f"envelope: {settings.bootstrap_samples} bootstrap paths of {report.envelope.basis}")
    if rec.missing_bars:
        parts.append(f"{rec.missing_bars} missing bar(s) in the store")
    return "; ".join(parts)
