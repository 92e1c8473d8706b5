"""The divergence protection's judge: a running bot against the envelope of its own backtest.

:class:`EnvelopeJudge` is the bot-orchestrator's ``DivergenceJudge`` (``[bots.protection]
divergence_evaluations``). It is called on the bot's own task every ``divergence_every_bars`` bars with
the bot's running figures (``LiveStats``), so it reads nothing and draws nothing then: envelopes are built
beforehand (:meth:`EnvelopeJudge.refresh`, which the daemon awaits after every sweep) and looked up by bot
id. Each evaluation applies the checks of :func:`~algo_trade_tracking.check_divergence` that running
figures allow:

- **drawdown**: the bot's drawdown below its peak now against the envelope's ``drawdown_quantile`` of the
  maximum drawdown over the same number of bars (the drawdown now never exceeds the maximum so far, so
  this flags no bot the full check would pass);
- **trade rate**: closed trades outside the envelope's ``trade_rate_low``–``trade_rate_high`` band;
- **PSR** of the live per-bar returns against 0 once ``min_trades_for_psr`` trades are closed, from their
  running mean and standard deviation, i.e. with a normal distribution's moments (skewness 0,
  kurtosis 3): fat left tails make the live PSR of ``bots report`` lower than this one.

The CUSUM needs every bar's return and is left to ``bots report``. A bot without an envelope (no stored
result it could stand on, or not refreshed yet) or past the envelope's horizon passes, and the verdict's
details say why; the next refresh builds a longer envelope.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from loguru import logger

from algo_trade_bot_orchestrator import DivergenceVerdict, LiveStats
from algo_trade_core import AlgoTradeError, TrackingConfig, probabilistic_sharpe_ratio
from algo_trade_tracking._envelope import Envelope
from algo_trade_tracking._report import bot_envelope

if TYPE_CHECKING:
    from collections.abc import Iterable

    from algo_trade_tracking._load import TrackingStore

__all__ = ["EnvelopeJudge"]

# 7 days of 1m bars: a bot's first envelope; one that outlives it gets one twice as long at a refresh.
DEFAULT_HORIZON_BARS = 10_080


class EnvelopeJudge:
    """Judge running bots against the envelopes of their backtests (see the module docstring).

    Args:
        settings: ``[bots.tracking]``.
        horizon_bars: the span of a bot's first envelope, in bars.
    """

    def __init__(self, settings: TrackingConfig, *, horizon_bars: int = DEFAULT_HORIZON_BARS) -> None:
        self.settings = settings
        self._horizon = horizon_bars
        self.envelopes: dict[str, Envelope | None] = {}  # None: no stored result to stand on
        self._bars: dict[str, int] = {}  # bars each bot had at its latest evaluation

    def needs_envelope(self, bot_id: str) -> bool:
        """Whether :meth:`refresh` would build ``bot_id``'s envelope (none yet, or 80 % of it used)."""
        if bot_id not in self.envelopes:
            return True
        envelope = self.envelopes[bot_id]
        return envelope is not None and self._bars.get(bot_id, 0) > 0.8 * envelope.horizon_bars

    async def refresh(self, db: TrackingStore, bot_ids: Iterable[str]) -> None:
        """Build the envelope of every bot in ``bot_ids`` that has none or is near its end; forget the
        others. A bot whose row or result cannot be read is logged and passes until the next refresh."""
        wanted = set(bot_ids)
        for gone in set(self.envelopes) - wanted:
            self.envelopes.pop(gone, None)
            self._bars.pop(gone, None)
        for bot_id in sorted(wanted):
            if not self.needs_envelope(bot_id):
                continue
            horizon = max(self._horizon, 2 * self._bars.get(bot_id, 0))
            try:
                self.envelopes[bot_id] = await bot_envelope(db, bot_id, self.settings, horizon_bars=horizon)
            except (AlgoTradeError, ValueError) as exc:
                logger.warning("divergence envelope of bot {}: {}", bot_id, exc)
                self.envelopes.pop(bot_id, None)

    def __call__(self, stats: LiveStats) -> DivergenceVerdict:
        self._bars[stats.bot_id] = stats.bars
        envelope = self.envelopes.get(stats.bot_id)
        if envelope is None:
            why = "not built yet" if stats.bot_id not in self.envelopes else "no stored backtest result"
            return DivergenceVerdict(ok=True, details={"skipped": f"no envelope: {why}"})
        if stats.bars > envelope.horizon_bars:
            return DivergenceVerdict(
                ok=True,
                details={
                    "skipped": f"beyond the envelope's {envelope.horizon_bars} bars (rebuilt next sweep)"
                },
            )
        return judge_stats(envelope, stats)


def judge_stats(envelope: Envelope, stats: LiveStats) -> DivergenceVerdict:
    """The drawdown, trade-rate and PSR checks of ``stats`` against ``envelope`` (module docstring)."""
    s = envelope.settings
    n = stats.bars
    limits = envelope.at(n) if n > 0 else envelope.at(1)
    reasons: list[dict[str, Any]] = []
    if stats.drawdown > limits["drawdown_limit"]:
        reasons.append(
            {
                "kind": "drawdown",
                "value": stats.drawdown,
                "limit": limits["drawdown_limit"],
                "message": f"live drawdown {stats.drawdown:.2%} beyond the backtest's "
                f"{s.drawdown_quantile:.0%} quantile {limits['drawdown_limit']:.2%} over {n} bars",
            }
        )
    low, high = limits["trades_low"], limits["trades_high"]
    if not low <= stats.num_trades <= high:
        reasons.append(
            {
                "kind": "trade_rate",
                "value": float(stats.num_trades),
                "limit": low if stats.num_trades < low else high,
                "message": f"{stats.num_trades} closed trades in {n} bars, outside the backtest's "
                f"{s.trade_rate_low:.0%}–{s.trade_rate_high:.0%} band {low:.1f}–{high:.1f}",
            }
        )
    psr = None
    sd = stats.std_return
    if stats.num_trades >= s.min_trades_for_psr and sd is not None and sd > 0.0 and n >= 2:
        psr = probabilistic_sharpe_ratio(stats.mean_return / sd, 0.0, n, 0.0, 3.0)
        if math.isfinite(psr) and psr < s.psr_threshold:
            reasons.append(
                {
                    "kind": "psr",
                    "value": psr,
                    "limit": s.psr_threshold,
                    "message": f"PSR {psr:.3f} < {s.psr_threshold} (normal moments): the live Sharpe ratio "
                    f"is probably not above 0 after {stats.num_trades} trades",
                }
            )
    details: dict[str, Any] = {
        "basis": envelope.basis,
        "bars": n,
        "limits": limits,
        "psr": psr,
        "reasons": reasons,
    }
    return DivergenceVerdict(ok=not reasons, details=details)
