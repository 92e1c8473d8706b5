"""Pure selection logic (DESIGN.md section 7): thresholds, composite score, rank, top N, fallback.

No I/O: it takes each token's latest result and returns a :class:`Selection` that explains itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from algo_trade_core import SelectionCriteria, bars_span_days, short_ratio_warning
from algo_trade_data import BacktestResultRecord, RunTrials
from algo_trade_token_selector._gates import TrialsKey, result_dsr, trials_of
from algo_trade_token_selector._reasons import NO_FALLBACK_CRITERIA, CriterionFailure, check_criteria
from algo_trade_token_selector._scope import SelectionScope

__all__ = ["ChoiceDetails", "Selection", "TokenExplanation", "TokenStatus", "composite_score", "evaluate"]

# approved: passed and within top_n; fallback: approved by the fallback; beyond_top_n: passed, cut by
# top_n; failed: at least one threshold failed.
TokenStatus = Literal["approved", "fallback", "beyond_top_n", "failed"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ChoiceDetails:
    """What a per-token choice adds to a token's explanation: the chosen strategy and parameters, the
    number of trials it was chosen from (N) and its Deflated Sharpe Ratio against the best of N by luck.

    Attributes:
        expected_max_sharpe: the annualised Sharpe ratio the best of N skill-less trials reaches on
            average: the chosen trial's own Sharpe ratio has to beat it for a DSR above 0.5.
        source: where the choice was made (e.g. ``"optimisation run 12"``).
    """

    strategy: str
    parameters: dict[str, Any]
    n_trials: int
    dsr: float | None
    expected_max_sharpe: float
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "parameters": dict(self.parameters),
            "n_trials": self.n_trials,
            "dsr": self.dsr,
            "expected_max_sharpe": self.expected_max_sharpe,
            "source": self.source,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenExplanation:
    """Why one token was (not) approved, with the result it was decided on."""

    symbol: str
    status: TokenStatus
    rank: int | None  # rank among passing tokens (1 = best), or among the fallback picks
    score: float
    sharpe_ratio: float
    win_rate: float
    max_drawdown: float
    num_trades: int
    window_coverage: float
    num_bars: int
    interval: str
    params_hash: str
    run_id: str | None
    window_end: datetime
    result_time: datetime
    failed: tuple[CriterionFailure, ...] = ()
    note: str | None = None  # e.g. "beyond top_n = 10", "Sharpe -5.01 < fallback_min_sharpe 0.00"
    ratio_warning: str | None = None  # the window is too short for annualised ratios to mean much
    regime: str | None = None  # volatility regime at the window's end (None: unknown)
    psr: float | None = None  # PSR against 0 of the window's per-bar returns (None: unknown)
    dsr: float | None = None  # deflated by the sweep's trials (None: unknown)
    trials: int | None = None  # the sweep's trials (tokens x parameter sets) the DSR deflates by
    choice: ChoiceDetails | None = None  # a per-token choice: its strategy, parameters, N and DSR

    @property
    def approved(self) -> bool:
        return self.status in ("approved", "fallback")

    @property
    def fallback(self) -> bool:
        return self.status == "fallback"

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def failed_criteria(self) -> tuple[str, ...]:
        return tuple(f.criterion for f in self.failed)

    @property
    def span_days(self) -> float:
        """Days of bars the annualised ratios were computed on."""
        return bars_span_days(self.num_bars, self.interval)

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "status": self.status,
            "approved": self.approved,
            "fallback": self.fallback,
            "rank": self.rank,
            "score": self.score,
            "sharpe_ratio": self.sharpe_ratio,
            "win_rate": self.win_rate,
            "max_drawdown": self.max_drawdown,
            "num_trades": self.num_trades,
            "window_coverage": self.window_coverage,
            "num_bars": self.num_bars,
            "span_days": self.span_days,
            "interval": self.interval,
            "params_hash": self.params_hash,
            "run_id": self.run_id,
            "window_end": self.window_end.isoformat(),
            "result_time": self.result_time.isoformat(),
            "failed": [f.to_json() for f in self.failed],
            "note": self.note,
            "ratio_warning": self.ratio_warning,
            "regime": self.regime,
            "psr": self.psr,
            "dsr": self.dsr,
            "trials": self.trials,
            # Only per-token choices carry these: a plain selection's JSON is unchanged.
            **({} if self.choice is None else {"choice": self.choice.to_json()}),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Selection:
    """The outcome of one selection: approved symbols in rank order plus one explanation per token."""

    selected_at: datetime
    strategy_name: str
    approved: list[str]
    fallback_used: bool
    tokens: list[TokenExplanation] = field(default_factory=list)
    criteria: SelectionCriteria = field(default_factory=SelectionCriteria)
    scope: SelectionScope | None = None  # the results it ranked (None: every result of the strategy)
    min_dsr: float | None = None  # the DSR gate of per-token choices (None: a plain selection)

    @property
    def choices(self) -> dict[str, ChoiceDetails]:
        """Each approved token's chosen strategy and parameters (empty for a plain selection)."""
        by_symbol = {t.symbol: t.choice for t in self.tokens if t.choice is not None}
        return {s: by_symbol[s] for s in self.approved if s in by_symbol}

    def to_json(self) -> dict[str, Any]:
        out = {
            "approved": list(self.approved),
            "fallback": self.fallback_used,
            "strategy": self.strategy_name,
            "selected_at": self.selected_at.isoformat(),
            "scope": None if self.scope is None else self.scope.to_json(),
            "criteria": _criteria_json(self.criteria),
            "tokens": [t.to_json() for t in self.tokens],
        }
        if self.min_dsr is not None:
            out["min_dsr"] = self.min_dsr
        return out


