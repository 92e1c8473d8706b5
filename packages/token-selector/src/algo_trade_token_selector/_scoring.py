"""Pure selection logic (DESIGN.md section 7): thresholds, composite score, rank, top N, fallback.

No I/O: it takes each token's latest result and returns a :class:`Selection` that explains itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from algo_trade_core import SelectionCriteria
from algo_trade_data import BacktestResultRecord

__all__ = ["CRITERIA", "Selection", "TokenExplanation", "composite_score", "evaluate"]

# Criterion names, as they appear in explanations and `--json` output.
CRITERIA = (
    "max_result_age_hours",
    "min_window_coverage",
    "min_sharpe_ratio",
    "min_win_rate",
    "max_drawdown",
    "min_num_trades",
)
# A token failing one of these is not eligible even for the fallback: its result says nothing current.
_DATA_CRITERIA = frozenset({"max_result_age_hours", "min_window_coverage"})


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenExplanation:
    """Why one token was (not) approved."""

    symbol: str
    approved: bool
    rank: int | None  # rank among passing tokens (1 = best), or among the fallback picks
    score: float
    sharpe_ratio: float
    win_rate: float
    max_drawdown: float
    num_trades: int
    window_coverage: float
    result_time: datetime
    failed: tuple[str, ...]
    fallback: bool = False

    @property
    def passed(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "approved": self.approved,
            "rank": self.rank,
            "score": self.score,
            "sharpe_ratio": self.sharpe_ratio,
            "win_rate": self.win_rate,
            "max_drawdown": self.max_drawdown,
            "num_trades": self.num_trades,
            "window_coverage": self.window_coverage,
            "result_time": self.result_time.isoformat(),
            "fallback": self.fallback,
            "failed": list(self.failed),
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

    def to_json(self) -> dict[str, Any]:
        return {
            "approved": list(self.approved),
            "fallback": self.fallback_used,
            "strategy": self.strategy_name,
            "selected_at": self.selected_at.isoformat(),
            "tokens": [t.to_json() for t in self.tokens],
        }


def composite_score(result: BacktestResultRecord, criteria: SelectionCriteria) -> float:
    """Return ``w_s * sharpe + w_w * win_rate + w_d * (1 - max_drawdown)``."""
    return (
        criteria.weight_sharpe * result.sharpe_ratio
        + criteria.weight_win_rate * result.win_rate
        + criteria.weight_drawdown * (1.0 - float(result.max_drawdown))
    )


def _failed(result: BacktestResultRecord, criteria: SelectionCriteria, now: datetime) -> tuple[str, ...]:
    checks = {
        "max_result_age_hours": now - result.timestamp <= timedelta(hours=criteria.max_result_age_hours),
        "min_window_coverage": result.window_coverage >= criteria.min_window_coverage,
        "min_sharpe_ratio": result.sharpe_ratio >= criteria.min_sharpe_ratio,
        "min_win_rate": result.win_rate >= criteria.min_win_rate,
        "max_drawdown": float(result.max_drawdown) <= criteria.max_drawdown,
        "min_num_trades": result.num_trades >= criteria.min_num_trades,
    }
    return tuple(name for name in CRITERIA if not checks[name])


def evaluate(
    results: Mapping[str, BacktestResultRecord],
    criteria: SelectionCriteria,
    now: datetime,
    strategy_name: str | None = None,
) -> Selection:
    """Select tokens from each symbol's latest result.

    Pass = every threshold holds (inclusive) and the result is fresh and covers enough of its window.
    Approved = passing tokens by score descending, ties broken by symbol, the first ``top_n``. When none
    passes and ``fallback_top_n > 0``, the best ``fallback_top_n`` fresh, covered tokens by Sharpe are
    approved and the selection is marked as a fallback.
    """
    rows = []
    for symbol, result in results.items():
        rows.append((symbol, result, composite_score(result, criteria), _failed(result, criteria, now)))

    passing = sorted((r for r in rows if not r[3]), key=lambda r: (-r[2], r[0]))
    approved_rows = passing[: criteria.top_n]
    fallback_used = False
    if not passing and criteria.fallback_top_n > 0:
        eligible = [r for r in rows if not (set(r[3]) & _DATA_CRITERIA)]
        eligible.sort(key=lambda r: (-r[1].sharpe_ratio, r[0]))
        approved_rows = eligible[: criteria.fallback_top_n]
        fallback_used = bool(approved_rows)

    approved = [r[0] for r in approved_rows]
    ranks = {r[0]: i + 1 for i, r in enumerate(approved_rows if fallback_used else passing)}
    approved_set = set(approved)
    tokens = [
        TokenExplanation(
            symbol=symbol,
            approved=symbol in approved_set,
            rank=ranks.get(symbol),
            score=score,
            sharpe_ratio=result.sharpe_ratio,
            win_rate=result.win_rate,
            max_drawdown=float(result.max_drawdown),
            num_trades=result.num_trades,
            window_coverage=result.window_coverage,
            result_time=result.timestamp,
            failed=failed,
            fallback=fallback_used and symbol in approved_set,
        )
        for symbol, result, score, failed in rows
    ]
    # Approved first (in rank order), then the others by score.
    tokens.sort(key=lambda t: (not t.approved, t.rank if t.rank is not None else 10**9, -t.score, t.symbol))
    return Selection(
        selected_at=now,
        strategy_name=strategy_name or criteria.strategy,
        approved=approved,
        fallback_used=fallback_used,
        tokens=tokens,
        criteria=criteria,
    )
