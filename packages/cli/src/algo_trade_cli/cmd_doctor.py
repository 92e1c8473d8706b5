"""`algo-trade doctor`: is everything in place? One line per check, each with the command that fixes it.

Checks, in order: the configuration; the database (reachable, migrated); TimescaleDB; the stored
coverage of each configured interval over the backtest window (per token: bars present / expected);
the exchange (one ``meta`` request with a short timeout, which also checks the universe's names); the
numba cache (compiled kernels on disk make the first backtest of a process fast). Exit code 1 when a
check FAILs, 0 otherwise (WARN included).
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table
from rich.text import Text

from algo_trade_cli._common import ConfigOption, JsonOption, config_path, console, resolve_config, run_async
from algo_trade_cli._format import fmt_pct, fmt_time
from algo_trade_core import AlgoTradeError, AppConfig, interval_to_ms

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient

__all__ = ["Check", "TokenCoverage", "coverage_check", "doctor"]

Status = Literal["OK", "WARN", "FAIL", "SKIP"]
_STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim"}
FULL = 0.99  # coverage counted as complete (a bar or two missing at the edges is normal)
# Entry points every backtest and sweep runs (module, function); compiled once, they load from numba's
# cache in ~1 s. The data package's decoder reads a bot's fills for its reconciliation.
_KERNELS = (
    ("algo_trade_backtest._kernels", "run_bars_nb"),
    ("algo_trade_backtest._kernels", "metrics_nb"),
    ("algo_trade_data._numeric_wire", "_decode_nb"),
)


@dataclass(frozen=True, slots=True)
class TokenCoverage:
    """Bars of one token in the window, against the number the window holds."""

    symbol: str
    bars: int
    expected: int

    @property
    def coverage(self) -> float:
        return self.bars / self.expected if self.expected else 0.0


@dataclass(slots=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    rows: list[TokenCoverage] = field(default_factory=list)  # per-token detail (coverage)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows"] = [{**asdict(r), "coverage": r.coverage} for r in self.rows]
        return out


def coverage_check(
    interval: str,
    days: int,
    expected: int,
    counts: dict[str, int],
    *,
    latest: datetime | None,
    refresh: bool,
) -> Check:
    """Judge the stored coverage of one interval's window (pure).

    OK when every token has at least 99 % of the bars; WARN when some lack bars; FAIL when no token has
    a single bar in the window and nothing will fetch them (``refresh_data = false``).
    """
    rows = [TokenCoverage(s, n, expected) for s, n in sorted(counts.items())]
    short = [r for r in rows if r.coverage < FULL]
    name = f"coverage {interval}"
    span = f"last {days} d ({expected:,} bars per token)"
    if not short:
        return Check(name, "OK", f"{span}: all {len(rows)} token(s) covered", rows=rows)
    empty = [r for r in short if r.bars == 0]
    listed = ", ".join(f"{r.symbol} {fmt_pct(r.coverage, 1)}" for r in short[:8])
    more = f" and {len(short) - 8} more" if len(short) > 8 else ""
    detail = f"{span}: {len(rows) - len(short)}/{len(rows)} token(s) covered; {listed}{more}"
    fixes = [
        f"algo-trade data fetch -i {interval} --days {days}",
        f"algo-trade data import DIR --interval {interval}",
    ]
    if latest is not None:
        fixes.append(
            f"or sweep the stored history: algo-trade sweep -i {interval} --as-of {latest:%Y-%m-%dT%H:%M}"
        )
    status: Status = "FAIL" if len(empty) == len(rows) and not refresh else "WARN"
    if status == "FAIL":
        detail += "; no bar at all in the window and [scheduler] refresh_data = false: every sweep would fail"
    return Check(name, status, detail, "  |  ".join(fixes), rows)


async def _database_checks(cfg: AppConfig, now: datetime) -> list[Check]:
    from algo_trade_data import DatabaseClient

    try:
        db = await DatabaseClient.connect(cfg.database, migrate=False)
    except AlgoTradeError as exc:
        return [
            Check(
                "database",
                "FAIL",
                str(exc),
                "make db-up (the project-local cluster), or set [database] url / ALGO_TRADE__DATABASE__URL",
            )
        ]
    async with db:
        checks = [Check("database", "OK", f"{db.url} reachable")]
        checks.append(await _schema_check(db))
        checks.append(await _timescale_check(db))
        if checks[1].status != "FAIL":
            checks.extend(await _coverage_checks(cfg, db, now))
    return checks


async def _schema_check(db: DatabaseClient) -> Check:
    from algo_trade_data import discover_migrations

    applied = {(m.version, m.variant) for m in await db.applied_migrations()}
    wanted = [m for m in discover_migrations() if m.variant == "base" or db.timescaledb_enabled]
    pending = [m.filename for m in wanted if m.key not in applied]
    if not applied:
        return Check("schema", "FAIL", "no tables yet", "algo-trade db init")
    if pending:
        return Check(
            "schema",
            "WARN",
            f"{len(pending)} migration(s) pending: {', '.join(pending)} (applied by the next command)",
            "algo-trade db init",
        )
    return Check("schema", "OK", f"migrated ({len(applied)} migration files applied)")


async def _timescale_check(db: DatabaseClient) -> Check:
    if not db.timescaledb_enabled:
        return Check(
            "TimescaleDB",
            "WARN",
            "not installed: plain PostgreSQL tables (everything works; no hypertables, retention by DELETE)",
            "make timescaledb && make db-down db-up && algo-trade db init",
        )
    async with db.pool.acquire() as conn:
        version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    tables = await db.hypertables()
    return Check("TimescaleDB", "OK", f"{version}, hypertables: {', '.join(tables) or 'none'}")


async def _coverage_checks(cfg: AppConfig, db: DatabaseClient, now: datetime) -> list[Check]:
    from algo_trade_backtest_scheduler import window_for

    s = cfg.scheduler
    intervals = [s.interval]
    if cfg.bots.enabled and cfg.bots.interval not in intervals:
        intervals.append(cfg.bots.interval)
    symbols = list(s.token_universe)
    checks = []
    for interval in intervals:
        window = window_for(now, s.backtest_window_days, interval)
        counts = await db.count_candles(symbols, interval, window.start, window.end, s.exchange)
        latest = None
        if any(n < FULL * window.expected_bars for n in counts.values()):
            # Where the stored history ends, to suggest a sweep over it (one index probe per token).
            lasts = [await db.latest_candle_time(sym, interval, s.exchange) for sym in symbols]
            known = [t for t in lasts if t is not None]
            latest = max(known) + timedelta(milliseconds=interval_to_ms(interval)) if known else None
        check = coverage_check(
            interval,
            s.backtest_window_days,
            window.expected_bars,
            counts,
            latest=latest if latest is not None and latest < window.end else None,
            refresh=s.refresh_data,
        )
        if s.universe_mode == "top_volume":
            check.detail += " (universe: top volume at sweep time; checked [scheduler] token_universe)"
        checks.append(check)
    return checks


async def _exchange_check(cfg: AppConfig) -> Check:
    from algo_trade_data import HyperliquidClient

    # A probe: one short try, and a 429 (the budget spent) is an answer, not a reason to wait.
    probe = replace(cfg.hyperliquid, request_timeout_s=3.0, max_retries=0, retry_deadline_s=3.0)
    started = time.perf_counter()
    try:
        async with HyperliquidClient(probe) as hl:
            problems = await hl.check_symbols(cfg.scheduler.token_universe)
    except (AlgoTradeError, OSError) as exc:
        return Check(
            "exchange",
            "WARN",
            f"{cfg.hyperliquid.api_url} not reachable ({type(exc).__name__}: {exc}); backtests and sweeps "
            "run on stored candles, bots need the exchange",
            "check the network or [hyperliquid] api_url; meanwhile: algo-trade sweep --no-refresh",
        )
    took = time.perf_counter() - started
    if problems:
        listed = "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
        return Check(
            "exchange",
            "WARN",
            f"reachable in {took:.2f} s, but {len(problems)} universe token(s) do not trade: {listed}",
            "edit [scheduler] token_universe (algo-trade config validate checks it)",
        )
    return Check(
        "exchange", "OK", f"{cfg.hyperliquid.api_url} reachable in {took:.2f} s; universe tokens trade"
    )


def _numba_check(warm: bool) -> Check:
    fix = "algo-trade doctor --warm (compiles once, ~20 s; otherwise the first backtest does it)"
    try:
        if warm:
            _warm_kernels()
        # No public API says whether numba's on-disk cache holds a kernel: ask each dispatcher's cache
        # index (an index whose source stamp no longer matches reads as empty).
        kernels = {name: getattr(importlib.import_module(module), name) for module, name in _KERNELS}
        cold = [name for name, kernel in kernels.items() if not kernel._cache._cache_file._load_index()]
        where = kernels[_KERNELS[0][1]]._cache._cache_path
    except Exception as exc:  # numba internals: say we cannot tell rather than fail the doctor
        return Check("numba cache", "WARN", f"cannot tell ({type(exc).__name__}: {exc})", fix)
    if cold:
        return Check("numba cache", "WARN", f"cold: {', '.join(cold)} not compiled in {where}", fix)
    return Check("numba cache", "OK", f"warm ({where})")


def _warm_kernels() -> None:
    """Compile the kernels into numba's on-disk cache (a small synthetic backtest, an empty window)."""
    from algo_trade_backtest import params_from_mapping, run_backtest_frame
    from algo_trade_core import BacktestConfig
    from algo_trade_data import synthetic_candles
    from algo_trade_data._numeric_wire import decode_rows

    decode_rows(b"", "tnnnnni")
    frame = synthetic_candles("WARM", "1m", datetime(2025, 1, 1, tzinfo=UTC), 500)
    for strategy in ("quad_ma", "ma_crossover"):
        run_backtest_frame(
            frame,
            strategy=strategy,
            params=params_from_mapping(strategy, {}),
            execution=BacktestConfig(),
            interval="1m",
            window_coverage=1.0,
        )


