"""The selection at a re-selection time ``t_k``: the sweep's own backtest and the selector's own rule.

Nothing here re-implements a rule. Each token's window is :func:`~algo_trade_backtest_scheduler.window_for`
(``[t_k - window_days, t_k)``, bars that closed by ``t_k``), its result comes from
:func:`~algo_trade_backtest_scheduler.backtest_token` (what a sweep stores), and the decision is
:func:`~algo_trade_token_selector.evaluate` with ``now = t_k`` on each token's latest result in scope,
after the pipeline's "no fresh result changes nothing" check. So a walk-forward selection is what
``algo-trade sweep --as-of t_k`` followed by ``algo-trade token-selection --as-of t_k`` would approve.

No look-ahead: only bars with an open time before ``t_k`` are passed to the backtest, and each token's
volatility regime at ``t_k`` is :func:`~algo_trade_backtest.volatility_regime` (the function the sweep
calls) on its hourly closes before the window's end. The statistical gates read the same numbers as the
live selection: each result's PSR comes with its metrics, and its DSR is deflated by the trials of its
step (:func:`~algo_trade_token_selector.run_trials`: the sweep ``--as-of t_k`` would have stored those
results).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from algo_trade_backtest import volatility_regime
from algo_trade_backtest_scheduler import BacktestJob, RunSummary, TokenOutcome, backtest_token, window_for
from algo_trade_core import Regime, datetime_to_ms
from algo_trade_data import BacktestResultRecord, RunTrials
from algo_trade_evaluation._bars import TokenBars
from algo_trade_evaluation._settings import WalkForwardSettings
from algo_trade_pipeline import fresh_results, no_fresh_result_reason
from algo_trade_token_selector import Selection, SelectionScope, evaluate, run_trials

__all__ = [
    "SelectionStep",
    "WindowResults",
    "backtest_at",
    "decide_at",
    "select_at",
    "token_regime_at",
    "walkforward_job",
    "walkforward_scope",
]


@dataclass(slots=True)
class SelectionStep:
    """What the selection decided at one re-selection time."""

    time: datetime
    approved: tuple[str, ...]  # in force for the period (carried over when no selection was made)
    fallback: bool
    selection: Selection | None  # None: no fresh result, the previous list stays (``skipped`` says why)
    skipped: str | None
    results: dict[str, BacktestResultRecord] = field(default_factory=dict)  # this step's results
    missing: dict[str, str] = field(default_factory=dict)  # token -> why it has no result now
    scores: dict[str, float] = field(default_factory=dict)  # composite score of each evaluated token
    regimes: dict[str, Regime | None] = field(default_factory=dict)  # of each token with a result now

    @property
    def eligible(self) -> tuple[str, ...]:
        """Tokens with a fresh result at this time: what the random baseline draws from."""
        return tuple(sorted(self.results))


def walkforward_job(settings: WalkForwardSettings) -> BacktestJob:
    from algo_trade_core import strategy_params_from_mapping

    params = strategy_params_from_mapping(settings.strategy, settings.params, loose=True)
    return BacktestJob(settings.strategy, params, settings.params_hash)


def walkforward_scope(settings: WalkForwardSettings) -> SelectionScope:
    return SelectionScope(
        strategy=settings.strategy,
        params_hash=settings.params_hash,
        interval=settings.interval,
        symbols=settings.symbols,
    )


@dataclass(slots=True)
class WindowResults:
    """Every token's backtest on its training window ending at one re-selection time (what a sweep
    ``--as-of`` that time stores), before any rule decides: thresholds never need these recomputed."""

    time: datetime
    summary: RunSummary
    results: dict[str, BacktestResultRecord] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def token_regime_at(tb: TokenBars, end: datetime, settings: WalkForwardSettings) -> Regime | None:
    """``tb``'s volatility regime for the training window ending at ``end``, from its bars before ``end``
    (the sweep's :func:`~algo_trade_backtest_scheduler.token_regime` on the store's bars)."""
    times, closes = tb.hourly(settings.interval)
    return volatility_regime(
        times,
        closes,
        end_ms=datetime_to_ms(end),
        window_days=settings.window_days,
        lookback_days=settings.regime_lookback_days,
        interval=settings.interval,
    ).regime


def backtest_at(
    t: datetime, bars: dict[str, TokenBars], settings: WalkForwardSettings, job: BacktestJob | None = None
) -> WindowResults:
    """Backtest every token on its window ``[t - window_days, t)`` (bars that opened before ``t``), with
    its volatility regime at the window's end."""
    job = job or walkforward_job(settings)
    window = window_for(t, settings.window_days, settings.interval)
    run_id = f"walkforward:{t.isoformat()}"
    outcomes: list[TokenOutcome] = []
    out = WindowResults(
        time=t,
        summary=RunSummary(
            run_id=run_id,
            status="ok",
            started_at=t,
            finished_at=t,
            window=window,
            tokens=outcomes,
            timings={},
        ),
    )
    for symbol in settings.symbols:
        tb = bars.get(symbol)
        outcome = TokenOutcome(symbol=symbol, ok=False)
        outcomes.append(outcome)
        if tb is None:
            outcome.error = out.missing[symbol] = f"no {settings.interval} candles loaded for {symbol}"
            continue
        lo, hi = tb.index_at(window.start), tb.index_at(window.end)
        if hi <= lo:
            outcome.error = out.missing[symbol] = (
                f"no {settings.interval} bars in [{window.start:%Y-%m-%d %H:%M}, {window.end:%Y-%m-%d %H:%M})"
            )
            continue
        regime = token_regime_at(tb, window.end, settings)
        try:
            (record,) = backtest_token(
                symbol,
                tb.rows(lo, hi),
                [job],
                settings.execution,
                window,
                run_id,
                t,
                settings.exchange,
                regime,
            )
        except ValueError as exc:  # bad bars: the sweep records the token as failed, so do we
            outcome.error = out.missing[symbol] = f"backtest failed: {exc}"
            continue
        outcome.ok, outcome.num_bars, outcome.results = True, hi - lo, [record]
        outcome.window_coverage = record.window_coverage
        out.results[symbol] = record
    return out


