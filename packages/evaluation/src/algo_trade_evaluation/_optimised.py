"""The walk-forward with per-token optimisation (``algo-trade walkforward --optimise``).

At every re-selection time ``t_k`` each token's (strategy, parameter set) is chosen on its training
window only, by the optimisation package's own rule
(:func:`~algo_trade_optimisation.choose_per_token`: every set of the space backtested on the bars that
opened in ``[t_k - window_days, t_k)``, the best by score or DSR, deflated for the token's N trials);
the choices become the selection's candidates (:func:`~algo_trade_optimisation.candidate_of`) and the
selector ranks them with the ``[optimisation] min_dsr`` gate
(:func:`~algo_trade_token_selector.evaluate_candidates`), as the daemon does after an optimisation run.
Each approved token's bot then trades its chosen set over ``[t_k, t_{k+1})`` on the walk-forward's
desk (a bot whose chosen set changed is replaced the ``on_remove`` way, as the registry's sync does).

Reported besides the usual study:

- in-sample vs out-of-sample: per (approved token, period) pair with a choice made at ``t_k``, the
  chosen set's Sharpe ratio on its training window against the Sharpe ratio its bot made in the period
  (annualised the same way; the mean of each and their difference); and the same over every token's
  choice (the universe baseline's bots, each trading its token's chosen set), whatever the selection;
- the PBO of each per-token choice: CSCV (:func:`~algo_trade_evaluation.probability_of_backtest_overfitting`)
  over the per-bar returns of the token's trials in the training window (mean, range, how many);
- the same periods with the fixed configured parameter set (the plain walk-forward): return, Sharpe,
  drawdown, PSR and random-baseline percentile side by side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from algo_trade_backtest import prepare_bars
from algo_trade_backtest_scheduler import Window, window_for
from algo_trade_core import OptimisationConfig, bars_per_year, datetime_to_ms
from algo_trade_evaluation._bars import TokenBars
from algo_trade_evaluation._desk import BotPlan, SleeveRun
from algo_trade_evaluation._pbo import PboResult, probability_of_backtest_overfitting
from algo_trade_evaluation._select import SelectionStep, token_regime_at
from algo_trade_evaluation._series import series_stats
from algo_trade_evaluation._settings import WalkForwardSettings

if TYPE_CHECKING:
    from algo_trade_evaluation._walkforward import WalkForwardResult
    from algo_trade_optimisation import Choice, Space
    from algo_trade_token_selector import Candidate

__all__ = [
    "OptimiseSpec",
    "OptimisedStudy",
    "TokenPick",
    "optimised_steps",
    "picks_at",
    "run_optimised_walkforward",
]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class OptimiseSpec:
    """What is searched at every ``t_k``: the space (:func:`~algo_trade_optimisation.plan_space`), the
    ``[optimisation]`` rule (``prefer``, ``min_dsr``) and the CSCV blocks of each token's PBO.

    10 blocks (252 splits; 72 bars a block on a 30-day window of 1h bars) rather than the paper's 16
    (12,870 splits; the rule search's): a PBO is computed for every token at every ``t_k``, and 16
    blocks cost about 2 s each over 400 trials, 25 to 50 times more. Fewer, longer blocks estimate the
    same probability with coarser splits (on generated returns the two differ by a few hundredths).
    """

    space: Space
    optimisation: OptimisationConfig
    pbo_blocks: int = 10
    workers: int | None = None  # threads of each token's grid (default: one per CPU)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategies": list(self.optimisation.strategies),
            "sets": len(self.space),
            "combinations": dict(self.space.combinations),
            "dropped": dict(self.space.dropped),
            "definition": self.space.definition,
            "prefer": self.optimisation.prefer,
            "min_dsr": self.optimisation.min_dsr,
            "pbo_blocks": self.pbo_blocks,
        }


@dataclass(frozen=True, slots=True)
class TokenPick:
    """One token's choice on the training window ending at ``t_k``, and the PBO of making it."""

    symbol: str
    choice: Choice
    window: Window
    num_bars: int
    pbo: PboResult | None
    pbo_error: str | None

    def plan(self) -> BotPlan:
        return BotPlan(self.choice.strategy, dict(self.choice.parameters), self.choice.params_hash)

    def to_json(self) -> dict[str, Any]:
        c = self.choice
        return {
            "strategy": c.strategy,
            "params_hash": c.params_hash,
            "parameters": dict(c.parameters),
            "in_sample_sharpe": c.metrics.get("sharpe_ratio"),
            "score": c.score,
            "n_trials": c.n_trials,
            "dsr": c.dsr,
            "passed_thresholds": c.passed_thresholds,
            "num_bars": self.num_bars,
            "pbo": None if self.pbo is None else self.pbo.pbo,
            "pbo_error": self.pbo_error,
        }


def picks_at(
    t: datetime, bars: dict[str, TokenBars], settings: WalkForwardSettings, spec: OptimiseSpec
) -> tuple[dict[str, TokenPick], dict[str, str]]:
    """Each token's choice on its window ``[t - window_days, t)`` (bars that opened before ``t`` only),
    and why the others have none."""
    from algo_trade_optimisation import choose_per_token

    window = window_for(t, settings.window_days, settings.interval)
    picks: dict[str, TokenPick] = {}
    missing: dict[str, str] = {}
    for symbol in settings.symbols:
        tb = bars.get(symbol)
        if tb is None:
            missing[symbol] = f"no {settings.interval} candles loaded for {symbol}"
            continue
        lo, hi = tb.index_at(window.start), tb.index_at(window.end)
        if hi - lo < 2:
            missing[symbol] = (
                f"{hi - lo} {settings.interval} bar(s) in [{window.start:%Y-%m-%d %H:%M}, "
                f"{window.end:%Y-%m-%d %H:%M}): no choice"
            )
            continue
        try:
            training = prepare_bars(*tb.arrays(lo, hi))
        except ValueError as exc:
            missing[symbol] = f"bad bars in the training window: {exc}"
            continue
        token = choose_per_token(
            training,
            spec.space,
            execution=settings.execution,
            criteria=settings.criteria,
            optimisation=spec.optimisation,
            interval=settings.interval,
            returns=True,
            workers=spec.workers,
        )
        pbo, pbo_error = None, None
        try:
            assert token.returns is not None  # asked for
            pbo = probability_of_backtest_overfitting(token.returns, spec.pbo_blocks)
        except ValueError as exc:
            pbo_error = str(exc)
        picks[symbol] = TokenPick(symbol, token.choice, window, hi - lo, pbo, pbo_error)
    return picks, missing


def _candidate(pick: TokenPick, settings: WalkForwardSettings, t: datetime) -> Candidate:
    from algo_trade_optimisation import candidate_of

    return candidate_of(
        pick.symbol,
        pick.choice,
        window_start=pick.window.start,
        window_end=pick.window.end,
        num_bars=pick.num_bars,
        window_coverage=pick.window.coverage(pick.num_bars),
        interval=settings.interval,
        exchange=settings.exchange,
        capital=settings.capital,
        source=f"walkforward:{t.isoformat()}",
    )


def optimised_steps(
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    spec: OptimiseSpec,
    progress: Progress | None = None,
) -> tuple[list[SelectionStep], list[dict[str, TokenPick]], list[dict[str, BotPlan]]]:
    """At every ``t_k``: each token's choice on its training window, the selection among the choices,
    and what each token's bot trades in period ``k`` (its latest choice).

    As in the live store, a token without a choice at ``t_k`` keeps its latest one, which the freshness
    criterion then rejects; a time at which no token has a choice keeps the list in force (the
    pipeline's "no fresh result changes nothing").
    """
    from algo_trade_token_selector import OPTIMISED, SelectionScope, evaluate_candidates

    notify = progress or (lambda phase, done, total: None)
    scope = SelectionScope(strategy=OPTIMISED, interval=settings.interval, symbols=settings.symbols)
    times = settings.times()
    latest: dict[str, Candidate] = {}
    latest_picks: dict[str, TokenPick] = {}
    steps: list[SelectionStep] = []
    all_picks: list[dict[str, TokenPick]] = []
    plans: list[dict[str, BotPlan]] = []
    previous: tuple[str, ...] = ()
    for k, t in enumerate(times):
        picks, missing = picks_at(t, bars, settings, spec)
        fresh = {s: _candidate(p, settings, t) for s, p in picks.items()}
        latest.update(fresh)
        latest_picks.update(picks)
        step = SelectionStep(
            time=t, approved=previous, fallback=False, selection=None, skipped=None, missing=missing
        )
        step.results = {s: c.result for s, c in fresh.items()}
        # each token's volatility regime at t_k (bars before it), as the plain study reports it
        step.regimes = {s: token_regime_at(bars[s], p.window.end, settings) for s, p in picks.items()}
        if not fresh:
            step.skipped = (
                f"no token has {settings.interval} bars in its training window ending {t:%Y-%m-%d %H:%M}: "
                "the list in force stays"
            )
        else:
            selection = evaluate_candidates(
                latest, settings.criteria, t, min_dsr=spec.optimisation.min_dsr, scope=scope
            )
            step.selection = selection
            step.approved = tuple(selection.approved)
            step.fallback = selection.fallback_used
            step.scores = {tok.symbol: tok.score for tok in selection.tokens}
        steps.append(step)
        all_picks.append(picks)
        plans.append({s: p.plan() for s, p in latest_picks.items()})
        previous = step.approved
        notify("selecting", k + 1, len(times))
    return steps, all_picks, plans


def _period_sharpe(sleeve: SleeveRun, symbol: str, lo_ms: int, hi_ms: int, periods_per_year: float) -> float:
    """Annualised Sharpe ratio of ``symbol``'s bot over the bar closes of ``[lo_ms, hi_ms)``."""
    curve = sleeve.token_curves.get(symbol)
    grid = sleeve.grid
    g0 = max((lo_ms - grid.start_ms) // grid.step_ms, 0)
    g1 = min(-(-(hi_ms - grid.start_ms) // grid.step_ms), grid.n)
    if curve is None or g1 <= g0:
        return math.nan
    before = float(curve[g0 - 1]) if g0 > 0 else 0.0
    equity = sleeve.capital + curve[g0:g1] - before
    return series_stats(np.asarray(equity, dtype=np.float64), sleeve.capital, periods_per_year).sharpe


def _degradation(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean in-sample and out-of-sample Sharpe ratio of ``pairs`` and their difference."""
    kept = [p for p in pairs if math.isfinite(p["out_of_sample_sharpe"])]
    if not kept:
        return {"in_sample_sharpe": None, "out_of_sample_sharpe": None, "degradation": None, "pairs": 0}
    is_sr = float(np.mean([p["in_sample_sharpe"] for p in kept]))
    oos_sr = float(np.mean([p["out_of_sample_sharpe"] for p in kept]))
    return {
        "in_sample_sharpe": is_sr,
        "out_of_sample_sharpe": oos_sr,
        "degradation": oos_sr - is_sr,
        "pairs": len(kept),
    }


def _pairs(
    result: WalkForwardResult, picks: list[dict[str, TokenPick]], sleeve: SleeveRun, approved_only: bool
) -> list[dict[str, Any]]:
    """(period, token) pairs with a choice made at the period's start and a bot in ``sleeve``: the
    chosen set's in-sample Sharpe and its bot's Sharpe over the period."""
    periods_per_year = bars_per_year(result.settings.interval)
    out = []
    for k, period in enumerate(result.periods):
        symbols = period.approved if approved_only else tuple(sorted(picks[k]))
        for symbol in symbols:
            pick = picks[k].get(symbol)
            if pick is None:
                continue
            lo, hi = datetime_to_ms(period.start), datetime_to_ms(period.end)
            out.append(
                {
                    "period": k,
                    "symbol": symbol,
                    "in_sample_sharpe": float(pick.choice.metrics["sharpe_ratio"]),
                    "out_of_sample_sharpe": _period_sharpe(sleeve, symbol, lo, hi, periods_per_year),
                }
            )
    return out


def _spread(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"mean": None, "min": None, "max": None, "count": 0}
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(array.mean()),
        "min": float(array.min()),
        "max": float(array.max()),
        "count": len(values),
    }


@dataclass(slots=True)
class OptimisedStudy:
    """What ``--optimise`` adds to a study: the spec, each period's choices, IS→OOS, PBO, and the
    same periods with the fixed parameter set."""

    spec: OptimiseSpec
    picks: list[dict[str, TokenPick]]
    pairs: list[dict[str, Any]]  # (period, approved token): in-sample and out-of-sample Sharpe
    fixed: WalkForwardResult
    pbo: dict[str, Any] = field(default_factory=dict)
    all_pairs: list[dict[str, Any]] = field(default_factory=list)  # (period, token with a choice)

    @property
    def in_sample_sharpe(self) -> float | None:
        value: float | None = _degradation(self.pairs)["in_sample_sharpe"]
        return value

    @property
    def out_of_sample_sharpe(self) -> float | None:
        value: float | None = _degradation(self.pairs)["out_of_sample_sharpe"]
        return value

    def summary_json(self, optimised: WalkForwardResult) -> dict[str, Any]:
        fixed = self.fixed
        return {
            "spec": self.spec.to_json(),
            **_degradation(self.pairs),
            "every_choice": _degradation(self.all_pairs),
            "pbo": self.pbo,
            "mean_n_trials": float(np.mean([p.choice.n_trials for ps in self.picks for p in ps.values()]))
            if any(self.picks)
            else None,
            "fixed": {
                "params": dict(fixed.settings.params),
                "strategy": fixed.settings.strategy,
                "selection": fixed.stats["selection"].to_json(),
                "universe": fixed.stats["universe"].to_json(),  # every token on the fixed set
                "psr": fixed.statistics.get("psr"),
                "random_percentile": fixed.statistics.get("random_percentile"),
                "random_p_value": fixed.statistics.get("random_p_value"),
                "verdict": fixed.verdict,
            },
            "return_vs_fixed": optimised.stats["selection"].total_return
            - fixed.stats["selection"].total_return,
        }

    def sentence(self, optimised: WalkForwardResult) -> str:
        sel, fix = optimised.stats["selection"], self.fixed.stats["selection"]
        better = "beat" if sel.total_return > fix.total_return else "did not beat"
        text = (
            f" Choosing each token's strategy and parameters on its training window returned "
            f"{sel.total_return:+.2%} (Sharpe {sel.sharpe:.2f}) and {better} the fixed parameter set "
            f"({fix.total_return:+.2%}, Sharpe {fix.sharpe:.2f}) on the same periods"
        )
        is_sr, oos_sr = self.in_sample_sharpe, self.out_of_sample_sharpe
        if is_sr is not None and oos_sr is not None:
            text += (
                f"; the approved tokens' chosen sets had a Sharpe of {is_sr:.2f} in sample and {oos_sr:.2f} "
                "out of sample"
            )
        every = _degradation(self.all_pairs)
        if every["in_sample_sharpe"] is not None and every["out_of_sample_sharpe"] is not None:
            text += (
                f"; every token's chosen set {every['in_sample_sharpe']:.2f} in sample, "
                f"{every['out_of_sample_sharpe']:.2f} out of sample"
            )
        if self.pbo.get("mean") is not None:
            text += (
                f"; probability of backtest overfitting of the per-token choice {self.pbo['mean']:.2f} "
                f"on average ({self.pbo['min']:.2f}–{self.pbo['max']:.2f})"
            )
        return text + "."


def run_optimised_walkforward(
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    spec: OptimiseSpec,
    *,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """The study with each token's set chosen at every ``t_k`` on the past only (see the module doc);
    ``settings.strategy`` and ``settings.params`` are the fixed set it is compared with.

    Raises:
        DataError: no token has a bar in the range.
    """
    from algo_trade_evaluation._walkforward import run_walkforward

    started = time.perf_counter()
    notify = progress or (lambda phase, done, total: None)
    steps, picks, plans = optimised_steps(bars, settings, spec, notify)
    result = run_walkforward(bars, settings, steps=steps, plans=plans, progress=notify)
    notify("fixed parameters", 0, 1)
    fixed = run_walkforward(bars, settings)
    notify("fixed parameters", 1, 1)
    pairs = _pairs(result, picks, result.selection, approved_only=True)
    every = _pairs(result, picks, result.universe, approved_only=False)
    for k, period in enumerate(result.periods):
        period.choices = {s: p.to_json() for s, p in picks[k].items()}
    pbo_values = [p.pbo.pbo for ps in picks for p in ps.values() if p.pbo is not None]
    pbo = _spread(pbo_values)
    pbo["over_half"] = float(np.mean(np.asarray(pbo_values) > 0.5)) if pbo_values else None
    pbo["errors"] = sum(1 for ps in picks for p in ps.values() if p.pbo is None)
    pbo["blocks"] = spec.pbo_blocks
    result.optimisation = OptimisedStudy(spec, picks, pairs, fixed, pbo, every)
    result.seconds = time.perf_counter() - started  # the choices, both studies and the figures
    return result
