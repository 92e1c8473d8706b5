"""Out-of-sample performance split by the volatility regime each token was in when it was selected.

A (token, period) pair is one token at one re-selection time ``t_k`` with its out-of-sample return over
``[t_k, t_{k+1})`` (a bot started at ``t_k`` and closed at ``t_{k+1}``); its regime is the one the
selection saw at ``t_k`` (from bars before ``t_k``). Per regime: how many pairs the rule approved and
their mean return, against every eligible pair of that regime (what trading all of them would have
earned on average). Regimes that were unknown (too little history) are counted as ``"unknown"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["REGIME_KEYS", "RegimeSplit", "regime_split"]

REGIME_KEYS = ("low", "normal", "high", "unknown")


class _Period(Protocol):
    @property
    def approved(self) -> tuple[str, ...]: ...
    @property
    def regimes(self) -> Mapping[str, str | None]: ...
    @property
    def token_returns(self) -> Mapping[str, float]: ...


@dataclass(frozen=True, slots=True)
class RegimeSplit:
    """The (token, period) pairs of one regime."""

    regime: str
    approved: int
    approved_mean_return: float | None
    eligible: int
    eligible_mean_return: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "approved_mean_return": self.approved_mean_return,
            "eligible": self.eligible,
            "eligible_mean_return": self.eligible_mean_return,
        }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def regime_split(periods: Iterable[_Period]) -> dict[str, RegimeSplit]:
    """Per regime (:data:`REGIME_KEYS`), the approved and the eligible pairs and their mean returns."""
    approved: dict[str, list[float]] = {key: [] for key in REGIME_KEYS}
    eligible: dict[str, list[float]] = {key: [] for key in REGIME_KEYS}
    for p in periods:
        chosen = set(p.approved)
        for symbol, value in p.token_returns.items():
            key = p.regimes.get(symbol) or "unknown"
            eligible[key].append(value)
            if symbol in chosen:
                approved[key].append(value)
    return {
        key: RegimeSplit(
            regime=key,
            approved=len(approved[key]),
            approved_mean_return=_mean(approved[key]),
            eligible=len(eligible[key]),
            eligible_mean_return=_mean(eligible[key]),
        )
        for key in REGIME_KEYS
    }
