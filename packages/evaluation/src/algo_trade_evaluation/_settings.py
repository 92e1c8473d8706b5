"""What a walk-forward evaluates: the universe, the range, the re-selection schedule, the rule's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from algo_trade_core import (
    INTERVALS,
    BacktestConfig,
    ConfigError,
    SelectionCriteria,
    StrategyName,
    check_config,
    datetime_to_ms,
    floor_to_interval,
    interval_to_ms,
    ms_to_datetime,
    parameter_set_hash,
    strategy_params_from_mapping,
)

if TYPE_CHECKING:
    from algo_trade_core import AppConfig

__all__ = ["WalkForwardSettings"]


@dataclass(frozen=True, kw_only=True, slots=True)
class WalkForwardSettings:
    """One walk-forward study.

    Re-selection times are ``t_k = start + k * step`` while ``t_k < end`` (``start`` is first rounded up
    to a bar boundary); period ``k`` is ``[t_k, t_{k+1})``, the last one ends at ``end``. At each
    ``t_k`` every token is backtested on the training window ``[t_k - window_days, t_k)`` exactly as a
    sweep ``--as-of t_k`` would, the selector decides as of ``t_k``, and the approved tokens trade the
    period out of sample as paper bots would.

    Attributes:
        symbols: the universe.
        interval: bar interval of the backtests and the bots.
        strategy: the strategy the bots trade.
        params: its parameters (overrides of the strategy's defaults; validated and completed).
        start: first re-selection time (inclusive).
        end: end of the evaluation (exclusive); open positions are closed there.
        step: re-selection step.
        window_days: training window of each selection (``[scheduler] backtest_window_days``).
        criteria: the selection's thresholds, weights, ``top_n`` and fallback (``[token_selection]``).
        execution: capital, fee, slippage, sizing (``[backtest]``); each bot trades ``initial_capital``.
        on_remove: how a bot of a token that leaves is stopped (``[bots] on_remove``).
        warmup_bars: bars a new bot warms up on (``[bots] warmup_bars``; 0: what the strategy needs).
        random_draws: draws of the random baseline.
        seed: seed of the random baseline.
        exchange: the exchange the candles are stored under.
        regime_lookback_days: history whose window volatilities a token's regime is ranked against.
    """

    symbols: tuple[str, ...]
    interval: str
    strategy: StrategyName
    params: Mapping[str, Any] = field(default_factory=dict)
    start: datetime
    end: datetime
    step: timedelta = timedelta(days=7)
    window_days: int = 30
    criteria: SelectionCriteria = field(default_factory=SelectionCriteria)
    execution: BacktestConfig = field(default_factory=BacktestConfig)
    on_remove: Literal["close", "drain"] = "close"
    warmup_bars: int = 0
    random_draws: int = 1000
    seed: int = 0
    exchange: str = "hyperliquid"
    regime_lookback_days: int = 180

    @classmethod
    def from_config(
        cls, config: AppConfig, *, start: datetime, end: datetime, **overrides: Any
    ) -> WalkForwardSettings:
        """Settings from the configuration: the universe, interval, traded parameter set, selection
        criteria, execution and ``on_remove`` the daemon uses; ``overrides`` replace any of them."""
        from algo_trade_pipeline import traded_parameter_set

        strategy = overrides.pop("strategy", config.token_selection.strategy)
        params = overrides.pop("params", None)
        if params is None:
            params = traded_parameter_set(config, strategy)[1]
        values: dict[str, Any] = {
            "symbols": tuple(config.scheduler.token_universe),
            "interval": config.scheduler.interval,
            "window_days": config.scheduler.backtest_window_days,
            "criteria": config.token_selection,
            "execution": config.backtest,
            "on_remove": config.bots.on_remove,
            "warmup_bars": config.bots.warmup_bars,
            "exchange": config.scheduler.exchange,
            "regime_lookback_days": config.token_selection.regime_lookback_days,
        }
        values.update(overrides)
        return cls(strategy=strategy, params=params, start=start, end=end, **values)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.symbols:
            problems.append("symbols: expected at least one token")
        if len(set(self.symbols)) != len(self.symbols):
            problems.append("symbols: expected no duplicates")
        if self.interval not in INTERVALS:
            problems.append(f"interval: expected one of {', '.join(INTERVALS)}, got {self.interval!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                problems.append(f"{name}: expected a timezone-aware UTC time, got {value.isoformat()}")
        if not problems and not self.start < self.end:
            problems.append(
                f"start: expected before end ({self.end.isoformat()}), got {self.start.isoformat()}"
            )
        if not self.step > timedelta(0):
            problems.append(f"step: expected a positive duration, got {self.step}")
        elif self.interval in INTERVALS and self.step.total_seconds() * 1000 < interval_to_ms(self.interval):
            problems.append(f"step: expected at least one {self.interval} bar, got {self.step}")
        if self.window_days < 1:
            problems.append(f"window_days: expected >= 1, got {self.window_days}")
        if self.random_draws < 0:
            problems.append(f"random_draws: expected >= 0, got {self.random_draws}")
        if self.warmup_bars < 0:
            problems.append(f"warmup_bars: expected >= 0, got {self.warmup_bars}")
        if self.regime_lookback_days < 1:
            problems.append(f"regime_lookback_days: expected >= 1, got {self.regime_lookback_days}")
        if self.on_remove not in ("close", "drain"):
            problems.append(f"on_remove: expected 'close' or 'drain', got {self.on_remove!r}")
        try:
            params = strategy_params_from_mapping(self.strategy, self.params, key_prefix="params", loose=True)
            object.__setattr__(self, "params", dict(_asdict(params)))
            check_config(self.criteria, key_prefix="criteria")
            check_config(self.execution, key_prefix="execution")
        except ConfigError as exc:
            problems.extend(str(p) for p in exc.problems or (exc,))
        if problems:
            raise ConfigError("walk-forward settings: " + "; ".join(problems))

    @property
    def params_hash(self) -> str:
        return parameter_set_hash(self.strategy, self.params)

    @property
    def capital(self) -> float:
        return float(self.execution.initial_capital)

    def times(self) -> list[datetime]:
        """The re-selection times ``t_k`` (on bar boundaries)."""
        step_ms = interval_to_ms(self.interval)
        first = -(-datetime_to_ms(self.start) // step_ms) * step_ms  # a selection at a bar's open
        end = datetime_to_ms(self.end)
        times = []
        t = first
        while t < end:
            times.append(ms_to_datetime(t))
            t = floor_to_interval(t + int(self.step.total_seconds() * 1000), self.interval)
            if times and t <= datetime_to_ms(times[-1]):  # a step shorter than a bar after rounding
                t = datetime_to_ms(times[-1]) + step_ms
        return times

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "symbols": list(self.symbols),
            "interval": self.interval,
            "strategy": self.strategy,
            "params": dict(self.params),
            "params_hash": self.params_hash,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "step_seconds": self.step.total_seconds(),
            "window_days": self.window_days,
            "criteria": asdict(self.criteria),
            "execution": asdict(self.execution),
            "on_remove": self.on_remove,
            "warmup_bars": self.warmup_bars,
            "random_draws": self.random_draws,
            "seed": self.seed,
            "exchange": self.exchange,
            "regime_lookback_days": self.regime_lookback_days,
        }


def _asdict(params: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(params)