def _criteria_json(criteria: SelectionCriteria) -> dict[str, Any]:
    return {name: getattr(criteria, name) for name in criteria.__dataclass_fields__}


def composite_score(result: BacktestResultRecord, criteria: SelectionCriteria) -> float:
    """Return ``w_s * sharpe + w_w * win_rate + w_d * (1 - max_drawdown)``."""
    return (
        criteria.weight_sharpe * result.sharpe_ratio
        + criteria.weight_win_rate * result.win_rate
        + criteria.weight_drawdown * (1.0 - float(result.max_drawdown))
    )


def evaluate(
    results: Mapping[str, BacktestResultRecord],
    criteria: SelectionCriteria,
    now: datetime,
    strategy_name: str | None = None,
    scope: SelectionScope | None = None,
    *,
    trials: Mapping[TrialsKey, RunTrials] | None = None,
) -> Selection:
    """Select tokens from each symbol's latest result.

    Pass = every threshold holds (inclusive), the result is fresh (its window ended at most
    ``max_result_age_hours`` before ``now``) and covers enough of its window; where configured, its
    regime is allowed and its PSR and DSR reach ``min_psr`` and ``min_dsr``. Approved = passing tokens
    by score descending, ties broken by symbol, the first ``top_n``. When none passes and
    ``fallback_top_n > 0``, the best ``fallback_top_n`` fresh, covered tokens in an allowed regime by
    Sharpe among those whose Sharpe is at least ``fallback_min_sharpe`` are approved and the selection
    is marked as a fallback.

    ``trials`` holds the trials of the sweeps that produced the results, by (run_id, interval): what
    each token's deflated Sharpe ratio is deflated by (``DatabaseClient.query_run_trials``, or
    :func:`~algo_trade_token_selector.run_trials` of a sweep's results).
    """
    c = criteria
    gates: dict[str, tuple[float | None, int | None]] = {}
    for symbol, result in results.items():
        run = trials_of(result, trials)
        gates[symbol] = (result_dsr(result, run), None if run is None else run.trials)
    rows = [
        (symbol, result, composite_score(result, c), check_criteria(result, c, now, dsr=gates[symbol][0]))
        for symbol, result in results.items()
    ]
    name = strategy_name or (scope.strategy if scope is not None else criteria.strategy)
    return rank_rows(rows, criteria, now, name, scope, gates=gates)


