"""What a bot is: its configuration (``BotConfig``) and the states it moves through (``BotState``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from algo_trade_backtest import params_from_mapping
from algo_trade_core import INTERVALS, BacktestConfig, ConfigError

__all__ = ["BotConfig", "BotState"]


class BotState(enum.StrEnum):
    """The life cycle of a bot.

    ::

        created ─start─▶ warming_up ─▶ running ⇄ paused
                              │           │         │
                              └──────┬────┴─────────┘
                                     ▼
                         stopping ─▶ stopped        (error: a bar handler or the warm-up raised)

    ``running`` and ``paused`` are the states a restarted daemon brings back (:meth:`BotRegistry.restore`).
    """

    CREATED = "created"
    WARMING_UP = "warming_up"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"

    @property
    def is_active(self) -> bool:
        """Whether the bot consumes bars (warming up, running or paused)."""
        return self in (BotState.WARMING_UP, BotState.RUNNING, BotState.PAUSED)


@dataclass(frozen=True, kw_only=True, slots=True)
class BotConfig:
    """One paper-trading bot: which market, which strategy with which parameters, how it executes.

    ``bot_id`` defaults to ``"{strategy}:{symbol}"``. It is an opaque key: nothing ever parses it back
    (the symbol is the ``symbol`` field), so an explicit id may be any non-empty string, for example to
    run two parameter sets of one strategy on one symbol.

    ``parameters`` are overrides of the strategy's defaults; they are validated and stored complete
    (every key of the strategy's parameter dataclass), so a bot keeps trading the same parameters when
    the defaults change later. ``shadow_until_ms`` makes it a shadow bot that ends itself at that time
    (epoch ms; see ``[bots] shadow_days``). ``execution`` holds capital, fee, slippage and sizing (the
    defaults are those of ``[backtest]``). ``warmup_bars`` is how many stored bars the bot loads before
    trading; 0 means what the strategy needs (see :func:`~algo_trade_bot_orchestrator.strategy_warmup_bars`).

    Raises:
        ConfigError: unknown strategy or interval, a parameter of the wrong type or out of range, an
            empty symbol or id, a negative ``warmup_bars``; the message names the bot and the key.
    """

    symbol: str
    strategy: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    interval: str = "1m"
    execution: BacktestConfig = field(default_factory=BacktestConfig)
    warmup_bars: int = 0
    bot_id: str = ""
    exchange: str = "hyperliquid"
    shadow_until_ms: int | None = None

    def __post_init__(self) -> None:
        where = f"bot {self.bot_id or f'{self.strategy}:{self.symbol}'}"
        if not self.symbol or self.symbol != self.symbol.strip():
            raise ConfigError(f"{where}: symbol must be a non-empty name without spaces, got {self.symbol!r}")
        if self.interval not in INTERVALS:
            expected = ", ".join(INTERVALS)
            raise ConfigError(f"{where}: interval must be one of {expected}, got {self.interval!r}")
        warmup = self.warmup_bars
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ConfigError(f"{where}: warmup_bars must be an integer >= 0, got {warmup!r}")
        try:
            params = params_from_mapping(self.strategy, dict(self.parameters))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        # Frozen: normalised values are written once here, never after.
        object.__setattr__(self, "parameters", asdict(params))
        until = self.shadow_until_ms
        if until is not None and (isinstance(until, bool) or not isinstance(until, int) or until <= 0):
            raise ConfigError(f"{where}: shadow_until_ms must be epoch milliseconds > 0, got {until!r}")
        if not self.bot_id:
            object.__setattr__(self, "bot_id", f"{self.strategy}:{self.symbol}")

    @property
    def is_shadow(self) -> bool:
        """A shadow bot: it trades on paper after its token was deselected, counted as no live bot."""
        return self.shadow_until_ms is not None

    def with_changes(self, **changes: Any) -> BotConfig:
        """Return a copy with ``changes`` applied and validated (the id is kept unless given)."""
        values: dict[str, Any] = {
            "symbol": self.symbol,
            "strategy": self.strategy,
            "parameters": dict(self.parameters),
            "interval": self.interval,
            "execution": self.execution,
            "warmup_bars": self.warmup_bars,
            "bot_id": self.bot_id,
            "exchange": self.exchange,
            "shadow_until_ms": self.shadow_until_ms,
        }
        unknown = sorted(set(changes) - set(values))
        if unknown:
            raise ConfigError(f"bot {self.bot_id}: unknown setting(s) {', '.join(unknown)}")
        values.update(changes)
        return BotConfig(**values)

    def to_json_dict(self) -> dict[str, Any]:
        """Return the JSON form stored with the bot (``bots.parameters`` holds it under ``"config"``)."""
        return {
            "bot_id": self.bot_id,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "parameters": dict(self.parameters),
            "interval": self.interval,
            "execution": asdict(self.execution),
            "warmup_bars": self.warmup_bars,
            "exchange": self.exchange,
            "shadow_until_ms": self.shadow_until_ms,
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> BotConfig:
        """Inverse of :meth:`to_json_dict`.

        Raises:
            ConfigError: a key is missing or a value is invalid.
        """
        try:
            execution = BacktestConfig(**dict(data.get("execution") or {}))
            return cls(
                bot_id=str(data["bot_id"]),
                symbol=str(data["symbol"]),
                strategy=str(data["strategy"]),
                parameters=dict(data.get("parameters") or {}),
                interval=str(data.get("interval", "1m")),
                execution=execution,
                warmup_bars=int(data.get("warmup_bars", 0)),
                exchange=str(data.get("exchange", "hyperliquid")),
                shadow_until_ms=None if data.get("shadow_until_ms") is None else int(data["shadow_until_ms"]),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"stored bot configuration is incomplete or malformed: {exc!r}") from None
