"""Rows of the results tables, as typed records (NUMERIC columns are ``Decimal``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from algo_trade_core import Fill, Regime

__all__ = [
    "BacktestResultRecord",
    "BacktestRunRecord",
    "BotRecord",
    "FillRecord",
    "RunTrials",
    "SelectionRecord",
]


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
    calmar_ratio: float | None = 0.0  # None: not finite (annualised return overflows), stored as NULL
    profit_factor: float | None = None  # None: no losing trade (infinite), stored as NULL
    buy_hold_return: Decimal = Decimal(0)
    exposure: float = 0.0
    num_bars: int = 0
    window_coverage: float = 0.0
    # Migration 015: the per-bar returns' skewness and kurtosis (not in excess), the PSR against 0 they
    # give, and the token's volatility regime at the window's end (None: unknown or not computed).
    returns_skewness: float | None = None
    returns_kurtosis: float | None = None
    psr: float | None = None
    regime: Regime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RunTrials:
    """The trials of one sweep on one interval, what a deflated Sharpe ratio deflates by.

    Attributes:
        run_id: the sweep.
        interval: the bar interval of its results.
        trials: how many results (tokens x parameter sets) it stored on that interval.
        sharpe_variance: the sample variance (ddof 1) of their ANNUALISED Sharpe ratios; 0 with one trial.
    """

    run_id: str
    interval: str
    trials: int
    sharpe_variance: float


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestRunRecord:
    """One row of ``backtest_runs``: one sweep."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, ok, partial, failed, interrupted
    tokens_ok: int = 0
    tokens_failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # symbol -> reason; "*": the run's own
    config: dict[str, Any] = field(default_factory=dict)
    owner_host: str | None = None  # the machine and process that run it (None: recorded before 005)
    owner_pid: int | None = None
    heartbeat_at: datetime | None = None  # the owner's last sign of life while running


@dataclass(frozen=True, kw_only=True, slots=True)
class SelectionRecord:
    """One row of ``token_selections``."""

    selected_at: datetime
    strategy_name: str
    approved: list[str]
    details: list[dict[str, Any]]
    fallback_used: bool
    selection_id: int | None = None
    run_id: str | None = None  # the sweep whose results were selected from, when known


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


@dataclass(frozen=True, kw_only=True, slots=True)
class BotEventRecord:
    """One row of ``bot_events``: a protection stop, an alert, a shadow bot started or ended.

    ``event_key`` identifies the event, not the attempt to store it (a bot uses
    ``{bot_id}:{bar open ms}:{kind}``), so storing it twice keeps one row.
    """

    event_key: str
    time: datetime
    bot_id: str
    symbol: str
    strategy_name: str
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """The event as ``bots events --json`` prints it and the notifiers send it."""
        return {
            "time": self.time.isoformat(),
            "bot_id": self.bot_id,
            "symbol": self.symbol,
            "strategy": self.strategy_name,
            "kind": self.kind,
            "details": dict(self.details),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class FillRecord:
    """One row of ``fills``: a live or paper fill with its idempotency key.

    ``fill_id`` must identify the fill, not the attempt to store it: a bot derives it from what it
    fills (for example ``f"{bot_id}:{bar_open_ms}:{seq}"``), so replaying a bar after a restart
    produces the same id and the second insert is ignored.
    """

    fill_id: str
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    price: Decimal
    fee: Decimal
    timestamp: datetime
    reason: str
    bot_id: str | None = None
    exchange: str = "hyperliquid"
    order_id: str | None = None

    @classmethod
    def from_fill(cls, fill: Fill, fill_id: str | None = None, order_id: str | None = None) -> FillRecord:
        """Wrap a core :class:`~algo_trade_core.Fill`; without ``fill_id``, derive it with :meth:`key_of`."""
        return cls(
            fill_id=fill_id or cls.key_of(fill),
            symbol=fill.symbol,
            side=str(fill.side),
            quantity=fill.quantity,
            price=fill.price,
            fee=fill.fee,
            timestamp=fill.timestamp,
            reason=fill.reason,
            bot_id=fill.bot_id,
            exchange=fill.exchange,
            order_id=order_id,
        )

    @staticmethod
    def key_of(fill: Fill) -> str:
        """A deterministic id from every field of ``fill``: an identical fill replayed gets the same id."""
        parts = (
            fill.bot_id or "",
            fill.exchange,
            fill.symbol,
            str(fill.side),
            fill.timestamp.isoformat(),
            fill.reason,
            str(fill.quantity.normalize()),
            str(fill.price.normalize()),
            str(fill.fee.normalize()),
        )
        return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
