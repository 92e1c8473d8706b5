"""Typed application configuration (DESIGN.md section 9).

Every section is a frozen, keyword-only dataclass whose defaults are the single source of truth;
``config/Config.toml`` mirrors them. :func:`load_config` rejects unknown keys, wrong types, values out
of range and invalid cron expressions, naming the file, the key and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from algo_trade_core._local_database import local_database_url

__all__ = [
    "DEFAULT_TOKEN_UNIVERSE",
    "AppConfig",
    "BacktestConfig",
    "BotsConfig",
    "DatabaseConfig",
    "HyperliquidConfig",
    "MaCrossoverConfig",
    "ParameterSet",
    "QuadMaConfig",
    "SchedulerConfig",
    "SelectionCriteria",
    "ServerConfig",
    "StrategyConfig",
]

# The seed's 20 tokens under their Hyperliquid names today: MATIC trades as POL and FTM as S (both
# delisted under the old names); SHIB, PEPE and BONK trade per 1000 tokens as kSHIB, kPEPE, kBONK.
DEFAULT_TOKEN_UNIVERSE: tuple[str, ...] = (
    "BTC",
    "ETH",
    "SOL",
    "AVAX",
    "ARB",
    "OP",
    "POL",
    "ATOM",
    "NEAR",
    "S",
    "INJ",
    "SEI",
    "SUI",
    "APT",
    "TIA",
    "DOGE",
    "kSHIB",
    "WLD",
    "kPEPE",
    "kBONK",
)


def _range(
    *, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None
) -> dict[str, float | None]:
    return {"ge": ge, "gt": gt, "le": le, "lt": lt}


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerConfig:
    """Where a future HTTP dashboard would listen."""

    host: str = "127.0.0.1"
    port: int = field(default=8080, metadata=_range(ge=1, le=65535))


@dataclass(frozen=True, kw_only=True, slots=True)
class DatabaseConfig:
    """PostgreSQL connection. The default points at the project-local cluster (`make db-up`).

    The default ``url`` follows ``$ALGO_TRADE_PGPORT`` (see :func:`~algo_trade_core.local_database_url`).
    """

    url: str = field(default_factory=local_database_url)
    min_connections: int = field(default=1, metadata=_range(ge=0))
    max_connections: int = field(default=10, metadata=_range(ge=1))
    command_timeout_s: float = field(default=60.0, metadata=_range(gt=0))
    retention_days: int = field(default=0, metadata=_range(ge=0))  # 0 keeps results forever

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not self.url.startswith(("postgresql://", "postgres://")):
            problems.append(("url", f"a postgresql:// URL, got {self.url!r}"))
        if self.min_connections > self.max_connections:
            problems.append(("min_connections", f"<= max_connections ({self.max_connections})"))
        return problems


@dataclass(frozen=True, kw_only=True, slots=True)
class HyperliquidConfig:
    """Exchange endpoints and the client's politeness settings (HYPERLIQUID-API.md section 4)."""

    api_url: str = "https://api.hyperliquid.xyz"
    ws_url: str = "wss://api.hyperliquid.xyz/ws"
    weight_per_minute: int = field(default=1200, metadata=_range(ge=1))
    request_timeout_s: float = field(default=10.0, metadata=_range(gt=0))
    max_retries: int = field(default=5, metadata=_range(ge=0))
    backoff_base_s: float = field(default=0.5, metadata=_range(gt=0))
    backoff_max_s: float = field(default=30.0, metadata=_range(gt=0))
    max_concurrency: int = field(default=4, metadata=_range(ge=1))
    ping_interval_s: float = field(default=50.0, metadata=_range(gt=0))

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not self.api_url.startswith(("http://", "https://")):
            problems.append(("api_url", f"an http(s):// URL, got {self.api_url!r}"))
        if not self.ws_url.startswith(("ws://", "wss://")):
            problems.append(("ws_url", f"a ws(s):// URL, got {self.ws_url!r}"))
        if self.backoff_base_s > self.backoff_max_s:
            problems.append(("backoff_base_s", f"<= backoff_max_s ({self.backoff_max_s})"))
        return problems


@dataclass(frozen=True, kw_only=True, slots=True)
class ParameterSet:
    """One strategy parameter set a sweep runs: overrides of ``[strategy.<name>]`` keys."""

    strategy: Literal["quad_ma", "ma_crossover"]
    params: dict[str, float | int | bool] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class SchedulerConfig:
    """The backtest sweep: when it runs, over which tokens, which window and which strategies."""

    enabled: bool = True
    cron_expression: str = "0 0 3 * * *"  # second minute hour day month day_of_week: daily 03:00 UTC
    token_universe: tuple[str, ...] = DEFAULT_TOKEN_UNIVERSE
    backtest_window_days: int = field(default=30, metadata=_range(ge=1))
    interval: str = "1m"
    universe_mode: Literal["static", "top_volume"] = "static"
    top_volume_n: int = field(default=20, metadata=_range(ge=1))
    strategies: tuple[Literal["quad_ma", "ma_crossover"], ...] = ("quad_ma",)
    parameter_sets: tuple[ParameterSet, ...] = ()  # empty: each strategy once with [strategy.*]
    max_workers: int = field(default=2, metadata=_range(ge=1))
    refresh_data: bool = True
    refresh_concurrency: int = field(default=4, metadata=_range(ge=1))
    misfire_grace_s: int = field(default=300, metadata=_range(ge=1))
    exchange: str = "hyperliquid"

    def check(self) -> list[tuple[str, str]]:
        from algo_trade_core._cron import parse_cron
        from algo_trade_core._intervals import INTERVALS

        problems: list[tuple[str, str]] = []
        try:
            parse_cron(self.cron_expression)
        except ValueError as exc:
            problems.append(("cron_expression", f"a valid 6-field cron expression (seconds first): {exc}"))
        if self.interval not in INTERVALS:
            problems.append(("interval", f"one of {', '.join(INTERVALS)}, got {self.interval!r}"))
        if self.universe_mode == "static" and not self.token_universe:
            problems.append(("token_universe", "at least one token when universe_mode = 'static'"))
        if len(set(self.token_universe)) != len(self.token_universe):
            problems.append(("token_universe", "no duplicate tokens"))
        if not self.strategies and not self.parameter_sets:
            problems.append(("strategies", "at least one strategy"))
        return problems


