"""The ``bots`` row of a bot: what it stores in the ``position`` JSON column, and reading it back.

``position`` holds (version 1)::

    {"version": 1,
     "config": BotConfig.to_json_dict(),          # everything needed to rebuild the bot
     "book": PaperBook.state_dict() | null,       # runner state; null once the bot has stopped
     "open_position": PaperPosition json | null,  # for people and the CLI
     "bars": int,                                  # live bars handled
     "warmup_end": int | null,                     # open time (ms) of the last warm-up bar
     "num_trades": int, "num_fills": int, "realized_pnl": float,
     "stop_mode": "close" | "drain" | null,       # a stop in progress, carried on after a restart
     "state_before_stop": "running" | "paused",
     "protection": ProtectionMonitor.state_dict() | absent,  # live bots with protections on
     "stop_reason": str | null}                   # why a protection stopped the bot

The other columns: ``state`` (a :class:`BotState` value), ``equity`` (mark-to-market at the last close),
``last_candle_time`` (open time of the last bar acted on), ``error`` (why the bot is in ``error``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from algo_trade_bot_orchestrator._config import BotConfig, BotState
from algo_trade_bot_orchestrator._status import BotStatus, PaperPosition
from algo_trade_data import BotRecord

__all__ = ["LIVE_STATES", "RECORD_VERSION", "SavedBot", "bot_json", "read_saved", "status_from_record"]

RECORD_VERSION = 1

# The states a daemon runs (and brings back after a restart); the others are final.
LIVE_STATES = frozenset({"created", "warming_up", "running", "paused", "stopping"})


@dataclass(frozen=True, kw_only=True, slots=True)
class SavedBot:
    """The ``position`` JSON of a ``bots`` row, decoded."""

    config: BotConfig | None
    book: dict[str, Any] | None
    open_position: PaperPosition | None
    bars: int
    warmup_end: int | None  # open time (epoch ms) of the last warm-up bar; None in rows written before it
    num_trades: int
    num_fills: int
    realized_pnl: float
    stop_mode: str | None
    state_before_stop: BotState
    protection: dict[str, Any] | None = None
    stop_reason: str | None = None


def read_saved(record: BotRecord) -> SavedBot:
    """Decode ``record.position`` (an empty one for rows without it).

    Raises:
        ValueError: another version of the layout, or a malformed value.
    """
    data: dict[str, Any] = dict(record.position or {})
    if data and data.get("version") != RECORD_VERSION:
        raise ValueError(
            f"bot {record.bot_id}: stored state version {data.get('version')!r}, expected {RECORD_VERSION}"
        )
    raw_config = data.get("config")
    raw_position = data.get("open_position")
    return SavedBot(
        config=BotConfig.from_json_dict(raw_config) if raw_config else None,
        book=data.get("book"),
        open_position=_position(raw_position) if raw_position else None,
        bars=int(data.get("bars", 0)),
        warmup_end=None if data.get("warmup_end") is None else int(data["warmup_end"]),
        num_trades=int(data.get("num_trades", 0)),
        num_fills=int(data.get("num_fills", 0)),
        realized_pnl=float(data.get("realized_pnl", 0.0)),
        stop_mode=data.get("stop_mode"),
        state_before_stop=BotState(data.get("state_before_stop", BotState.RUNNING.value)),
        protection=data.get("protection"),
        stop_reason=data.get("stop_reason"),
    )


def _position(data: dict[str, Any]) -> PaperPosition:
    return PaperPosition(
        side=data["side"],
        quantity=float(data["quantity"]),
        entry_price=float(data["entry_price"]),
        entry_time=datetime.fromisoformat(data["entry_time"]),
        entry_fee=float(data["entry_fee"]),
        mark_price=float(data["mark_price"]),
        unrealized_pnl=float(data["unrealized_pnl"]),
        take_profit=data.get("take_profit"),
        stop_loss=data.get("stop_loss"),
    )


def status_from_record(record: BotRecord) -> BotStatus:
    """Return the status a stored row describes (what ``algo-trade bots list`` shows from the database,
    while the daemon runs elsewhere). Equity is as of the row's last write."""
    saved = read_saved(record)
    capital = saved.config.execution.initial_capital if saved.config is not None else 0.0
    return BotStatus(
        bot_id=record.bot_id,
        symbol=record.symbol,
        strategy=record.strategy_name,
        interval=record.interval,
        state=BotState(record.state),
        error=record.error,
        position=saved.open_position,
        equity=float(record.equity) if record.equity is not None else capital,
        initial_capital=capital,
        realized_pnl=saved.realized_pnl,
        num_trades=saved.num_trades,
        num_fills=saved.num_fills,
        bars=saved.bars,
        last_candle_time=record.last_candle_time,
        stop_mode=saved.stop_mode,
        unsaved_fills=0,
        updated_at=record.updated_at.astimezone(UTC),
        shadow=saved.config is not None and saved.config.is_shadow,
        stop_reason=saved.stop_reason,
    )


def bot_json(record: BotRecord, *, now: datetime, daemon_running: bool) -> dict[str, Any]:
    """Return a stored bot as ``algo-trade bots list --json`` prints it and the dashboard serves it.

    The one shape of a bot for people and scripts, read from the database (not from a live bot), so
    the CLI and the dashboard cannot drift apart.

    Args:
        record: the bot's row.
        now: the time ``last_seen_seconds`` is measured to (the row's last write).
        daemon_running: whether a daemon holds the presence lock (``algo_trade_data.live_daemons``):
            a row in a live state is ``trading`` only then (rows keep ``running`` after a daemon died).
    """
    saved = read_saved(record)
    return {
        "bot_id": record.bot_id,
        "symbol": record.symbol,
        "strategy": record.strategy_name,
        "interval": record.interval,
        "state": record.state,
        "error": record.error,
        "trading": record.state in LIVE_STATES and daemon_running,
        "equity": None if record.equity is None else float(record.equity),
        "position": None if saved.open_position is None else saved.open_position.to_json_dict(),
        "num_trades": saved.num_trades,
        "num_fills": saved.num_fills,
        "realized_pnl": saved.realized_pnl,
        "parameters": dict(record.parameters or {}),
        "last_candle_time": None if record.last_candle_time is None else record.last_candle_time.isoformat(),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "last_seen_seconds": round((now - record.updated_at).total_seconds(), 1),
        "shadow": saved.config is not None and saved.config.is_shadow,
        "stop_reason": saved.stop_reason,
    }