def decide_at(
    window: WindowResults,
    settings: WalkForwardSettings,
    latest: dict[str, BacktestResultRecord],
    previous: tuple[str, ...],
    trials: dict[tuple[str, str], RunTrials] | None = None,
) -> SelectionStep:
    """The selector's decision at ``window.time`` on each token's latest result in scope.

    ``latest`` holds each token's latest result so far and is updated (a token whose data ends keeps its
    old result, which the freshness criterion then rejects, as in the live store); ``previous`` is the
    list in force before; ``trials`` holds the trials of every step so far by (run_id, interval), what
    the DSR of each latest result is deflated by, and is updated with this step's.
    """
    t = window.time
    latest.update(window.results)
    trials = {} if trials is None else trials
    trials.update(run_trials(window.summary.results))
    step = SelectionStep(
        time=t, approved=previous, fallback=False, selection=None, skipped=None, missing=dict(window.missing)
    )
    scope = walkforward_scope(settings)
    max_age = settings.criteria.max_result_age_hours
    step.results = {r.symbol: r for r in fresh_results(window.summary.results, scope, max_age, t)}
    step.regimes = {symbol: r.regime for symbol, r in window.results.items()}
    step.skipped = no_fresh_result_reason(window.summary, scope, max_age, t)
    if step.skipped is not None:
        return step  # the pipeline stores no selection and leaves the bots as they are
    in_scope = {s: r for s, r in latest.items() if scope.contains(r)}
    selection = evaluate(in_scope, settings.criteria, t, settings.strategy, scope, trials=trials)
    step.selection = selection
    step.approved = tuple(selection.approved)
    step.fallback = selection.fallback_used
    step.scores = {tok.symbol: tok.score for tok in selection.tokens}
    return step


def select_at(
    t: datetime,
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    latest: dict[str, BacktestResultRecord],
    previous: tuple[str, ...],
    *,
    job: BacktestJob | None = None,
) -> SelectionStep:
    """Backtest every token on its window ending at ``t`` and select as of ``t`` (see :func:`decide_at`)."""
    return decide_at(backtest_at(t, bars, settings, job), settings, latest, previous)
