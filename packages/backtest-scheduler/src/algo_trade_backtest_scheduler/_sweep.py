"""One sweep (DESIGN.md section 3): refresh → load windows → backtests off the loop → one transaction."""

from __future__ import annotations

import asyncio
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
from algo_trade_backtest_scheduler._window import Window, window_for
from algo_trade_core import AlgoTradeError, BacktestConfig, SchedulerConfig
from algo_trade_data import BacktestResultRecord, BacktestRunRecord

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient, HyperliquidClient

__all__ = ["ProgressCallback", "RunSummary", "TokenOutcome", "backtest_token", "run_sweep"]

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
) -> list[BacktestResultRecord]:
    """Run every job on one token's window (in a worker thread: the numba kernels release the GIL)."""
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
                **fields,
            )
        )
    return records


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
) -> RunSummary:
    """Run one sweep over ``symbols`` and store every result plus the run row in one transaction.

    A token that fails (no data, garbled data, exchange error) is recorded and the others go on. When
    the final insert fails, nothing of the run's results is stored and the run is marked failed.
    """
    started = datetime.now(UTC)
    run_id = uuid.uuid4().hex
    window = window_for(as_of or started, config.backtest_window_days, config.interval)
    notify = progress or (lambda phase, symbol: None)
    timings: dict[str, float] = {}
    outcomes = {s: TokenOutcome(symbol=s, ok=True) for s in symbols}
    config_json: dict[str, Any] = {
        "scheduler": asdict(config),
        "execution": asdict(execution),
        "jobs": [
            {"strategy": j.strategy, "params": j.params_dict(), "params_hash": j.params_hash} for j in jobs
        ],
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
    }
    logger.info(
        "sweep {}: {} tokens, {} job(s), window {} → {} ({})",
        run_id[:8],
        len(symbols),
        len(jobs),
        window.start.isoformat(),
        window.end.isoformat(),
        window.interval,
    )
    try:
        await db.record_run(
            BacktestRunRecord(
                run_id=run_id, started_at=started, finished_at=None, status="running", config=config_json
            )
        )
    except AlgoTradeError as exc:
        logger.warning("sweep {}: could not record the run start: {}", run_id[:8], exc)

    # 1. refresh the missing tail of each window from the exchange
    t0 = time.perf_counter()
    do_refresh = config.refresh_data if refresh is None else refresh
    if do_refresh and hyperliquid is not None:
        from algo_trade_data import refresh_many

        refreshed = await refresh_many(
            hyperliquid,
            db,
            list(symbols),
            config.interval,
            window.start,
            window.end,
            concurrency=config.refresh_concurrency,
        )
        for symbol, reason in refreshed.failures.items():
            outcomes[symbol].ok, outcomes[symbol].error = False, f"refresh failed: {reason}"
            notify("refresh", symbol)
        for symbol, report in refreshed.reports.items():
            outcomes[symbol].refreshed_bars = report.stored
            if report.truncated:
                outcomes[symbol].notes.append(report.message)
            notify("refresh", symbol)
    timings["refresh"] = time.perf_counter() - t0

    # 2. load each window from the store
    t0 = time.perf_counter()
    frames: dict[str, pl.DataFrame] = {}

    async def load(symbol: str) -> None:
        try:
            frame = await db.query_candles(symbol, config.interval, window.start, window.end, config.exchange)
        except AlgoTradeError as exc:
            outcomes[symbol].ok, outcomes[symbol].error = False, f"load failed: {exc}"
            return
        except Exception as exc:  # a bug on one token must not lose the others
            logger.exception("sweep {}: loading {} failed unexpectedly", run_id[:8], symbol)
            outcomes[symbol].ok, outcomes[symbol].error = False, f"load failed: {type(exc).__name__}: {exc}"
            return
        if frame.height == 0:
            outcomes[symbol].ok = False
            outcomes[symbol].error = (
                f"no {config.interval} candles stored for {symbol} in "
                f"[{window.start.isoformat()}, {window.end.isoformat()})"
            )
            return
        frames[symbol] = frame
        outcomes[symbol].num_bars = frame.height
        outcomes[symbol].window_coverage = window.coverage(frame.height)
        if outcomes[symbol].window_coverage < 0.999:
            outcomes[symbol].notes.append(f"partial window: {frame.height} of {window.expected_bars} bars")
        notify("load", symbol)

    await asyncio.gather(*(load(s) for s in symbols if outcomes[s].ok))
    timings["load"] = time.perf_counter() - t0

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
                started,
                config.exchange,
            )
        except (ValueError, AlgoTradeError) as exc:
            outcomes[symbol].ok, outcomes[symbol].error = False, f"backtest failed: {exc}"
        except Exception as exc:  # a bug on one token must not lose the others' results
            logger.exception("sweep {}: backtest of {} failed unexpectedly", run_id[:8], symbol)
            outcomes[symbol].ok, outcomes[symbol].error = (
                False,
                f"backtest failed: {type(exc).__name__}: {exc}",
            )
        notify("backtest", symbol)

    await asyncio.gather(*(backtest(s) for s in frames))
    timings["backtest"] = time.perf_counter() - t0

    # 4. one transaction: every result and the run row
    t0 = time.perf_counter()
    summary = RunSummary(
        run_id=run_id,
        status="ok",
        started_at=started,
        finished_at=started,
        window=window,
        tokens=[outcomes[s] for s in symbols],
        timings=timings,
    )
    summary.status = "ok" if summary.tokens_failed == 0 else ("partial" if summary.tokens_ok else "failed")
    summary.finished_at = datetime.now(UTC)
    try:
        await db.insert_backtest_results_batch(summary.results, run=_run_record(summary, config_json))
    except AlgoTradeError as exc:
        summary.status, summary.error = "failed", f"storing results failed: {exc}"
        for t in summary.tokens:
            t.results = []
        logger.error("sweep {}: {}", run_id[:8], summary.error)
        try:
            await db.record_run(_run_record(summary, config_json))
        except AlgoTradeError as again:
            logger.error("sweep {}: could not mark the run failed either: {}", run_id[:8], again)
    timings["insert"] = time.perf_counter() - t0
    notify("insert", None)
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
    )
