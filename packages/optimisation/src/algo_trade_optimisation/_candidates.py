"""Choices as the selection's candidates: each token's chosen trial read as a backtest result.

The selection ranks a token's chosen (strategy, parameter set) by the same thresholds and composite
score as any backtest result, so a choice becomes a
:class:`~algo_trade_data.BacktestResultRecord` of its training window (its metrics, bars and coverage)
plus the :class:`~algo_trade_token_selector.ChoiceDetails` the selection shows: strategy, parameters, N
and DSR. Two sources: a choice in memory (:func:`candidate_of`, the walk-forward) and the choices stored
by optimisation runs (:func:`candidates_from_choices`, the daemon and ``token-selection``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from algo_trade_core import parameter_set_hash
from algo_trade_data import BacktestResultRecord
from algo_trade_optimisation._choice import Choice
from algo_trade_token_selector import Candidate, ChoiceDetails

__all__ = ["candidate_of", "candidates_from_choices"]

_Q = Decimal("0.00000001")


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(_Q)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _candidate(
    symbol: str,
    *,
    strategy: str,
    parameters: Mapping[str, Any],
    params_hash: str,
    metrics: Mapping[str, Any],
    n_trials: int,
    dsr: float | None,
    expected_max_sharpe: float,
    window_start: datetime,
    window_end: datetime,
    num_bars: int,
    window_coverage: float,
    interval: str,
    exchange: str,
    capital: float,
    source: str,
    run_id: str,
) -> Candidate:
    total_return = float(metrics["total_return"])
    result = BacktestResultRecord(
        timestamp=window_end,
        symbol=symbol,
        strategy_name=strategy,
        parameters=dict(parameters),
        sharpe_ratio=float(metrics["sharpe_ratio"]),
        total_return=_money(total_return),
        max_drawdown=_money(float(metrics["max_drawdown"])),
        num_trades=int(metrics["num_trades"]),
        win_rate=float(metrics["win_rate"]),
        initial_capital=_money(capital),
        final_capital=_money(capital * (1.0 + total_return)),
        backtest_window_start=window_start,
        backtest_window_end=window_end,
        run_id=run_id,
        exchange=exchange,
        interval=interval,
        params_hash=params_hash or parameter_set_hash(strategy, parameters),
        sortino_ratio=float(metrics.get("sortino_ratio") or 0.0),
        calmar_ratio=_finite(metrics.get("calmar_ratio", 0.0)),
        profit_factor=_finite(metrics.get("profit_factor")),
        buy_hold_return=_money(float(metrics.get("buy_hold_return") or 0.0)),
        exposure=float(metrics.get("exposure") or 0.0),
        num_bars=num_bars,
        window_coverage=window_coverage,
    )
    details = ChoiceDetails(
        strategy=strategy,
        parameters=dict(parameters),
        n_trials=n_trials,
        dsr=dsr,
        expected_max_sharpe=expected_max_sharpe,
        source=source,
    )
    return Candidate(result=result, choice=details)


def candidate_of(
    symbol: str,
    choice: Choice,
    *,
    window_start: datetime,
    window_end: datetime,
    num_bars: int,
    window_coverage: float,
    interval: str,
    exchange: str,
    capital: float,
    source: str,
) -> Candidate:
    """The candidate of a choice made in memory on the window ``[window_start, window_end)``."""
    return _candidate(
        symbol,
        strategy=choice.strategy,
        parameters=choice.parameters,
        params_hash=choice.params_hash,
        metrics=choice.metrics,
        n_trials=choice.n_trials,
        dsr=choice.dsr,
        expected_max_sharpe=choice.threshold_annual,
        window_start=window_start,
        window_end=window_end,
        num_bars=num_bars,
        window_coverage=window_coverage,
        interval=interval,
        exchange=exchange,
        capital=capital,
        source=source,
        run_id=source,
    )


def candidates_from_choices(
    stored: Mapping[str, Mapping[str, Any]], *, interval: str, exchange: str, capital: float
) -> dict[str, Candidate]:
    """Candidates of the choices :meth:`~algo_trade_data.DatabaseClient.latest_choices` returns (the
    JSON :func:`~algo_trade_optimisation.run_optimisation` stores, with its run and window)."""
    out = {}
    for symbol, c in stored.items():
        out[symbol] = _candidate(
            symbol,
            strategy=str(c["strategy"]),
            parameters=c["parameters"],
            params_hash=str(c.get("params_hash") or ""),
            metrics=c["metrics"],
            n_trials=int(c["n_trials"]),
            dsr=_finite(c.get("dsr")),
            expected_max_sharpe=float(c.get("threshold_annual") or 0.0),
            window_start=c["window_start"],
            window_end=c["window_end"],
            num_bars=int(c.get("num_bars") or 0),
            window_coverage=float(c.get("window_coverage") or 0.0),
            interval=interval,
            exchange=exchange,
            capital=capital,
            source=f"optimisation run {c['run_id']}",
            run_id=f"opt-{c['run_id']}",
        )
    return out
