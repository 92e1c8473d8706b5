"""A bot's report: its reconciliation with the backtest over its bars, and its live path checked against
the envelope of the backtest it was approved on. What ``algo-trade bots report`` prints and draws.

JSON shape (:meth:`BotReport.to_json`)::

    {"bot_id", "symbol", "strategy", "interval", "state",
     "live_from": ISO time, "live_from_note": str,       # where the live bars start and how it is known
     "reconciliation": Reconciliation.to_json(),         # status, trades matched/missed/extra, lags,
                                                         # slippage and fee paid vs modelled, PnL gap, gaps
     "basis": str | null,                                # which backtest the envelope stands on
     "envelope": Envelope.to_json() | null,              # null: no stored result to judge by
     "divergence": DivergenceCheck.to_json() | null}     # ok, reasons with numbers, every figure
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
from loguru import logger

from algo_trade_backtest import run_backtest
from algo_trade_bot_orchestrator import LIVE_STATES, BotConfig
from algo_trade_core import AlgoTradeError, TrackingConfig, ms_to_datetime
from algo_trade_tracking._envelope import (
    DivergenceCheck,
    Envelope,
    LiveTrack,
    check_divergence,
    envelope_of_backtest,
)
from algo_trade_tracking._load import Basis, BotHistory, TrackingStore, load_basis, load_bot_history
from algo_trade_tracking._reconcile import Reconciliation, reconcile

__all__ = [
    "BotReport",
    "bot_envelope",
    "build_report",
    "envelope_band",
    "envelope_of_basis",
    "reconcile_running_bots",
    "report_bot",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class BotReport:
    """One bot measured against its own backtest (see the module docstring)."""

    history: BotHistory
    reconciliation: Reconciliation
    basis: Basis | None
    envelope: Envelope | None
    live: LiveTrack
    divergence: DivergenceCheck | None

    @property
    def bot_id(self) -> str:
        return self.history.config.bot_id

    def to_json(self) -> dict[str, Any]:
        cfg = self.history.config
        return {
            "bot_id": cfg.bot_id,
            "symbol": cfg.symbol,
            "strategy": cfg.strategy,
            "interval": cfg.interval,
            "state": self.history.record.state,
            "live_from": ms_to_datetime(self.reconciliation.live_from_ms).isoformat(),
            "live_from_note": self.history.warmup_end_note,
            "reconciliation": self.reconciliation.to_json(),
            "basis": None if self.basis is None else self.basis.note,
            "envelope": None if self.envelope is None else self.envelope.to_json(),
            "divergence": None if self.divergence is None else self.divergence.to_json(),
        }


def build_report(
    history: BotHistory, basis: Basis | None, settings: TrackingConfig, *, seed: int = 0
) -> BotReport:
    """Reconcile the bot and check it against the envelope of ``basis`` (pure: no I/O).

    Raises:
        ValueError: the bot's fills cannot be paired, or the bars are invalid (from :func:`reconcile`).
    """
    cfg = history.config
    rec = reconcile(
        cfg,
        history.bars,
        history.fills,
        warmup_end_ms=history.warmup_end_ms,
        last_bar_ms=history.last_bar_ms,
        bars_seen=history.bars_seen,
    )
    last = history.last_bar_ms
    fills = history.fills
    closed = int(
        ((fills.reason != 0) & (fills.t <= (last if last is not None else fills.t.max(initial=0)))).sum()
    )
    live = LiveTrack(equity=rec.live_equity, capital=cfg.execution.initial_capital, trades=closed)
    envelope = (
        None if basis is None else envelope_of_basis(cfg, basis, settings, max(live.bars, 1), seed=seed)
    )
    check = None if envelope is None else check_divergence(envelope, live)
    return BotReport(
        history=history, reconciliation=rec, basis=basis, envelope=envelope, live=live, divergence=check
    )


def envelope_of_basis(
    config: BotConfig, basis: Basis, settings: TrackingConfig, horizon_bars: int, *, seed: int = 0
) -> Envelope | None:
    """The envelope of the backtest ``basis`` re-run with the bot's execution (None: fewer than 2 bars)."""
    b = basis.bars
    if b.t.shape[0] < 2:
        return None
    result = run_backtest(
        b.t,
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
        strategy=config.strategy,  # type: ignore[arg-type]  # validated by BotConfig
        params=dict(basis.result.parameters or config.parameters),
        execution=config.execution,
        interval=config.interval,
    )
    return envelope_of_backtest(result, settings, horizon_bars=horizon_bars, basis=basis.note, seed=seed)


async def bot_envelope(
    db: TrackingStore, bot_id: str, settings: TrackingConfig, *, horizon_bars: int, seed: int = 0
) -> Envelope | None:
    """The envelope a running bot is checked against (what a protection builds once per bot and passes to
    :func:`~algo_trade_tracking.check_divergence` on each evaluation); None without a stored result.

    Raises:
        DataError: no such bot, or its row cannot be replayed.
    """
    history = await load_bot_history(db, bot_id)
    basis = await load_basis(db, history.config, history.start)
    return (
        None if basis is None else envelope_of_basis(history.config, basis, settings, horizon_bars, seed=seed)
    )


async def report_bot(db: TrackingStore, bot_id: str, settings: TrackingConfig, *, seed: int = 0) -> BotReport:
    """Read a bot and the backtest it was approved on from the database, and build its report.

    Raises:
        DataError: no such bot, or its row cannot be replayed (the message names the bot).
    """
    history = await load_bot_history(db, bot_id)
    basis = await load_basis(db, history.config, history.start)
    return build_report(history, basis, settings, seed=seed)


async def reconcile_running_bots(db: TrackingStore) -> list[Reconciliation]:
    """Reconcile every bot a daemon runs (after each sweep), logging what differs; never raises.

    A bot that differs from its backtest is logged as a warning with the bar where it starts; missing
    bars as information (the store's gap, not the bot's fault); a bot that cannot be replayed (no
    stored configuration, unpairable fills) as a warning. The engine work runs in a worker thread so
    the bots' event loop keeps handling bars.
    """
    out: list[Reconciliation] = []
    for record in await db.list_bots():
        if record.state not in LIVE_STATES or not record.position:
            continue
        try:
            h = await load_bot_history(db, record.bot_id)
            rec = await asyncio.to_thread(
                reconcile,
                h.config,
                h.bars,
                h.fills,
                warmup_end_ms=h.warmup_end_ms,
                last_bar_ms=h.last_bar_ms,
                bars_seen=h.bars_seen,
            )
        except (AlgoTradeError, ValueError) as exc:
            logger.warning("bot {}: reconciliation impossible: {}", record.bot_id, exc)
            continue
        if rec.status == "diverged":
            logger.warning("bot {}: reconciliation: {}", rec.bot_id, rec.message)
        elif rec.status == "missing_bars":
            logger.info("bot {}: reconciliation: {}", rec.bot_id, rec.message)
        else:
            logger.debug("bot {}: reconciliation: {}", rec.bot_id, rec.message)
        out.append(rec)
    return out


def envelope_band(envelope: Envelope, bars: int) -> dict[str, np.ndarray]:
    """The envelope's curves at every live bar 1..``bars`` (for plots)."""
    x = np.arange(1, bars + 1, dtype=np.float64)
    h = envelope.horizons.astype(np.float64)
    return {
        name: np.interp(x, h, getattr(envelope, name))
        for name in ("drawdown_limit", "trades_low", "trades_high", "growth_low", "growth_mid", "growth_high")
    }
