"""One optimisation run: windows → tasks (minus what is stored) → executor → trials stored as they
arrive → each token's choice from the stored trials (N and V[SR] from the store) → the run's outcome."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from algo_trade_backtest import SWEEP_METRIC_NAMES, prepare_bars
from algo_trade_backtest_scheduler import Window, window_for
from algo_trade_core import AlgoTradeError, AppConfig, bars_per_year
from algo_trade_data import TRIAL_METRICS, TrialBatch
from algo_trade_optimisation._choice import Choice, TrialTable, choose
from algo_trade_optimisation._executors import DaskExecutor, ThreadExecutor
from algo_trade_optimisation._plan import Bars, Space, Task, chunks, data_fingerprint, plan_space, work_size

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient, OptimisationRunRecord

__all__ = ["ExecutorChoice", "OptimisationSummary", "TokenResult", "run_optimisation"]

ExecutorChoice = Literal["auto", "threads", "dask"]
Progress = Callable[[int, int], None]  # (tasks done, tasks total)
_AT = {name: SWEEP_METRIC_NAMES.index(name) for name in TRIAL_METRICS}


@dataclass(slots=True)
class TokenResult:
    """One token of a run: its bars, how many trials were computed now or reused, its choice."""

    symbol: str
    num_bars: int = 0
    window_coverage: float = 0.0
    computed: int = 0
    reused: int = 0
    choice: Choice | None = None
    error: str | None = None


@dataclass(slots=True)
class OptimisationSummary:
    """The outcome of :func:`run_optimisation`."""

    run_id: int
    status: str
    window: Window
    executor: str
    dashboard: str | None
    space: Space
    tokens: list[TokenResult]
    tasks_total: int
    tasks_run: int
    resumed: bool
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def choices(self) -> dict[str, Choice]:
        return {t.symbol: t.choice for t in self.tokens if t.choice is not None}


def _resume_key(config: AppConfig, window: Window, symbols: Sequence[str], space: Space) -> str:
    data = {
        "window": [window.start.isoformat(), window.end.isoformat(), window.interval],
        "execution": asdict(config.backtest),
        "space": space.definition,
        "symbols": sorted(symbols),
        "exchange": config.scheduler.exchange,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def _executor(
    config: AppConfig, choice: ExecutorChoice, work: int, address: str | None
) -> ThreadExecutor | DaskExecutor:
    use_dask = choice == "dask" or (choice == "auto" and work >= config.compute.dask_min_work)
    if use_dask or address:
        return DaskExecutor(config.compute, address)
    return ThreadExecutor(config.compute.threads)


async def _load(
    db: DatabaseClient,
    config: AppConfig,
    symbols: Sequence[str],
    window: Window,
    tokens: dict[str, TokenResult],
) -> dict[str, Bars]:
    bars: dict[str, Bars] = {}
    for symbol in symbols:
        frame = await db.query_candles(
            symbol, window.interval, window.start, window.end, config.scheduler.exchange
        )
        if frame.height == 0:
            tokens[symbol].error = (
                f"no {window.interval} candles stored for {symbol} in [{window.start.isoformat()}, "
                f"{window.end.isoformat()})"
            )
            continue
        ts = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
        arrays = [frame[c].to_numpy().astype(np.float64) for c in ("open", "high", "low", "close", "volume")]
        try:
            bars[symbol] = prepare_bars(ts, *arrays)
        except ValueError as exc:
            tokens[symbol].error = f"bad candles: {exc}"
            continue
        tokens[symbol].num_bars = frame.height
        tokens[symbol].window_coverage = window.coverage(frame.height)
    return bars


def _batch(task: Task, metrics: np.ndarray) -> TrialBatch:
    return TrialBatch(
        symbol=task.symbol,
        params_hashes=[s.params_hash for s in task.sets],
        strategies=[s.strategy for s in task.sets],
        parameters=[s.params for s in task.sets],
        metrics={name: metrics[:, k].tolist() for name, k in _AT.items()},
    )


async def _choose(
    db: DatabaseClient, config: AppConfig, run: OptimisationRunRecord, token: TokenResult, interval: str
) -> Choice:
    """The token's choice from what is STORED: its N trials and their Sharpe variance."""
    n, variance = await db.trial_stats(run.run_id, token.symbol)
    trials = await db.query_trials(run.run_id, token.symbol)
    table = TrialTable(
        strategies=[t.strategy_name for t in trials],
        params_hashes=[t.params_hash for t in trials],
        params=[t.parameters for t in trials],
        metrics={
            name: np.array(
                [math.inf if (v := getattr(t, name)) is None else float(v) for t in trials], dtype=np.float64
            )
            for name in TRIAL_METRICS
        },
    )
    return choose(
        table,
        criteria=config.token_selection,
        optimisation=config.optimisation,
        num_bars=token.num_bars,
        periods_per_year=bars_per_year(interval),
        n_trials=n,
        sharpe_variance_annual=variance,
    )


