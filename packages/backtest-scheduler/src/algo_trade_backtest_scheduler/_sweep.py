"""One sweep (DESIGN.md section 3): refresh → load windows → backtests off the loop → one transaction.

Bookkeeping: every sweep first marks the runs that earlier processes left at ``running`` and will
never finish as ``interrupted``, records its own run with its owner (host, pid) and keeps a heartbeat
on it while it runs, so a concurrent sweep never takes it for dead.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from loguru import logger

from algo_trade_backtest import run_backtest
from algo_trade_backtest_scheduler._jobs import BacktestJob
from algo_trade_backtest_scheduler._regimes import (
    DEFAULT_REGIME_LOOKBACK_DAYS,
    HourlyCloseCache,
    token_regime,
)
from algo_trade_backtest_scheduler._window import Window, window_for
from algo_trade_core import AlgoTradeError, BacktestConfig, DatabaseError, Regime, SchedulerConfig
from algo_trade_data import RUN_HEARTBEAT_S, BacktestResultRecord, BacktestRunRecord, this_host

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient, HyperliquidClient

__all__ = [
    "ProgressCallback",
    "RunSummary",
    "TokenOutcome",
    "backtest_token",
    "live_runs",
    "mark_interrupted_runs",
    "run_sweep",
]

ProgressCallback = Callable[[str, str | None], None]  # (phase, symbol) after each step


@dataclass(slots=True)
class TokenOutcome:
    """What happened to one token in a sweep."""

    symbol: str
    ok: bool
    error: str | None = None
    num_bars: int = 0
    window_coverage: float = 0.0
    refreshed_bars: int = 0
    results: list[BacktestResultRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    regime: Regime | None = None  # volatility regime at the window's end (None: too little history)


@dataclass(slots=True)
class RunSummary:
    """The outcome of one sweep, returned by ``run_once`` and shown by ``algo-trade sweep``."""

    run_id: str
    status: str  # ok, partial, failed
    started_at: datetime
    finished_at: datetime
    window: Window
    tokens: list[TokenOutcome]
    timings: dict[str, float]
    error: str | None = None  # a run-level failure (e.g. the database went away at insert time)
    notes: list[str] = field(default_factory=list)  # run-level remarks, one line each (offline, ...)

    @property
    def tokens_ok(self) -> int:
        return sum(t.ok for t in self.tokens)

    @property
    def tokens_failed(self) -> int:
        return sum(not t.ok for t in self.tokens)

    @property
    def errors(self) -> dict[str, str]:
        out = {t.symbol: t.error or "failed" for t in self.tokens if not t.ok}
        if self.error:
            out["*"] = self.error
        return out

    @property
    def results(self) -> list[BacktestResultRecord]:
        return [r for t in self.tokens for r in t.results]

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def _arrays(frame: pl.DataFrame) -> tuple[np.ndarray, ...]:
    ts = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
    cols = [frame[c].cast(pl.Float64).to_numpy() for c in ("open", "high", "low", "close", "volume")]
    return (ts, *cols)


def backtest_token(
    symbol: str,
    frame: pl.DataFrame,
    jobs: Sequence[BacktestJob],
    execution: BacktestConfig,
    window: Window,
    run_id: str,
    stamp: datetime,
    exchange: str,
    regime: Regime | None = None,
) -> list[BacktestResultRecord]:
    """Run every job on one token's window (in a worker thread: the numba kernels release the GIL).

    ``regime`` is the token's volatility regime at the window's end (stored with each result).
    """
    arrays = _arrays(frame)
    coverage = window.coverage(frame.height)
    records = []
    for job in jobs:
        result = run_backtest(
            *arrays,
            strategy=job.strategy,
            params=job.params,
            execution=execution,
            interval=window.interval,
        )
        fields = result.metrics.to_record_fields()
        fields["window_coverage"] = coverage
        records.append(
            BacktestResultRecord(
                timestamp=stamp,
                symbol=symbol,
                strategy_name=job.strategy,
                parameters=job.params_dict(),
                backtest_window_start=window.start,
                backtest_window_end=window.end,
                run_id=run_id,
                exchange=exchange,
                interval=window.interval,
                params_hash=job.params_hash,
                regime=regime,
                **fields,
            )
        )
    return records


_LIVE_RUNS: set[str] = set()  # sweeps this process is running now (never marked interrupted)


def live_runs() -> frozenset[str]:
    """Ids of the sweeps this process is running now."""
    return frozenset(_LIVE_RUNS)


async def mark_interrupted_runs(db: DatabaseClient) -> list[str]:
    """Mark the runs nobody will finish (killed, or whose database died) ``interrupted``; return their ids.

    Runs of live sweeps, in this process or any other, are left alone (see ``algo_trade_data._db_runs``).
    """
    marked = await db.mark_interrupted_runs(live=live_runs())
    for run in marked:
        logger.warning("run {} marked interrupted: {}", run.run_id[:8], run.errors.get("*", ""))
    return [run.run_id for run in marked]


async def _heartbeat(db: DatabaseClient, run_id: str) -> None:
    while True:
        await asyncio.sleep(RUN_HEARTBEAT_S)
        try:
            await db.heartbeat_run(run_id)
        except AlgoTradeError as exc:  # the finish (or the next start) settles the row either way
            logger.debug("sweep {}: heartbeat not recorded: {}", run_id[:8], exc)


async def run_sweep(
    *,
    config: SchedulerConfig,
    execution: BacktestConfig,
    jobs: Sequence[BacktestJob],
    db: DatabaseClient,
    hyperliquid: HyperliquidClient | None,
    executor: Executor,
    symbols: Sequence[str],
    as_of: datetime | None = None,
    refresh: bool | None = None,
    progress: ProgressCallback | None = None,
    regime_lookback_days: int = DEFAULT_REGIME_LOOKBACK_DAYS,
    regime_cache: HourlyCloseCache | None = None,
) -> RunSummary:
    """Run one sweep over ``symbols`` and store every result plus the run row in one transaction.

    First the runs that earlier processes left at ``running`` and will never finish are marked
    ``interrupted``. A token that fails (no data, garbled data) is recorded and the others go on; a
    token whose refresh failed, or every token when the exchange is unreachable, is backtested on the
    candles already stored (the summary says so once). When the database is unavailable at the start
    nothing is run; when the final insert fails nothing of the run's results is stored, the run is
    marked failed and no token counts as ok. ``progress(phase, symbol)`` is called once per token in
    every phase (refresh, load, backtest), whatever happened to it, then once for the insert.

    Each result carries the token's volatility regime at the window's end, ranked against its windows
    over the ``regime_lookback_days`` before (``[token_selection] regime_lookback_days``); a scheduler
    passes its ``regime_cache`` so that each sweep reads only the hourly closes added since the last.
    """
    started = datetime.now(UTC)
    run_id = uuid.uuid4().hex
    window = window_for(as_of or started, config.backtest_window_days, config.interval)
    notify = progress or (lambda phase, symbol: None)
    do_refresh = config.refresh_data if refresh is None else refresh
    config_json: dict[str, Any] = {
        "scheduler": asdict(config),
        "execution": asdict(execution),
        "jobs": [
            {"strategy": j.strategy, "params": j.params_dict(), "params_hash": j.params_hash} for j in jobs
        ],
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
    }
    sweep = _Sweep(run_id, started, window, symbols, config_json, notify)
    logger.info(
        "sweep {}: {} tokens, {} job(s), window {} → {} ({})",
        run_id[:8],
        len(symbols),
        len(jobs),
        window.start.isoformat(),
        window.end.isoformat(),
        window.interval,
    )
    _LIVE_RUNS.add(run_id)
    try:
        try:
            interrupted = await mark_interrupted_runs(db)
            await db.record_run(sweep.record("running", heartbeat=True))
        except DatabaseError as exc:
            return sweep.database_down(exc, phases=3 if do_refresh else 2)
        if interrupted:
            sweep.notes.append(
                f"marked {len(interrupted)} earlier run(s) interrupted (no finish recorded, owner gone): "
                + ", ".join(r[:8] for r in interrupted)
            )
        heartbeat = asyncio.create_task(_heartbeat(db, run_id), name=f"sweep {run_id[:8]} heartbeat")
        try:
            return await _phases(
                sweep,
                config=config,
                execution=execution,
                jobs=jobs,
                db=db,
                hyperliquid=hyperliquid if do_refresh else None,
                refresh=do_refresh,
                executor=executor,
                regime_lookback_days=regime_lookback_days,
                regime_cache=regime_cache,
            )
        finally:
            heartbeat.cancel()
    finally:
        _LIVE_RUNS.discard(run_id)


class _Sweep:
    """The state of one sweep while it runs: outcomes per token, notes, timings."""

    def __init__(
        self,
        run_id: str,
        started: datetime,
        window: Window,
        symbols: Sequence[str],
        config_json: dict[str, Any],
        notify: ProgressCallback,
    ) -> None:
        self.run_id = run_id
        self.started = started
        self.window = window
        self.symbols = list(symbols)
        self.config_json = config_json
        self.notify = notify
        self.outcomes = {s: TokenOutcome(symbol=s, ok=True) for s in symbols}
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}

    def record(self, status: str, *, heartbeat: bool = False) -> BacktestRunRecord:
        return BacktestRunRecord(
            run_id=self.run_id,
            started_at=self.started,
            finished_at=None,
            status=status,
            config=self.config_json,
            owner_host=this_host(),
            owner_pid=os.getpid(),
            heartbeat_at=datetime.now(UTC) if heartbeat else None,
        )

    def fail(self, symbol: str, error: str) -> None:
        self.outcomes[symbol].ok, self.outcomes[symbol].error = False, error

    def summary(self, status: str | None = None, error: str | None = None) -> RunSummary:
        summary = RunSummary(
            run_id=self.run_id,
            status="ok",
            started_at=self.started,
            finished_at=datetime.now(UTC),
            window=self.window,
            tokens=[self.outcomes[s] for s in self.symbols],
            timings=self.timings,
            error=error,
            notes=self.notes,
        )
        if status is None:
            status = "ok" if summary.tokens_failed == 0 else ("partial" if summary.tokens_ok else "failed")
        summary.status = status
        return summary

    def database_down(self, exc: DatabaseError, *, phases: int) -> RunSummary:
        """Nothing can run without the store: one message, every token not run, progress completed."""
        error = f"the database is unavailable, nothing was run: {exc}"
        logger.error("sweep {}: {}", self.run_id[:8], error)
        for symbol in self.symbols:
            self.fail(symbol, "not run (database unavailable)")
        for phase in ("refresh", "load", "backtest")[3 - phases :]:
            for symbol in self.symbols:
                self.notify(phase, symbol)
        self.notify("insert", None)
        return self.summary("failed", error)


async def _phases(
    sweep: _Sweep,
    *,
    config: SchedulerConfig,
    execution: BacktestConfig,
    jobs: Sequence[BacktestJob],
    db: DatabaseClient,
    hyperliquid: HyperliquidClient | None,
    refresh: bool,
    executor: Executor,
    regime_lookback_days: int,
    regime_cache: HourlyCloseCache | None,
) -> RunSummary:
    run_id, window, outcomes, notify = sweep.run_id, sweep.window, sweep.outcomes, sweep.notify
    symbols = sweep.symbols

    # 1. refresh what the store lacks (tail and holes) from the exchange, asked once whether it answers
    t0 = time.perf_counter()
    refresh_errors: dict[str, str] = {}
    if refresh and hyperliquid is not None:
        from algo_trade_data import refresh_many

        refreshed = await refresh_many(
            hyperliquid,
            db,
            list(symbols),
            config.interval,
            window.start,
            window.end,
            concurrency=config.refresh_concurrency,
            on_done=lambda symbol: notify("refresh", symbol),
        )
        if refreshed.unreachable is not None:
            sweep.notes.append(f"no refresh, backtested on the stored candles: {refreshed.unreachable}")
        for symbol, reason in refreshed.failures.items():
            refresh_errors[symbol] = reason
            outcomes[symbol].notes.append(f"refresh failed (stored candles used): {reason}")
        for symbol, report in refreshed.reports.items():
            outcomes[symbol].refreshed_bars = report.stored
            if report.needs_attention:
                outcomes[symbol].notes.append(report.message)
    elif refresh:
        for symbol in symbols:
            notify("refresh", symbol)
    sweep.timings["refresh"] = time.perf_counter() - t0

    # 2. load each window from the store
    t0 = time.perf_counter()
    frames: dict[str, pl.DataFrame] = {}
    lost: list[DatabaseError] = []

    async def load(symbol: str) -> None:
        try:
            frame = await db.query_candles(symbol, config.interval, window.start, window.end, config.exchange)
        except DatabaseError as exc:
            lost.append(exc)
            sweep.fail(symbol, "not loaded (database unavailable)")
            return
        except AlgoTradeError as exc:
            sweep.fail(symbol, f"load failed: {exc}")
            return
        except Exception as exc:  # a bug on one token must not lose the others
            logger.exception("sweep {}: loading {} failed unexpectedly", run_id[:8], symbol)
            sweep.fail(symbol, f"load failed: {type(exc).__name__}: {exc}")
            return
        if frame.height == 0:
            why = f"; refresh failed: {refresh_errors[symbol]}" if symbol in refresh_errors else ""
            sweep.fail(
                symbol,
                f"no {config.interval} candles stored for {symbol} in "
                f"[{window.start.isoformat()}, {window.end.isoformat()}){why}",
            )
            return
        frames[symbol] = frame
        outcomes[symbol].num_bars = frame.height
        outcomes[symbol].window_coverage = window.coverage(frame.height)
        if outcomes[symbol].window_coverage < 0.999:
            outcomes[symbol].notes.append(f"partial window: {frame.height} of {window.expected_bars} bars")

    async def tracked_load(symbol: str) -> None:
        try:
            await load(symbol)
        finally:
            notify("load", symbol)

    await asyncio.gather(*(tracked_load(s) for s in symbols))
    if lost:
        logger.error("sweep {}: the database failed while loading: {}", run_id[:8], lost[0])
    sweep.timings["load"] = time.perf_counter() - t0

    # 2b. each token's volatility regime: one query of hourly closes over the window and the lookback
    t0 = time.perf_counter()
    cache = regime_cache or HourlyCloseCache()

    async def classify(symbol: str) -> None:
        try:
            outcomes[symbol].regime = await token_regime(
                db, symbol, window, config.backtest_window_days, regime_lookback_days, config.exchange, cache
            )
        except AlgoTradeError as exc:  # the regime is an input, not the result: stored as unknown
            outcomes[symbol].notes.append(f"regime unknown: {exc}")

    await asyncio.gather(*(classify(s) for s in frames))
    sweep.timings["regime"] = time.perf_counter() - t0

    # 3. backtests in the worker pool, never on the event loop
    t0 = time.perf_counter()
    loop = asyncio.get_running_loop()

    async def backtest(symbol: str) -> None:
        try:
            outcomes[symbol].results = await loop.run_in_executor(
                executor,
                backtest_token,
                symbol,
                frames[symbol],
                jobs,
                execution,
                window,
                run_id,
                sweep.started,
                config.exchange,
                outcomes[symbol].regime,
            )
        except (ValueError, AlgoTradeError) as exc:
            sweep.fail(symbol, f"backtest failed: {exc}")
        except Exception as exc:  # a bug on one token must not lose the others' results
            logger.exception("sweep {}: backtest of {} failed unexpectedly", run_id[:8], symbol)
            sweep.fail(symbol, f"backtest failed: {type(exc).__name__}: {exc}")
        finally:
            notify("backtest", symbol)

    await asyncio.gather(*(backtest(s) for s in frames))
    for symbol in symbols:
        if symbol not in frames:
            notify("backtest", symbol)  # nothing to run, but the progress moves on
    sweep.timings["backtest"] = time.perf_counter() - t0

    # 4. one transaction: every result and the run row
    t0 = time.perf_counter()
    summary = sweep.summary(error=f"the database failed while loading: {lost[0]}" if lost else None)
    try:
        await db.insert_backtest_results_batch(summary.results, run=_run_record(summary, sweep.config_json))
    except AlgoTradeError as exc:
        error = f"storing results failed, nothing of this run is stored: {exc}"
        for token in summary.tokens:
            token.results = []
            if token.ok:  # its results are not stored: it is not ok
                token.ok, token.error = False, "results not stored (the final write failed)"
        summary.status, summary.error = "failed", error
        logger.error("sweep {}: {}", run_id[:8], error)
        try:
            await db.record_run(_run_record(summary, sweep.config_json))
        except AlgoTradeError as again:  # the next start marks the row interrupted
            logger.error("sweep {}: could not mark the run failed either: {}", run_id[:8], again)
    sweep.timings["insert"] = time.perf_counter() - t0
    notify("insert", None)
    summary.finished_at = datetime.now(UTC)
    logger.info(
        "sweep {}: {} — {} ok, {} failed in {:.2f}s",
        run_id[:8],
        summary.status,
        summary.tokens_ok,
        summary.tokens_failed,
        summary.seconds,
    )
    return summary


def _run_record(summary: RunSummary, config_json: dict[str, Any]) -> BacktestRunRecord:
    return BacktestRunRecord(
        run_id=summary.run_id,
        started_at=summary.started_at,
        finished_at=summary.finished_at,
        status=summary.status,
        tokens_ok=summary.tokens_ok,
        tokens_failed=summary.tokens_failed,
        errors=summary.errors,
        config=config_json,
        owner_host=this_host(),
        owner_pid=os.getpid(),
    )