Row = tuple[str, BacktestResultRecord, float, tuple[CriterionFailure, ...]]


def rank_rows(
    rows: list[Row],
    criteria: SelectionCriteria,
    now: datetime,
    strategy_name: str,
    scope: SelectionScope | None,
    choices: Mapping[str, ChoiceDetails] | None = None,
    min_dsr: float | None = None,
    gates: Mapping[str, tuple[float | None, int | None]] | None = None,
) -> Selection:
    """Rank ``(symbol, result, score, failures)`` rows: the rule of :func:`evaluate` (top_n, fallback).

    ``gates`` holds each symbol's DSR against its sweep's trials and that number of trials, when known.
    """
    c = criteria
    passing = sorted((r for r in rows if not r[3]), key=lambda r: (-r[2], r[0]))
    approved_rows = passing[: c.top_n]
    fallback_used = False
    floor_notes: dict[str, str] = {}
    if not passing and c.fallback_top_n > 0:
        eligible = []
        for row in rows:
            if {f.criterion for f in row[3]} & NO_FALLBACK_CRITERIA:
                continue
            if row[1].sharpe_ratio < c.fallback_min_sharpe:
                floor_notes[row[0]] = (
                    f"not a fallback pick: Sharpe {row[1].sharpe_ratio:.2f} < "
                    f"fallback_min_sharpe {c.fallback_min_sharpe:.2f}"
                )
                continue
            eligible.append(row)
        eligible.sort(key=lambda r: (-r[1].sharpe_ratio, r[0]))
        approved_rows = eligible[: c.fallback_top_n]
        fallback_used = bool(approved_rows)

    ranks = {r[0]: i + 1 for i, r in enumerate(approved_rows if fallback_used else passing)}
    approved = [r[0] for r in approved_rows]
    approved_set = set(approved)
    tokens = []
    for symbol, result, score, failed in rows:
        status: TokenStatus
        note = None
        if symbol in approved_set:
            status = "fallback" if fallback_used else "approved"
            if fallback_used:
                note = f"fallback #{ranks[symbol]} by Sharpe (nothing passed)"
        elif not failed:
            status, note = "beyond_top_n", f"beyond top_n = {c.top_n}"
        else:
            status, note = "failed", floor_notes.get(symbol)
        tokens.append(
            TokenExplanation(
                symbol=symbol,
                status=status,
                rank=ranks.get(symbol),
                score=score,
                sharpe_ratio=result.sharpe_ratio,
                win_rate=result.win_rate,
                max_drawdown=float(result.max_drawdown),
                num_trades=result.num_trades,
                window_coverage=result.window_coverage,
                num_bars=result.num_bars,
                interval=result.interval,
                params_hash=result.params_hash,
                run_id=result.run_id,
                window_end=result.backtest_window_end,
                result_time=result.timestamp,
                failed=failed,
                note=note,
                ratio_warning=short_ratio_warning(result.num_bars, result.interval, result.num_trades),
                regime=result.regime,
                psr=result.psr,
                dsr=(gates or {}).get(symbol, (None, None))[0],
                trials=(gates or {}).get(symbol, (None, None))[1],
                choice=None if choices is None else choices.get(symbol),
            )
        )
    # Approved first (in rank order), then the others by score.
    tokens.sort(key=lambda t: (not t.approved, t.rank if t.rank is not None else 10**9, -t.score, t.symbol))
    return Selection(
        selected_at=now,
        strategy_name=strategy_name,
        approved=approved,
        fallback_used=fallback_used,
        tokens=tokens,
        criteria=c,
        scope=scope,
        min_dsr=min_dsr,
    )