async def run_optimisation(
    config: AppConfig,
    db: DatabaseClient,
    symbols: Sequence[str],
    *,
    as_of: datetime | None = None,
    interval: str | None = None,
    executor: ExecutorChoice = "auto",
    scheduler_address: str | None = None,
    progress: Progress | None = None,
    on_executor: Callable[[str, str | None], None] | None = None,
) -> OptimisationSummary:
    """Optimise every token of ``symbols`` over the window ending at ``as_of`` and store everything.

    The spaces are ``config.optimisation``'s; the window, execution and thresholds the configuration's.
    An unfinished run with the same inputs is resumed: only its missing tasks run. Each task's trials
    are stored as they arrive; each token's choice is then made from its stored trials.

    Raises:
        ConfigError: an empty, contradictory or too large space (before anything runs or is stored).
        ComputeError: the Dask scheduler cannot be reached (before anything is stored).
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    interval = interval or config.scheduler.interval
    window = window_for(as_of or started, config.scheduler.backtest_window_days, interval)
    tokens = {s: TokenResult(symbol=s) for s in symbols}
    bars = await _load(db, config, symbols, window, tokens)
    most = max((len(b[0]) for b in bars.values()), default=1)
    space = plan_space(config.optimisation, config.compute, most)
    timings = {"load": time.perf_counter() - t0}
    work = work_size({s: len(b[0]) for s, b in bars.items()}, len(space))
    chosen = _executor(config, executor, work, scheduler_address)
    async with chosen as running:  # connects before anything is stored
        if on_executor is not None:
            on_executor(running.name, running.dashboard)
        key = _resume_key(config, window, symbols, space)
        previous = await db.resumable_optimisation_run(key)
        fingerprints = {s: data_fingerprint(b, interval, config.backtest) for s, b in bars.items()}
        run_config = {
            "space": space.definition,
            "combinations": space.combinations,
            "dropped": space.dropped,
            "execution": asdict(config.backtest),
            "symbols": list(symbols),
            "work_bar_steps": work,
        }
        if previous is None:
            run = await db.start_optimisation_run(
                started_at=started,
                resume_key=key,
                interval=interval,
                window_start=window.start,
                window_end=window.end,
                executor=running.name,
                tasks_total=0,
                config=run_config,
            )
        else:
            run = previous
        tasks: list[Task] = []
        total = 0
        for symbol, token_bars in bars.items():
            await db.set_trial_token(
                run.run_id,
                symbol,
                fingerprint=fingerprints[symbol],
                num_bars=len(token_bars[0]),
                window_coverage=tokens[symbol].window_coverage,
            )
            stored = await db.stored_trial_hashes(run.run_id, symbol)
            tokens[symbol].reused = len(stored)
            mine = chunks(symbol, space, config.optimisation.chunk_size, stored)
            total += -(-len(space) // config.optimisation.chunk_size)
            tasks.extend(mine)
        await db.resume_optimisation_run(run.run_id, executor=running.name, tasks_total=total)
        done = total - len(tasks)
        if progress is not None:
            progress(done, total)
        t1 = time.perf_counter()
        status = "ok"
        try:
            async for task, metrics in running.run(bars, tasks, config.backtest, interval):
                await db.insert_trials(run, _batch(task, metrics))
                tokens[task.symbol].computed += len(task.sets)
                done += 1
                if progress is not None:
                    progress(done, total)
        except BaseException:
            await _finish(db, run.run_id, "interrupted", tokens)
            raise
        timings["backtest+store"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    for symbol in bars:
        token = tokens[symbol]
        try:
            token.choice = await _choose(db, config, run, token, interval)
        except (ValueError, AlgoTradeError) as exc:
            token.error = f"choice failed: {exc}"
            continue
        await db.record_choice(run.run_id, symbol, _choice_json(token))
    timings["choice"] = time.perf_counter() - t2
    failed = [t for t in tokens.values() if t.error]
    status = "ok" if not failed else ("partial" if len(failed) < len(tokens) else "failed")
    await _finish(db, run.run_id, status, tokens)
    return OptimisationSummary(
        run_id=run.run_id,
        status=status,
        window=window,
        executor=chosen.name,
        dashboard=chosen.dashboard,
        space=space,
        tokens=list(tokens.values()),
        tasks_total=total,
        tasks_run=len(tasks),
        resumed=previous is not None,
        seconds=time.perf_counter() - t0,
        timings=timings,
    )


def _choice_json(token: TokenResult) -> dict[str, Any]:
    assert token.choice is not None
    return {**token.choice.to_json(), "num_bars": token.num_bars, "window_coverage": token.window_coverage}


async def _finish(db: DatabaseClient, run_id: int, status: str, tokens: dict[str, TokenResult]) -> None:
    errors = {t.symbol: t.error for t in tokens.values() if t.error}
    await db.finish_optimisation_run(run_id, status=status, finished_at=datetime.now(UTC), errors=errors)
