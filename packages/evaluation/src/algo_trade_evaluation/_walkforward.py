"""The walk-forward study: select at every ``t_k`` on the past only, trade ``[t_k, t_{k+1})`` out of sample.

:func:`run_walkforward` returns the periods (approved tokens, turnover, IC, returns of the rule and its
baselines) and a summary with the statistics that say whether the rule beats luck. The semantics are
in ``docs/walkforward.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from algo_trade_core import (
    bars_per_year,
    min_track_record_length,
    probabilistic_sharpe_ratio,
)
from algo_trade_data import BacktestResultRecord, RunTrials
from algo_trade_evaluation._bars import TokenBars
from algo_trade_evaluation._by_regime import regime_split
from algo_trade_evaluation._desk import BarGrid, BookTables, Plans, SleeveRun, book_tables, run_sleeves
from algo_trade_evaluation._random import RandomBaseline, random_baseline
from algo_trade_evaluation._ranks import IcSummary, Turnover, ic_summary, spearman, turnover
from algo_trade_evaluation._select import (
    SelectionStep,
    WindowResults,
    backtest_at,
    decide_at,
    walkforward_job,
)
from algo_trade_evaluation._series import SeriesStats, bar_returns, series_stats
from algo_trade_evaluation._settings import WalkForwardSettings

if TYPE_CHECKING:
    from algo_trade_evaluation._optimised import OptimisedStudy

__all__ = [
    "PeriodResult",
    "WalkForwardResult",
    "decisions",
    "run_walkforward",
    "selection_returns",
    "selection_steps",
    "window_results",
]

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(slots=True)
class PeriodResult:
    """One re-selection period ``[start, end)``."""

    start: datetime
    end: datetime
    approved: tuple[str, ...]
    fallback: bool
    skipped: str | None  # why no selection was made (the list in force stays)
    turnover: Turnover
    ic: float | None
    selection_return: float
    universe_return: float
    random_median_return: float | None
    token_returns: dict[str, float]  # out-of-sample return of a bot started at `start` (eligible tokens)
    approved_pnl: dict[str, float]  # profit and loss of each approved token's bot over the period
    scores: dict[str, float]
    missing: dict[str, str]  # tokens without a result at `start`, and why
    # each token's volatility regime at `start` (None: too little history), from bars before `start`
    regimes: dict[str, str | None] = field(default_factory=dict)
    # with --optimise: each token's choice at `start` (strategy, parameters, N, DSR, in-sample Sharpe, PBO)
    choices: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "approved": list(self.approved),
            "fallback": self.fallback,
            "skipped": self.skipped,
            "turnover": self.turnover.jaccard_distance,
            "added": list(self.turnover.added),
            "removed": list(self.turnover.removed),
            "ic": self.ic,
            "selection_return": self.selection_return,
            "universe_return": self.universe_return,
            "random_median_return": self.random_median_return,
            "token_returns": self.token_returns,
            "approved_pnl": self.approved_pnl,
            "scores": self.scores,
            "missing": self.missing,
            "regimes": self.regimes,
        }
        if self.choices:
            out["choices"] = self.choices
        return out


@dataclass(slots=True)
class WalkForwardResult:
    """A finished study: settings, periods, the equity curves and the summary."""

    settings: WalkForwardSettings
    periods: list[PeriodResult]
    grid: BarGrid
    selection: SleeveRun
    universe: SleeveRun
    buy_hold_equity: FloatArray
    random: RandomBaseline
    stats: dict[str, SeriesStats]
    ic: IcSummary
    statistics: dict[str, Any]
    seconds: float
    steps: list[SelectionStep] = field(default_factory=list, repr=False)
    optimisation: OptimisedStudy | None = field(default=None, repr=False)  # --optimise

    @property
    def verdict(self) -> str:
        text = self._verdict()
        if self.optimisation is not None:
            text += self.optimisation.sentence(self)
        return text

    def _verdict(self) -> str:
        """Plain sentences: did selecting by backtest beat the universe and luck out of sample, and does
        it make money with confidence?"""
        sel, uni = self.stats["selection"], self.stats["universe"]
        pct, p = self.statistics.get("random_percentile"), self.statistics.get("random_p_value")
        psr, psr_rel = self.statistics.get("psr"), self.statistics.get("psr_vs_universe")
        vs_universe = "beat" if sel.total_return > uni.total_return else "did not beat"
        text = (
            f"Out of sample over {len(self.periods)} period(s) the selection returned "
            f"{sel.total_return:+.2%} and {vs_universe} trading every token ({uni.total_return:+.2%})"
        )
        if pct is not None and p is not None:
            text += f", ranking at the {pct:.0%} percentile of {self.random.draws} random picks (p = {p:.3f})"
        picks_better = p is not None and p < 0.05 and psr_rel is not None and psr_rel > 0.95
        text += (
            ". It picks better than chance."
            if picks_better
            else ". Its picks are not distinguishable from luck."
        )
        if psr is None:
            return text + " Whether it makes money is not established (too few returns for a PSR)."
        if psr > 0.95:
            return text + f" It makes money with confidence (PSR {psr:.2f} that its Sharpe > 0)."
        return text + (
            f" Whether it makes money at all is not established (PSR {psr:.2f} that its Sharpe > 0; 0.95 "
            "needed)."
        )

    def summary_json(self) -> dict[str, Any]:
        out = {
            **{name: s.to_json() for name, s in self.stats.items()},
            "random": self.random.summary(),
            "mean_ic": self.ic.mean,
            "ic_t_stat": self.ic.t_stat,
            "ic_periods": self.ic.periods,
            "hit_rate": self.statistics.get("hit_rate"),
            "random_percentile": self.statistics.get("random_percentile"),
            "mean_turnover": self.statistics.get("mean_turnover"),
            "by_regime": {key: split.to_json() for key, split in regime_split(self.periods).items()},
            "verdict": self.verdict,
            "seconds": self.seconds,
        }
        if self.optimisation is not None:
            out["optimisation"] = self.optimisation.summary_json(self)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings.to_json(),
            "summary": self.summary_json(),
            "periods": [p.to_json() for p in self.periods],
            "statistics": self.statistics,
        }


def _boundary_returns(values: FloatArray) -> list[float]:
    return [float(v) for v in values[1:] / values[:-1] - 1.0]


def _buy_hold(bars: Mapping[str, TokenBars], grid: BarGrid, capital: float) -> FloatArray:
    """Equal weight of every token with a bar in the grid, bought at the open of its first bar."""
    times = grid.times_ms()
    curves = []
    for tb in bars.values():
        lo = tb.index_at(int(times[0]))
        hi = tb.index_at(int(times[-1]) + grid.step_ms)
        if hi <= lo:
            continue
        idx = np.searchsorted(tb.ts[lo:hi], times, side="right") - 1  # last bar opened at or before
        closes = tb.close[lo:hi]
        value = np.where(idx >= 0, closes[np.maximum(idx, 0)] / tb.open[lo], 1.0)
        curves.append(value)
    if not curves:
        return np.full(grid.n, capital)
    return np.asarray(capital * np.mean(curves, axis=0), dtype=np.float64)


def _statistics(
    sel: SeriesStats, uni: SeriesStats, random: RandomBaseline, periods: list[PeriodResult], interval: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"returns_on": f"{sel.bars} out-of-sample {interval} bars"}
    try:
        out["psr"] = probabilistic_sharpe_ratio(sel.sharpe_per_bar, 0.0, sel.bars, sel.skewness, sel.kurtosis)
        out["psr_vs_universe"] = probabilistic_sharpe_ratio(
            sel.sharpe_per_bar, uni.sharpe_per_bar, sel.bars, sel.skewness, sel.kurtosis
        )
        bars = min_track_record_length(sel.sharpe_per_bar, 0.0, sel.skewness, sel.kurtosis, 0.95)
        out["min_track_record_bars"] = None if math.isinf(bars) else bars
        out["min_track_record_days"] = None if math.isinf(bars) else bars / bars_per_year(interval) * 365.0
    except ValueError as exc:  # too few returns, or moments outside the formula's domain
        out["psr"] = out["psr_vs_universe"] = None
        out["psr_error"] = str(exc)
    out["dsr"] = None  # a single rule: nothing to deflate (a --grid study sets it)
    out["pbo"] = None
    percentile, p_value = random.percentile_of(sel.total_return)
    out["random_percentile"], out["random_p_value"] = percentile, p_value
    decided = [p for p in periods if p.end > p.start]
    out["hit_rate"] = (
        float(np.mean([p.selection_return > p.universe_return for p in decided])) if decided else None
    )
    out["mean_turnover"] = (
        float(np.mean([p.turnover.jaccard_distance for p in periods[1:]])) if len(periods) > 1 else None
    )
    return out


def run_walkforward(
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    *,
    steps: list[SelectionStep] | None = None,
    tables: BookTables | None = None,
    universe: SleeveRun | None = None,
    progress: Progress | None = None,
    plans: Plans | None = None,
) -> WalkForwardResult:
    """Run the study on ``bars`` (each token's history, see :func:`~algo_trade_evaluation.load_bars`).

    ``steps``, ``tables`` and ``universe`` computed for the same universe, interval, parameters, training
    window and step can be passed in (a rule search shares them between variants that differ only in
    thresholds). ``plans[k][symbol]`` is what each token's bot trades in period ``k`` (per-token
    choices; default: ``settings``' one set), for the selection and every baseline.

    Raises:
        DataError: no token has a bar in the range.
    """
    from algo_trade_core import DataError

    started = time.perf_counter()
    notify = progress or (lambda phase, done, total: None)
    times = settings.times()
    if not any(tb.index_at(times[0]) < tb.index_at(settings.end) for tb in bars.values()):
        raise DataError(
            f"no {settings.interval} bars of {', '.join(settings.symbols)} in "
            f"[{settings.start.isoformat()}, {settings.end.isoformat()}): nothing to evaluate"
        )
    if steps is None:
        steps = selection_steps(bars, settings, times, notify)
    approved = [s.approved for s in steps]
    eligible = [s.eligible for s in steps]
    notify("trading", 0, 3)
    selection = run_sleeves(bars, settings, times, approved, settings.criteria.top_n, plans)
    notify("trading", 1, 3)
    if universe is None:
        universe = run_sleeves(bars, settings, times, eligible, max(len(settings.symbols), 1), plans)
    notify("trading", 2, 3)
    if tables is None:
        tables = book_tables(bars, settings, times, eligible, plans)
    notify("trading", 3, 3)
    random = random_baseline(
        tables,
        eligible,
        [len(a) for a in approved],
        draws=settings.random_draws,
        seed=settings.seed,
        capital=settings.capital,
        sleeves=settings.criteria.top_n,
    )
    grid = selection.grid
    periods_per_year = bars_per_year(settings.interval)
    universe_capital = universe.sleeves * universe.capital
    buy_hold = _buy_hold(bars, grid, universe_capital)
    stats = {
        "selection": series_stats(
            selection.equity,
            selection.sleeves * selection.capital,
            periods_per_year,
            trades=selection.trades,
            fees=selection.fees,
        ),
        "universe": series_stats(
            universe.equity, universe_capital, periods_per_year, trades=universe.trades, fees=universe.fees
        ),
        "buy_hold": series_stats(buy_hold, universe_capital, periods_per_year, trades=0, fees=0.0),
        "cash": series_stats(np.full(grid.n, settings.capital), settings.capital, periods_per_year),
    }
    periods = _periods(settings, times, steps, selection, universe, random, tables)
    ic = ic_summary([p.ic for p in periods])
    statistics = _statistics(stats["selection"], stats["universe"], random, periods, settings.interval)
    return WalkForwardResult(
        settings=settings,
        periods=periods,
        grid=grid,
        selection=selection,
        universe=universe,
        buy_hold_equity=buy_hold,
        random=random,
        stats=stats,
        ic=ic,
        statistics=statistics,
        seconds=time.perf_counter() - started,
        steps=steps,
    )


def window_results(
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    times: list[datetime] | None = None,
    progress: Progress | None = None,
) -> list[WindowResults]:
    """Every token's training-window backtest at every ``t_k`` (each on the bars before ``t_k`` only)."""
    times = times if times is not None else settings.times()
    notify = progress or (lambda phase, done, total: None)
    job = walkforward_job(settings)
    out = []
    for k, t in enumerate(times):
        out.append(backtest_at(t, bars, settings, job))
        notify("selecting", k + 1, len(times))
    return out


def decisions(windows: list[WindowResults], settings: WalkForwardSettings) -> list[SelectionStep]:
    """The selector's decision at every ``t_k`` on the windows' results, with ``settings.criteria``."""
    latest: dict[str, BacktestResultRecord] = {}
    trials: dict[tuple[str, str], RunTrials] = {}
    steps: list[SelectionStep] = []
    previous: tuple[str, ...] = ()
    for window in windows:
        step = decide_at(window, settings, latest, previous, trials)
        steps.append(step)
        previous = step.approved
    return steps


def selection_steps(
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    times: list[datetime] | None = None,
    progress: Progress | None = None,
) -> list[SelectionStep]:
    """The selection at every ``t_k`` (each on the bars before ``t_k`` only)."""
    return decisions(window_results(bars, settings, times, progress), settings)


def _periods(
    settings: WalkForwardSettings,
    times: list[datetime],
    steps: list[SelectionStep],
    selection: SleeveRun,
    universe: SleeveRun,
    random: RandomBaseline,
    tables: BookTables,
) -> list[PeriodResult]:
    sel_returns = _boundary_returns(selection.boundary_equity(times))
    uni_returns = _boundary_returns(universe.boundary_equity(times))
    random_median = random.median_period_returns()
    ends = [*times[1:], settings.end]
    out: list[PeriodResult] = []
    previous: tuple[str, ...] = ()
    for k, step in enumerate(steps):
        token_returns = {}
        for symbol in step.eligible:
            value = tables.period_return(symbol, k, settings.capital)
            if value is not None:
                token_returns[symbol] = value
        ic = None
        if step.selection is not None:
            common = [s for s in step.scores if s in token_returns]
            ic = spearman([step.scores[s] for s in common], [token_returns[s] for s in common])
        out.append(
            PeriodResult(
                start=times[k],
                end=ends[k],
                approved=step.approved,
                fallback=step.fallback,
                skipped=step.skipped,
                turnover=turnover(previous, step.approved),
                ic=ic,
                selection_return=sel_returns[k],
                universe_return=uni_returns[k],
                random_median_return=random_median[k],
                token_returns=token_returns,
                approved_pnl={
                    s: selection.token_pnl[s][k] for s in step.approved if s in selection.token_pnl
                },
                scores=dict(step.scores),
                missing=dict(step.missing),
                regimes=dict(step.regimes),
            )
        )
        previous = step.approved
    return out


def selection_returns(result: WalkForwardResult) -> FloatArray:
    """Per-bar out-of-sample returns of the selection (the series its PSR stands on)."""
    return bar_returns(result.selection.equity, result.selection.sleeves * result.selection.capital)
