"""Typed application configuration (DESIGN.md section 9).

Every section is a frozen, keyword-only dataclass; every key is declared with
:func:`~algo_trade_core._schema.setting`, which holds its default, its help text and the values it
accepts. That one declaration drives validation (:func:`~algo_trade_core.load_config`), the commented
``config/Config.toml`` and ``docs/configuration.md``. ``check()`` methods hold the rules that relate
several keys of one section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from algo_trade_core._cron import cron_trigger
from algo_trade_core._intervals import INTERVALS
from algo_trade_core._local_database import local_database_url
from algo_trade_core._redact import redact_secret, redact_url
from algo_trade_core._schema import setting
from algo_trade_core._space import MaCrossoverSpace, QuadMaSpace

__all__ = [
    "DEFAULT_TOKEN_UNIVERSE",
    "REGIMES",
    "AlertsConfig",
    "AppConfig",
    "BacktestConfig",
    "BotsConfig",
    "ComputeConfig",
    "DatabaseConfig",
    "HyperliquidConfig",
    "MaCrossoverConfig",
    "OptimisationConfig",
    "ParameterSet",
    "ProtectionConfig",
    "QuadMaConfig",
    "Regime",
    "SchedulerConfig",
    "SelectionCriteria",
    "ServerConfig",
    "StrategyConfig",
    "TrackingConfig",
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


def _scheme(*schemes: str) -> Any:
    def check(value: str) -> str | None:
        if value.startswith(tuple(f"{s}://" for s in schemes)):
            return None
        return f"expected a {' or '.join(f'{s}://' for s in schemes)} URL, got {value!r}"

    return check


def _cron(value: str) -> str | None:
    try:
        cron_trigger(value)
    except ValueError as exc:
        return f"expected a cron expression of 6 fields, seconds first: {exc}"
    return None


def _tokens(value: tuple[str, ...]) -> str | None:
    for token in value:
        if not token or token != token.strip() or " " in token:
            return f"expected coin names without spaces, got {token!r}"
    duplicates = sorted({t for t in value if value.count(t) > 1})
    if duplicates:
        return f"expected each token once, got {', '.join(duplicates)} more than once"
    return None


def _not_empty(value: str) -> str | None:
    return None if value.strip() else "expected a non-empty name"


StrategyName = Literal["quad_ma", "ma_crossover"]

# A token's volatility regime at a selection time (algo_trade_backtest.volatility_regime): its training
# window's realised volatility against its own trailing distribution of such windows.
Regime = Literal["low", "normal", "high"]
REGIMES: tuple[Regime, ...] = ("low", "normal", "high")


def _regimes(value: tuple[str, ...]) -> str | None:
    if not value:
        return 'expected at least one of "low", "normal", "high" (all three: no regime criterion)'
    duplicates = sorted({r for r in value if value.count(r) > 1})
    if duplicates:
        return f"expected each regime once, got {', '.join(duplicates)} more than once"
    return None


def _token(value: str) -> str | None:
    if value and (len(value) < 16 or value != value.strip()):
        return (
            "expected an empty string (no token) or at least 16 characters without surrounding spaces, "
            "e.g. the output of `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        )
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerConfig:
    """The web dashboard: `algo-trade dashboard`, or the daemon when ``enabled``."""

    enabled: bool = setting(
        False, help="The daemon (`scheduled-backtest`) also serves the dashboard at host:port."
    )
    host: str = setting(
        "127.0.0.1",
        help="Address the dashboard binds to. Any address but a loopback one (127.0.0.0/8, ::1, "
        "localhost) requires a token, and the dashboard refuses to start without one.",
    )
    port: int = setting(8080, ge=1, le=65535, help="TCP port the dashboard listens on.")
    token: str = setting(
        "",
        check=_token,
        redact=redact_secret,
        help="Access token: sent as `Authorization: Bearer <token>` or entered once in the login form. "
        "Empty: no token (loopback only). Keep it out of this file: set ALGO_TRADE__SERVER__TOKEN.",
    )
    poll_interval_s: float = setting(
        5.0,
        gt=0,
        help="Seconds between the dashboard's reads of bot state, pushed to open pages as server-sent "
        "events (the daemon may run in another process).",
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class DatabaseConfig:
    """PostgreSQL connection. The default points at the project-local cluster (`make db-up`).

    The default ``url`` follows ``$ALGO_TRADE_PGPORT`` (see :func:`~algo_trade_core.local_database_url`).
    """

    url: str = setting(
        factory=local_database_url,
        default_text='"postgresql://algo_trade@127.0.0.1:54329/algo_trade"',  # with ALGO_TRADE_PGPORT unset
        check=_scheme("postgresql", "postgres"),
        redact=redact_url,
        help="PostgreSQL URL. By default the project-local cluster of `make db-up`, on the port in "
        "$ALGO_TRADE_PGPORT (54329 when unset), so it is not pinned here. Keep passwords out of this "
        "file: set ALGO_TRADE__DATABASE__URL instead.",
    )
    min_connections: int = setting(1, ge=0, help="Connections the pool keeps open.")
    max_connections: int = setting(10, ge=1, help="Most connections the pool opens at once.")
    command_timeout_s: float = setting(60.0, gt=0, help="Seconds before one SQL statement is abandoned.")
    retention_days: int = setting(
        0, ge=0, help="Drop backtest results older than this many days after each sweep; 0 keeps them all."
    )

    def check(self) -> list[tuple[str, str]]:
        if self.min_connections > self.max_connections:
            return [
                (
                    "min_connections",
                    f"<= max_connections ({self.max_connections}), got {self.min_connections}",
                )
            ]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class HyperliquidConfig:
    """Exchange endpoints and the client's politeness settings (HYPERLIQUID-API.md section 4)."""

    api_url: str = setting(
        "https://api.hyperliquid.xyz",
        check=_scheme("http", "https"),
        help="REST endpoint (POST <api_url>/info).",
    )
    ws_url: str = setting(
        "wss://api.hyperliquid.xyz/ws", check=_scheme("ws", "wss"), help="WebSocket endpoint of live candles."
    )
    weight_per_minute: int = setting(
        1200,
        ge=1,
        help="Request weight budget per minute, shared by every request of a process (the exchange "
        "allows 1200 per IP).",
    )
    request_timeout_s: float = setting(10.0, gt=0, help="Seconds before one HTTP request is abandoned.")
    max_retries: int = setting(
        5,
        ge=0,
        help="Retries of a request after HTTP 5xx, a timeout or a dropped connection, with exponential "
        "backoff and jitter (HTTP 429 is bounded by retry_deadline_s instead).",
    )
    retry_deadline_s: float = setting(
        300.0,
        gt=0,
        help="Seconds after a request's start until which HTTP 429s are retried; each retry waits for "
        "the per-minute budget to recover (the server's Retry-After, the local budget adapted to it).",
    )
    backoff_base_s: float = setting(0.5, gt=0, help="First retry delay in seconds; it doubles on each retry.")
    backoff_max_s: float = setting(30.0, gt=0, help="Longest retry delay in seconds.")
    max_concurrency: int = setting(4, ge=1, help="Requests in flight at once.")
    ping_interval_s: float = setting(
        50.0,
        gt=0,
        lt=60,
        help="Seconds between WebSocket pings; the server closes a connection that sent nothing for 60 s.",
    )

    def check(self) -> list[tuple[str, str]]:
        if self.backoff_base_s > self.backoff_max_s:
            return [("backoff_base_s", f"<= backoff_max_s ({self.backoff_max_s}), got {self.backoff_base_s}")]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class ParameterSet:
    """One strategy parameter set a sweep runs: overrides of ``[strategy.<name>]`` keys."""

    strategy: StrategyName = setting(help="The strategy these parameters are for.")
    params: dict[str, float | int | bool] = setting(
        factory=dict,
        params_of="strategy",
        help="Overrides of [strategy.<name>] keys; the others keep that section's values.",
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SchedulerConfig:
    """The backtest sweep: when it runs, over which tokens, which window and which strategies."""

    enabled: bool = setting(
        True, help="Run sweeps on the schedule; `scheduled-backtest` refuses to start when false."
    )
    cron_expression: str = setting(
        "0 0 3 * * *",
        check=_cron,
        help="When sweeps run, in UTC: second minute hour day month day_of_week (seconds first). Day of "
        "week 0 or 7 is Sunday (or sun..sat); when day and day of week are both restricted, either may "
        "match, as in classic cron. The default is daily at 03:00.",
    )
    token_universe: tuple[str, ...] = setting(
        DEFAULT_TOKEN_UNIVERSE,
        check=_tokens,
        help='Coins to backtest when universe_mode = "static", under their Hyperliquid names (MATIC '
        "trades as POL, FTM as S; SHIB, PEPE and BONK as kSHIB, kPEPE and kBONK).",
    )
    backtest_window_days: int = setting(
        30, ge=1, help="Days of candles in each backtest window, ending at the sweep's time."
    )
    interval: str = setting("1m", choices=tuple(INTERVALS), help="Candle interval of the backtests.")
    universe_mode: Literal["static", "top_volume"] = setting(
        "static",
        help='"static": token_universe; "top_volume": the top_volume_n coins by 24 h notional volume at '
        "each sweep.",
    )
    top_volume_n: int = setting(20, ge=1, help='How many coins universe_mode = "top_volume" takes.')
    strategies: tuple[StrategyName, ...] = setting(
        ("quad_ma",),
        help="Strategies each sweep runs with their [strategy.<name>] parameters, when parameter_sets "
        "is empty.",
    )
    parameter_sets: tuple[ParameterSet, ...] = setting(
        (),
        help="Parameter sets each sweep runs instead of strategies, for example "
        '[{ strategy = "quad_ma", params = { trend = 200 } }]; a set overrides [strategy.<name>] keys.',
    )
    max_workers: int = setting(2, ge=1, help="Threads that run backtests in parallel.")
    refresh_data: bool = setting(
        True, help="Fetch the missing tail of each window from Hyperliquid before backtesting."
    )
    refresh_concurrency: int = setting(4, ge=1, help="Tokens whose candles are refreshed at once.")
    misfire_grace_s: int = setting(
        300,
        ge=1,
        help="A trigger missed by less than this many seconds still runs; late triggers coalesce into "
        "one sweep.",
    )
    exchange: str = setting(
        "hyperliquid", check=_not_empty, help="Exchange name stored with candles and results."
    )

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.universe_mode == "static" and not self.token_universe:
            problems.append(("token_universe", "at least one token when universe_mode = 'static'"))
        if not self.strategies and not self.parameter_sets:
            problems.append(("strategies", "at least one strategy (or a parameter set)"))
        return problems


@dataclass(frozen=True, kw_only=True, slots=True)
class SelectionCriteria:
    """Token selection thresholds and ranking (DESIGN.md section 7). Thresholds are inclusive."""

    strategy: StrategyName = setting("quad_ma", help="Strategy whose results are selected on.")
    min_sharpe_ratio: float = setting(1.0, help="Lowest annualised Sharpe ratio that passes.")
    min_win_rate: float = setting(
        0.5, ge=0, le=1, help="Lowest fraction of winning trades that passes (0.5 = 50 %)."
    )
    max_drawdown: float = setting(0.2, ge=0, le=1, help="Largest maximum drawdown that passes (0.2 = 20 %).")
    min_num_trades: int = setting(10, ge=0, help="Fewest closed trades that passes.")
    top_n: int = setting(10, ge=1, help="Most tokens approved, best score first.")
    max_result_age_hours: float = setting(48.0, gt=0, help="Results older than this many hours are ignored.")
    min_window_coverage: float = setting(
        0.0, ge=0, le=1, help="Lowest fraction of the window's bars present that passes (1.0 = every bar)."
    )
    fallback_top_n: int = setting(
        3,
        ge=0,
        help="When no token passes, approve the best N by Sharpe, marked as a fallback; 0 disables it.",
    )
    fallback_min_sharpe: float = setting(
        0.0,
        help="The fallback never approves a token whose Sharpe ratio is below this (0: no losing backtest).",
    )
    weight_sharpe: float = setting(
        0.4,
        ge=0,
        help="Score weight of the Sharpe ratio: score = weight_sharpe * sharpe + weight_win_rate * win_rate "
        "+ weight_drawdown * (1 - max_drawdown).",
    )
    weight_win_rate: float = setting(0.3, ge=0, help="Score weight of the win rate.")
    weight_drawdown: float = setting(0.3, ge=0, help="Score weight of (1 - max drawdown).")
    allowed_regimes: tuple[Regime, ...] = setting(
        REGIMES,
        check=_regimes,
        help="Volatility regimes a token may be approved in: its training window's realised volatility "
        "is low below the 1/3 quantile of its own windows over regime_lookback_days, high above the 2/3 "
        "quantile, normal between. All three (the default) is no criterion; with fewer, a token whose "
        "regime is unknown (too little history) fails too, and a token that fails is no fallback pick.",
    )
    regime_lookback_days: int = setting(
        180,
        ge=30,
        help="Days of history a token's regime is ranked against: the realised volatility (of hourly log "
        "returns) of every window of backtest_window_days ending in these days, one a day. The regime is "
        "unknown until at least half of them exist (backtest_window_days + regime_lookback_days / 2 days "
        "of candles before the selection).",
    )
    min_psr: float = setting(
        0.0,
        ge=0,
        le=1,
        help="Lowest probabilistic Sharpe ratio that passes: the probability that the window's true "
        "Sharpe ratio is above 0, given its per-bar returns' length, skewness and kurtosis (Bailey & "
        "López de Prado 2012). 0 turns the gate off; 0.95 is the usual confidence. A token below it is "
        "no fallback pick either.",
    )
    min_dsr: float = setting(
        0.0,
        ge=0,
        le=1,
        help="Lowest deflated Sharpe ratio that passes: the PSR against the Sharpe ratio luck alone "
        "would reach as the best of the sweep's trials (tokens x parameter sets, with the variance of "
        "their Sharpe ratios; Bailey & López de Prado 2014). 0 turns the gate off. A token below it is "
        "no fallback pick either.",
    )

    def check(self) -> list[tuple[str, str]]:
        if self.weight_sharpe + self.weight_win_rate + self.weight_drawdown <= 0:
            return [("weight_sharpe", "at least one score weight > 0, got all three 0")]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestConfig:
    """Execution model shared by backtests and paper bots (DESIGN.md section 6)."""

    initial_capital: float = setting(
        10_000.0, gt=0, help="Starting equity of every backtest and paper bot (USD)."
    )
    fee_rate: float = setting(
        0.00045,
        ge=0,
        lt=1,
        help="Fee on the notional of every fill; 0.00045 is Hyperliquid's base taker fee.",
    )
    slippage_bps: float = setting(
        5.0, ge=0, lt=10_000, help="Adverse slippage on every fill, in basis points (5 = 0.05 %)."
    )
    position_fraction: float = setting(
        1.0, gt=0, le=1, help="Position size as a fraction of equity: qty = fraction * equity / fill price."
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class QuadMaConfig:
    """Quad moving-average strategy parameters (DESIGN.md section 6)."""

    short_1: int = setting(5, ge=1, help="Fastest simple moving average of the close, in bars (< short_2).")
    short_2: int = setting(10, ge=1, help="Second short average, in bars (< long_1).")
    long_1: int = setting(20, ge=1, help="First long average, in bars (< long_2).")
    long_2: int = setting(
        50, ge=1, help="Second long average, in bars; also the length of the volume average."
    )
    trend: int = setting(
        100, ge=1, help="Trend average, in bars: a long needs the close above it and it rising."
    )
    volume_filter: bool = setting(True, help="Enter only when volume > volume_factor * average volume.")
    volume_factor: float = setting(1.5, ge=0, help="Volume multiple of the volume filter.")
    take_profit: float = setting(
        0.02, gt=0, help="Exit when the price moved this fraction in favour of the entry (0.02 = 2 %)."
    )
    stop_loss: float = setting(
        0.01, gt=0, lt=1, help="Exit when the price moved this fraction against the entry (0.01 = 1 %)."
    )
    reversal_confirmation_bars: int = setting(
        2,
        ge=1,
        help="Bars the opposite alignment must hold, counting the setup bar, before a position reverses.",
    )

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

    fast: int = setting(10, ge=1, help="Fast simple moving average of the close, in bars (< slow).")
    slow: int = setting(30, ge=2, help="Slow simple moving average of the close, in bars.")

    def check(self) -> list[tuple[str, str]]:
        if not self.fast < self.slow:
            return [("fast", f"< slow ({self.slow}), got {self.fast}")]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class StrategyConfig:
    """Each strategy's parameters."""

    quad_ma: QuadMaConfig = setting(
        factory=QuadMaConfig,
        help="quad_ma: enter on a crossover of two short averages aligned with two long averages and a "
        "rising trend (and a volume spike), exit on take-profit, stop-loss or a confirmed reversal.",
    )
    ma_crossover: MaCrossoverConfig = setting(
        factory=MaCrossoverConfig,
        help="ma_crossover: long while the fast average is above the slow one, short while below; used to "
        "cross-check the engine against other backtesters.",
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class ProtectionConfig:
    """Auto-stop rules of live bots; each is off until set. A stopped token waits ``cooldown_hours``."""

    max_drawdown: float = setting(
        0.0,
        ge=0.0,
        lt=1.0,
        help="Stop a bot when its equity falls this fraction below its peak since it started (0.30: 30 %); "
        "0: off.",
    )
    min_sharpe: float = setting(
        0.0,
        ge=-10.0,
        le=10.0,
        help="Stop a bot whose annualised Sharpe ratio of per-bar returns is below this once it has closed "
        "min_sharpe_after_trades trades.",
    )
    min_sharpe_after_trades: int = setting(
        0, ge=0, help="Closed trades before min_sharpe is checked (e.g. 100); 0: the Sharpe rule is off."
    )
    divergence_evaluations: int = setting(
        0,
        ge=0,
        help="Stop a bot when the divergence check (live against its backtest) fails this many evaluations "
        "in a row; 0: off.",
    )
    divergence_every_bars: int = setting(60, ge=1, help="Bars between two divergence evaluations of a bot.")
    cooldown_hours: float = setting(
        24.0,
        ge=0.0,
        le=24.0 * 365,
        help="After a protection stopped a token's bot, bot sync does not restart it for this many hours, "
        "even while the token stays approved (the stop is stored, so a restart keeps the cooldown).",
    )

    def check(self) -> list[tuple[str, str]]:
        if self.min_sharpe != 0.0 and self.min_sharpe_after_trades == 0:
            return [
                (
                    "min_sharpe_after_trades",
                    f"> 0 when min_sharpe is set ({self.min_sharpe}): the number of closed trades after "
                    "which the Sharpe rule applies, got 0 (the rule would never run)",
                )
            ]
        return []


def _webhook(value: str) -> str | None:
    if not value or value.startswith(("http://", "https://")):
        return None
    shown = value.split("/", 1)[0][:20]  # never the rest: the path of a webhook URL is its secret
    return f"expected an http:// or https:// URL or an empty string (off), got one starting {shown!r}"


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertsConfig:
    """Where bot stops and alerts are sent (besides the bot_events table and the log)."""

    log_file: str = setting("", help="Append each alert as one JSON line to this file; empty: off.")
    webhook_url: str = setting(
        "",
        check=_webhook,
        redact=redact_secret,
        help="POST each alert as JSON to this URL (Slack- and Discord-style incoming webhooks); empty: off. "
        "Keep it out of this file: set ALGO_TRADE__BOTS__ALERTS__WEBHOOK_URL.",
    )
    webhook_timeout_s: float = setting(5.0, gt=0.0, le=300.0, help="Seconds one webhook attempt may take.")
    webhook_retries: int = setting(
        3, ge=0, le=20, help="Further attempts after a failed webhook POST (with growing pauses)."
    )
    queue_size: int = setting(
        1000,
        ge=1,
        help="Alerts waiting for a slow or unreachable sink; beyond it the oldest are dropped (and logged). "
        "Bots never wait for a sink.",
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class TrackingConfig:
    """How each bot is measured against its own backtest: reconciliation and the divergence envelope."""

    reconcile_after_sweep: bool = setting(
        True,
        help="After each sweep, the daemon reconciles every running bot with the backtest over the bars it "
        "has seen and logs any bot that differs (the bar where it starts) or whose bars have gaps.",
    )

    bootstrap_samples: int = setting(
        1000,
        ge=100,
        le=100_000,
        help="Block-bootstrap paths drawn from the backtest's per-bar returns for the drawdown and "
        "trade-count envelope.",
    )
    block_bars: int = setting(
        60,
        ge=1,
        help="Length of each bootstrap block in bars (keeps the returns' short-range dependence).",
    )
    min_trades_for_psr: int = setting(
        30, ge=2, help="Closed live trades before the PSR check applies (too few say nothing)."
    )
    psr_threshold: float = setting(
        0.05,
        gt=0,
        lt=1,
        help="Flag a bot when the probability that its live Sharpe ratio is above 0 falls below this.",
    )
    cusum_drift: float = setting(
        0.1,
        ge=0,
        help="CUSUM allowance k in standard deviations of the backtest's per-bar returns: shortfalls "
        "smaller than this per bar never accumulate.",
    )
    cusum_threshold: float = setting(
        50.0,
        gt=0,
        help="Flag a bot when the CUSUM of its live minus expected per-bar returns (in standard "
        "deviations, less the drift) falls below minus this.",
    )
    drawdown_quantile: float = setting(
        0.95,
        gt=0.5,
        lt=1,
        help="Flag a bot whose live drawdown exceeds this quantile of the bootstrapped backtest "
        "drawdowns over the same number of bars.",
    )
    trade_rate_low: float = setting(
        0.05,
        ge=0,
        lt=1,
        help="Flag a bot whose closed live trades fall below this quantile of the bootstrapped backtest "
        "trade count for the elapsed bars (trading far less than the backtest).",
    )
    trade_rate_high: float = setting(
        0.95,
        gt=0,
        le=1,
        help="Flag a bot whose closed live trades exceed this quantile of the bootstrapped backtest "
        "trade count for the elapsed bars (trading far more than the backtest).",
    )

    def check(self) -> list[tuple[str, str]]:
        if not self.trade_rate_low < self.trade_rate_high:
            high, low = self.trade_rate_high, self.trade_rate_low
            return [("trade_rate_low", f"< trade_rate_high ({high}), got {low}")]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class BotsConfig:
    """Paper-trading bots (DESIGN.md section 8); execution settings come from ``[backtest]``."""

    enabled: bool = setting(True, help="After each sweep, start and stop bots to match the approved tokens.")
    mode: Literal["paper"] = setting(
        "paper", help="Only paper trading exists; live order placement is out of scope."
    )
    interval: str = setting("1m", choices=tuple(INTERVALS), help="Candle interval the bots trade.")
    on_remove: Literal["close", "drain"] = setting(
        "close",
        help='When a token drops out: "close" flattens its bot at the next price; "drain" waits for '
        "the strategy's own exit.",
    )
    max_bots: int = setting(100, ge=1, le=1000, help="Most bots running at once.")
    warmup_bars: int = setting(
        0, ge=0, help="Bars loaded before a bot trades; 0: as many as the strategy needs."
    )
    shadow_days: float = setting(
        7.0,
        ge=0.0,
        le=365.0,
        help="A token that leaves the approved list keeps a shadow paper bot this many days (shown as "
        "shadow, not counted as a live bot), to see what deselection saved or cost; 0: no shadow bots.",
    )
    protection: ProtectionConfig = setting(
        factory=ProtectionConfig, help="Auto-stop rules of live bots (all off by default)."
    )
    alerts: AlertsConfig = setting(
        factory=AlertsConfig, help="Where bot stops and alerts are sent besides the database and the log."
    )
    tracking: TrackingConfig = setting(
        factory=TrackingConfig,
        help="Each bot measured against its own backtest: the divergence envelope `algo-trade bots report` "
        "draws and the checks protections use.",
    )


def _scheduler_address(value: str) -> str | None:
    if value == "" or value.startswith(("tcp://", "tls://", "inproc://")):
        return None
    return f'expected "" (a local cluster) or a Dask scheduler address such as tcp://host:8786, got {value!r}'


@dataclass(frozen=True, kw_only=True, slots=True)
class OptimisationConfig:
    """Per-token choice of strategy and parameters, deflated for the number of trials (issue 11)."""

    enabled: bool = setting(
        False,
        help="After each sweep, backtest every parameter set of the spaces below on every token, store "
        "every trial, choose each token's strategy and parameters, and let the bots trade those. False: "
        "every token trades the one configured parameter set, as before.",
    )
    strategies: tuple[StrategyName, ...] = setting(
        ("quad_ma", "ma_crossover"), help="Strategies whose spaces are searched; each token gets one of them."
    )
    prefer: Literal["score", "dsr"] = setting(
        "score",
        help='How each token\'s trial is chosen among those passing the selection thresholds: "score" the '
        'best composite score of [token_selection], "dsr" the best Deflated Sharpe Ratio.',
    )
    min_dsr: float = setting(
        0.95,
        ge=0,
        le=1,
        help="Lowest Deflated Sharpe Ratio (the probability that the chosen trial's true Sharpe ratio beats "
        "the best that luck gives over the token's N trials) that passes; a token below it is never "
        "approved, not even as a fallback.",
    )
    chunk_size: int = setting(
        250, ge=1, help="Parameter sets per task (a task is one token and a chunk of its parameter sets)."
    )
    quad_ma: QuadMaSpace = setting(
        factory=QuadMaSpace,
        help="quad_ma values to try: each key a list of values or { start, stop, step } (stop included); "
        "sets breaking short_1 < short_2 < long_1 < long_2 < trend are dropped and counted.",
    )
    ma_crossover: MaCrossoverSpace = setting(
        factory=MaCrossoverSpace,
        help="ma_crossover values to try, in the same format; sets with fast >= slow are dropped.",
    )

    def check(self) -> list[tuple[str, str]]:
        if not self.strategies:
            return [("strategies", "at least one strategy")]
        return []


@dataclass(frozen=True, kw_only=True, slots=True)
class ComputeConfig:
    """Where the optimisation's backtests run: threads in this process, or a Dask cluster."""

    scheduler: str = setting(
        "",
        check=_scheduler_address,
        help='Dask scheduler for sweeps above dask_min_work: "" starts a LocalCluster of worker processes '
        "on this machine; tcp://host:8786 sends the tasks to that existing cluster.",
    )
    workers: int = setting(2, ge=1, help="Worker processes of the LocalCluster (one thread each).")
    threads: int = setting(0, ge=0, help="Threads of the in-process executor; 0: one per CPU.")
    dask_min_work: int = setting(
        1_000_000_000_000,
        ge=0,
        help="Work size (tokens x parameter sets x bars, in bar-steps) from which Dask runs the sweep "
        "instead of the in-process threads; 0 always uses Dask.",
    )
    memory_budget_mb: int = setting(
        2048,
        ge=16,
        help="Largest memory one token's task may hold (its parameter sets, shared moving-average sums and "
        "results); a bigger space is refused before anything runs.",
    )
    connect_timeout_s: float = setting(
        10.0, gt=0, help="Seconds to reach the Dask scheduler before the run fails (nothing stored)."
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class AppConfig:
    """The whole configuration file."""

    server: ServerConfig = setting(
        factory=ServerConfig,
        help="The web dashboard (`algo-trade dashboard`; the daemon too when enabled): read-only pages of "
        "the selection, results and bots, on a loopback address unless a token is set.",
    )
    database: DatabaseConfig = setting(
        factory=DatabaseConfig,
        help="The PostgreSQL database (TimescaleDB when installed) that stores everything.",
    )
    hyperliquid: HyperliquidConfig = setting(
        factory=HyperliquidConfig, help="Exchange endpoints and how politely the client uses them."
    )
    scheduler: SchedulerConfig = setting(
        factory=SchedulerConfig,
        help="The backtest sweep: when it runs, over which tokens, which window and which strategies.",
    )
    token_selection: SelectionCriteria = setting(
        factory=SelectionCriteria,
        help="Which tokens the bots trade: thresholds (inclusive), the composite score, top N and the "
        "fallback.",
    )
    backtest: BacktestConfig = setting(
        factory=BacktestConfig, help="The execution model shared by backtests and paper bots."
    )
    strategy: StrategyConfig = setting(factory=StrategyConfig, help="Each strategy's parameters.")
    bots: BotsConfig = setting(
        factory=BotsConfig,
        help="Paper-trading bots for the approved tokens; their execution settings come from [backtest].",
    )
    optimisation: OptimisationConfig = setting(
        factory=OptimisationConfig,
        help="Per-token parameter optimisation and strategy choice, with a multiple-testing guard "
        "(docs/optimisation.md).",
    )
    compute: ComputeConfig = setting(
        factory=ComputeConfig, help="Where the optimisation's backtests run: threads here, or Dask."
    )


def strategy_params(config: AppConfig, strategy: str) -> dict[str, Any]:
    """Return the ``[strategy.<name>]`` parameters as a plain dict."""
    section = getattr(config.strategy, strategy, None)
    if section is None:
        raise ValueError(f"unknown strategy {strategy!r}: expected quad_ma or ma_crossover")
    return asdict(section)
