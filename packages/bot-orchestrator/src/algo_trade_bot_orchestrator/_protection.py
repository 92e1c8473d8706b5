"""Protections: the rules that stop a live bot by itself (``[bots.protection]``), checked on every bar.

Pure logic, no I/O: :class:`ProtectionMonitor` is fed each bar's mark-to-market equity and the bot's
closed-trade count and answers with the :class:`Trip` s it raises. Everything is incremental, O(1) per
bar whatever the history (running peak for the drawdown, Welford's mean and variance of per-bar returns
for the Sharpe ratio), and its state is a few numbers stored with the bot so a restart keeps measuring
from the bot's start.

Rules (each off until configured):

- ``max_drawdown``: equity at a close is that fraction or more below its peak since the bot started;
- ``min_sharpe`` after ``min_sharpe_after_trades`` closed trades: the annualised Sharpe ratio of the
  per-bar returns (sample standard deviation, ``sqrt(bars per year)``) is below it;
- ``divergence_evaluations``: every ``divergence_every_bars`` bars a :class:`DivergenceJudge` compares
  the live bot with what its backtest promised; each failure raises an ``alert``; that many failures in
  a row raise the ``stop`` (one success resets the count).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from algo_trade_core import ProtectionConfig, bars_per_year

__all__ = [
    "DivergenceJudge",
    "DivergenceVerdict",
    "LiveStats",
    "ProtectionMonitor",
    "Trip",
]

STATE_FORMAT = "algo_trade_bot_orchestrator.ProtectionMonitor/1"


@dataclass(frozen=True, kw_only=True, slots=True)
class LiveStats:
    """What a bot has done since it started, as the protections see it after a bar."""

    bot_id: str
    symbol: str
    strategy: str
    interval: str
    bar_t: int  # open time (epoch ms) of the bar just handled
    bars: int  # live bars measured (warm-up excluded)
    num_trades: int
    equity: float
    initial_capital: float
    peak_equity: float
    drawdown: float  # 1 - equity / peak, >= 0
    sharpe: float | None  # annualised; None before two returns or while the returns do not vary
    mean_return: float = 0.0  # mean per-bar return since the start
    std_return: float | None = None  # their sample standard deviation (None before two)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "bars": self.bars,
            "num_trades": self.num_trades,
            "equity": self.equity,
            "peak_equity": self.peak_equity,
            "drawdown": self.drawdown,
            "sharpe": self.sharpe,
            "mean_return": self.mean_return,
            "std_return": self.std_return,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class DivergenceVerdict:
    """One divergence evaluation: whether the bot is inside what its backtest implies, and why not."""

    ok: bool
    details: Mapping[str, Any] = field(default_factory=dict)


class DivergenceJudge(Protocol):
    """Compares a live bot with its backtest (the tracking package's envelope check plugs in here).

    Called on the bot's task every ``divergence_every_bars`` bars; it must be quick and must not block.
    """

    def __call__(self, stats: LiveStats) -> DivergenceVerdict: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Trip:
    """A protection that fired: ``stop`` ends the bot, ``alert`` is only reported."""

    kind: Literal["stop", "alert"]
    rule: Literal["max_drawdown", "min_sharpe", "divergence"]
    reason: str
    details: Mapping[str, Any]


class ProtectionMonitor:
    """One live bot's protections (see the module docstring).

    Args:
        rules: ``[bots.protection]``.
        interval: the bot's candle interval (annualises the Sharpe ratio).
        initial_capital: the equity the peak starts from.
        judge: the divergence check; without one the divergence rule is not evaluated.
    """

    def __init__(
        self,
        rules: ProtectionConfig,
        *,
        interval: str,
        initial_capital: float,
        judge: DivergenceJudge | None = None,
    ) -> None:
        self.rules = rules
        self._judge = judge
        self._annual = math.sqrt(bars_per_year(interval))
        self._peak = initial_capital
        self._last_equity = initial_capital
        self._n = 0  # returns seen
        self._mean = 0.0
        self._m2 = 0.0  # sum of squared deviations (Welford)
        self._failures = 0  # consecutive failed divergence evaluations
        self._since_evaluation = 0
        self._stopped = False

    @property
    def active(self) -> bool:
        """Whether any rule is on (a monitor without rules costs nothing per bar)."""
        r = self.rules
        return (
            r.max_drawdown > 0
            or r.min_sharpe_after_trades > 0
            or (r.divergence_evaluations > 0 and self._judge is not None)
        )

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def peak(self) -> float:
        """The highest equity at a close since the start (the initial capital at first)."""
        return self._peak

    @property
    def mean_return(self) -> float:
        return self._mean

    @property
    def std_return(self) -> float | None:
        return math.sqrt(self._m2 / (self._n - 1)) if self._n >= 2 else None

    @property
    def drawdown(self) -> float:
        return 1.0 - self._last_equity / self._peak if self._peak > 0 else 0.0

    @property
    def sharpe(self) -> float | None:
        if self._n < 2:
            return None
        variance = self._m2 / (self._n - 1)
        if variance <= 0.0:
            return None
        return self._mean / math.sqrt(variance) * self._annual

    def on_bar(self, equity: float, num_trades: int, stats: Callable[[], LiveStats]) -> list[Trip]:
        """Account for one bar's closing ``equity``; return what fired (at most one stop).

        ``stats`` builds the :class:`LiveStats` only when a rule reports or the judge needs it.
        Once a stop fired the monitor stays quiet (the bot is stopping).
        """
        if self._stopped:
            return []
        if self._last_equity > 0:
            ret = equity / self._last_equity - 1.0
            self._n += 1
            delta = ret - self._mean
            self._mean += delta / self._n
            self._m2 += delta * (ret - self._mean)
        self._last_equity = equity
        if equity > self._peak:
            self._peak = equity
        rules = self.rules
        trips: list[Trip] = []
        if rules.max_drawdown > 0:
            drawdown = self.drawdown
            if drawdown >= rules.max_drawdown:
                trips.append(
                    Trip(
                        kind="stop",
                        rule="max_drawdown",
                        reason=f"drawdown {drawdown:.2%} reached max_drawdown {rules.max_drawdown:.2%}",
                        details={"drawdown": drawdown, "max_drawdown": rules.max_drawdown},
                    )
                )
        if not trips and 0 < rules.min_sharpe_after_trades <= num_trades:
            sharpe = self.sharpe
            if sharpe is not None and sharpe < rules.min_sharpe:
                trips.append(
                    Trip(
                        kind="stop",
                        rule="min_sharpe",
                        reason=f"Sharpe {sharpe:.2f} below min_sharpe {rules.min_sharpe} after "
                        f"{num_trades} trades",
                        details={
                            "sharpe": sharpe,
                            "min_sharpe": rules.min_sharpe,
                            "num_trades": num_trades,
                            "min_sharpe_after_trades": rules.min_sharpe_after_trades,
                        },
                    )
                )
        if not trips and self._judge is not None and rules.divergence_evaluations > 0:
            self._since_evaluation += 1
            if self._since_evaluation >= rules.divergence_every_bars:
                self._since_evaluation = 0
                trips.extend(self._evaluate(stats()))
        if any(t.kind == "stop" for t in trips):
            self._stopped = True
        return trips

    def _evaluate(self, stats: LiveStats) -> list[Trip]:
        assert self._judge is not None
        verdict = self._judge(stats)
        if verdict.ok:
            self._failures = 0
            return []
        self._failures += 1
        needed = self.rules.divergence_evaluations
        details = {**dict(verdict.details), "consecutive_failures": self._failures, "evaluations": needed}
        alert = Trip(
            kind="alert",
            rule="divergence",
            reason=f"divergence check failed ({self._failures} of {needed} in a row)",
            details=details,
        )
        if self._failures < needed:
            return [alert]
        stop = Trip(
            kind="stop",
            rule="divergence",
            reason=f"divergence check failed {self._failures} evaluations in a row",
            details=details,
        )
        return [alert, stop]

    # -- persistence ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "peak": self._peak,
            "last_equity": self._last_equity,
            "n": self._n,
            "mean": self._mean,
            "m2": self._m2,
            "failures": self._failures,
            "since_evaluation": self._since_evaluation,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` (a stored bot resuming).

        Raises:
            ValueError: not a monitor state.
        """
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"protection state: expected format {STATE_FORMAT!r}, got {state.get('format')!r}"
            )
        self._peak = float(state["peak"])
        self._last_equity = float(state["last_equity"])
        self._n = int(state["n"])
        self._mean = float(state["mean"])
        self._m2 = float(state["m2"])
        self._failures = int(state["failures"])
        self._since_evaluation = int(state["since_evaluation"])