@dataclass(frozen=True, kw_only=True, slots=True)
class SelectionCriteria:
    """Token selection thresholds and ranking (DESIGN.md section 7). Thresholds are inclusive."""

    strategy: Literal["quad_ma", "ma_crossover"] = "quad_ma"
    min_sharpe_ratio: float = 1.0
    min_win_rate: float = field(default=0.5, metadata=_range(ge=0, le=1))
    max_drawdown: float = field(default=0.2, metadata=_range(ge=0, le=1))
    min_num_trades: int = field(default=10, metadata=_range(ge=0))
    top_n: int = field(default=10, metadata=_range(ge=1))
    max_result_age_hours: float = field(default=48.0, metadata=_range(gt=0))
    min_window_coverage: float = field(default=0.0, metadata=_range(ge=0, le=1))
    fallback_top_n: int = field(default=3, metadata=_range(ge=0))
    weight_sharpe: float = 0.4
    weight_win_rate: float = 0.3
    weight_drawdown: float = 0.3


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestConfig:
    """Execution model shared by backtests and paper bots (DESIGN.md section 6)."""

    initial_capital: float = field(default=10_000.0, metadata=_range(gt=0))
    fee_rate: float = field(default=0.00045, metadata=_range(ge=0, lt=1))  # Hyperliquid base taker fee
    slippage_bps: float = field(default=5.0, metadata=_range(ge=0, lt=10_000))
    position_fraction: float = field(default=1.0, metadata=_range(gt=0, le=1))


@dataclass(frozen=True, kw_only=True, slots=True)
class QuadMaConfig:
    """Quad moving-average strategy parameters (DESIGN.md section 6)."""

    short_1: int = field(default=5, metadata=_range(ge=1))
    short_2: int = field(default=10, metadata=_range(ge=1))
    long_1: int = field(default=20, metadata=_range(ge=1))
    long_2: int = field(default=50, metadata=_range(ge=1))
    trend: int = field(default=100, metadata=_range(ge=1))
    volume_filter: bool = True
    volume_factor: float = field(default=1.5, metadata=_range(ge=0))
    take_profit: float = field(default=0.02, metadata=_range(gt=0))
    stop_loss: float = field(default=0.01, metadata=_range(gt=0, lt=1))
    reversal_confirmation_bars: int = field(default=2, metadata=_range(ge=1))

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not self.short_1 < self.short_2:
            problems.append(("short_1", f"< short_2 ({self.short_2}), got {self.short_1}"))
        if not self.short_2 < self.long_1:
            problems.append(("short_2", f"< long_1 ({self.long_1}), got {self.short_2}"))
        if not self.long_1 < self.long_2:
            problems.append(("long_1", f"< long_2 ({self.long_2}), got {self.long_1}"))
        return problems


@dataclass(frozen=True, kw_only=True, slots=True)
class MaCrossoverConfig:
    """Two-average crossover, always in the market (used to cross-check the engine)."""

    fast: int = field(default=10, metadata=_range(ge=1))
    slow: int = field(default=30, metadata=_range(ge=2))

    def check(self) -> list[tuple[str, str]]:
        if not self.fast < self.slow:
            return [("fast", f"< slow ({self.slow}), got {self.fast}")]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class StrategyConfig:
    quad_ma: QuadMaConfig = field(default_factory=QuadMaConfig)
    ma_crossover: MaCrossoverConfig = field(default_factory=MaCrossoverConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class BotsConfig:
    """Paper-trading bots (DESIGN.md section 8); execution settings come from ``[backtest]``."""

    enabled: bool = True
    mode: Literal["paper"] = "paper"  # live order placement is out of scope
    interval: str = "1m"
    on_remove: Literal["close", "drain"] = "close"
    max_bots: int = field(default=100, metadata=_range(ge=1, le=1000))
    warmup_bars: int = field(default=0, metadata=_range(ge=0))  # 0: as many as the strategy needs

    def check(self) -> list[tuple[str, str]]:
        from algo_trade_core._intervals import INTERVALS

        if self.interval not in INTERVALS:
            return [("interval", f"one of {', '.join(INTERVALS)}, got {self.interval!r}")]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class AppConfig:
    """The whole configuration file."""

    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    hyperliquid: HyperliquidConfig = field(default_factory=HyperliquidConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    token_selection: SelectionCriteria = field(default_factory=SelectionCriteria)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    bots: BotsConfig = field(default_factory=BotsConfig)


def strategy_params(config: AppConfig, strategy: str) -> dict[str, Any]:
    """Return the ``[strategy.<name>]`` parameters as a plain dict."""
    from dataclasses import asdict

    section = getattr(config.strategy, strategy, None)
    if section is None:
        raise ValueError(f"unknown strategy {strategy!r}: expected quad_ma or ma_crossover")
    return asdict(section)