async def _run(cfg: AppConfig, source: Path | None, offline: bool, warm: bool) -> list[Check]:
    now = datetime.now(UTC)
    s = cfg.scheduler
    checks = [
        Check(
            "configuration",
            "OK",
            f"{source or 'built-in defaults'}: {len(s.token_universe)} tokens, {s.interval} bars, "
            f"{s.backtest_window_days}-day window, cron '{s.cron_expression}'",
        )
    ]
    checks.extend(await _database_checks(cfg, now))
    if offline:
        checks.append(Check("exchange", "SKIP", "not probed (--offline)"))
    else:
        checks.append(await _exchange_check(cfg))
    checks.append(_numba_check(warm))
    return checks


def doctor(
    offline: Annotated[bool, typer.Option("--offline", help="Do not probe the exchange.")] = False,
    warm: Annotated[
        bool, typer.Option("--warm", help="Compile the numba kernels into the on-disk cache first.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the set-up: database, TimescaleDB, stored coverage, exchange, numba cache (exit 1 on FAIL)."""
    cfg = resolve_config(config)
    checks = run_async(_run(cfg, config_path(config), offline, warm))
    failed = any(c.status == "FAIL" for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [c.to_json() for c in checks]}))
        raise typer.Exit(1 if failed else 0)
    table = Table(title="algo-trade doctor", show_lines=False)
    for col in ("check", "status", "detail", "fix"):
        table.add_column(col)
    for c in checks:
        # Plain text: details quote config keys such as "[scheduler] refresh_data", not markup.
        table.add_row(c.name, Text(c.status, style=_STYLE[c.status]), Text(c.detail), Text(c.fix or ""))
    console.print(table)
    for c in checks:
        short = [r for r in c.rows if r.coverage < FULL]
        if short:
            detail = Table(title=f"{c.name}: tokens below {FULL:.0%}")
            for col in ("symbol", "bars", "expected", "coverage"):
                detail.add_column(col, justify="left" if col == "symbol" else "right")
            for r in short:
                detail.add_row(r.symbol, f"{r.bars:,}", f"{r.expected:,}", fmt_pct(r.coverage, 1))
            console.print(detail)
    summary = "FAIL: fix the lines marked FAIL first" if failed else "no failure"
    console.print(f"doctor: {summary} (checked {fmt_time(datetime.now(UTC))} UTC)")
    raise typer.Exit(1 if failed else 0)
