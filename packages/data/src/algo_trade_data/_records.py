"""Rows of the results tables, as typed records (NUMERIC columns are ``Decimal``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["BacktestResultRecord", "BacktestRunRecord", "BotRecord", "SelectionRecord"]


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestResultRecord:
    """One row of ``backtest_results``: one run x token x strategy x parameter set.

    The seed's fields come first; DESIGN.md section 4 adds the rest. Key:
    (timestamp, symbol, strategy_name, params_hash).
    """

    timestamp: datetime
    symbol: str
    strategy_name: str
    parameters: dict[str, Any] | None
    sharpe_ratio: float
    total_return: Decimal
    max_drawdown: Decimal
    num_trades: int
    win_rate: float
    initial_capital: Decimal
    final_capital: Decimal
    backtest_window_start: datetime
    backtest_window_end: datetime
    run_id: str | None = None
    exchange: str = "hyperliquid"
    interval: str = "1m"
    params_hash: str = ""
    sortino_ratio: float = 0.0
    calmar_ratio: float = 0.0
    profit_factor: float | None = None  # None: no losing trade (infinite), stored as NULL
    buy_hold_return: Decimal = Decimal(0)
    exposure: float = 0.0
    num_bars: int = 0
    window_coverage: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestRunRecord:
    """One row of ``backtest_runs``: one sweep."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, ok, partial, failed
    tokens_ok: int = 0
    tokens_failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # symbol -> reason
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class SelectionRecord:
    """One row of ``token_selections``."""

    selected_at: datetime
    strategy_name: str
    approved: list[str]
    details: list[dict[str, Any]]
    fallback_used: bool
    selection_id: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BotRecord:
    """One row of ``bots``: what a restarted daemon needs to bring a bot back."""

    bot_id: str
    symbol: str
    strategy_name: str
    parameters: dict[str, Any]
    interval: str
    state: str  # running, paused, stopped, error
    created_at: datetime
    updated_at: datetime
    error: str | None = None
    position: dict[str, Any] | None = None  # open paper position and runner state, JSON
    equity: Decimal | None = None
    last_candle_time: datetime | None = None
