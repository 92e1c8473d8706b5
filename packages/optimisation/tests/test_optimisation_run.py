"""Runs on real 1h candles: every trial stored, choices from the stored N, resume, Dask equal threads."""

from __future__ import annotations

import os
import signal
from datetime import datetime
from typing import Any

import pytest

from algo_trade_core import ConfigError, QuadMaSpace, ValueRange, bars_per_year
from algo_trade_data import DatabaseClient
from algo_trade_optimisation import ComputeError, dsr_of, run_optimisation

from .conftest import SYMBOLS, small_config

PER_TOKEN = 24 + 6  # quad_ma: 32 combinations, 8 break long_2 < trend


def trial_key(t: Any) -> tuple[Any, ...]:
    return (t.symbol, t.params_hash, t.sharpe_ratio, t.total_return, t.num_trades, t.max_drawdown)


async def stored(db: DatabaseClient, run_id: int) -> list[tuple[Any, ...]]:
    return sorted(trial_key(t) for t in await db.query_trials(run_id))


async def test_every_trial_is_stored_and_the_dsr_uses_the_stored_n(
    db: DatabaseClient, as_of: datetime
) -> None:
    config = small_config()
    summary = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads")
    assert summary.status == "ok"
    assert summary.executor.startswith("in-process threads")
    assert summary.space.dropped == {"quad_ma": 8, "ma_crossover": 0}
    assert len(summary.space) == PER_TOKEN
    trials = await db.query_trials(summary.run_id)
    assert len(trials) == len({(t.symbol, t.params_hash) for t in trials}) == PER_TOKEN * len(SYMBOLS)
    periods = bars_per_year("1h")
    for token in summary.tokens:
        choice = token.choice
        assert choice is not None
        n, variance = await db.trial_stats(summary.run_id, token.symbol)
        assert choice.n_trials == n == PER_TOKEN
        assert choice.sharpe_variance == pytest.approx(variance / periods)
        assert choice.dsr == pytest.approx(
            dsr_of(
                choice.metrics["sharpe_ratio"],
                n_trials=n,
                variance_per_period=variance / periods,
                num_returns=token.num_bars - 1,
                skewness=choice.metrics["skewness"],
                kurtosis=choice.metrics["kurtosis"],
                periods_per_year=periods,
            )
        )
    choices = await db.latest_choices("1h", SYMBOLS)
    assert {s: c["params_hash"] for s, c in choices.items()} == {
        t.symbol: t.choice.params_hash for t in summary.tokens if t.choice is not None
    }


async def test_an_interrupted_run_resumes_and_recomputes_only_the_missing_tasks(
    db: DatabaseClient, as_of: datetime
) -> None:
    config = small_config()
    reference = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads")
    expected = await stored(db, reference.run_id)
    await db.pool.execute("DELETE FROM optimisation_runs")  # a fresh start with the same inputs

    class Stop(Exception):
        pass

    def stop_after_five(done: int, total: int) -> None:
        if done >= 5:
            raise Stop

    with pytest.raises(Stop):
        await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads", progress=stop_after_five)
    interrupted = await db.pool.fetchrow("SELECT run_id, status, tasks_done FROM optimisation_runs")
    assert interrupted["status"] == "interrupted"
    assert interrupted["tasks_done"] == 5
    resumed = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads")
    assert resumed.resumed
    assert resumed.run_id == interrupted["run_id"]
    assert resumed.tasks_total == 8 * len(SYMBOLS)
    assert resumed.tasks_run == resumed.tasks_total - 5
    assert await stored(db, resumed.run_id) == [(*k[:1], *k[1:]) for k in expected]


@pytest.mark.slow
async def test_dask_local_cluster_equals_threads_and_survives_a_killed_worker(
    db: DatabaseClient, as_of: datetime
) -> None:
    config = small_config(workers=2)
    threads = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads")
    expected = await stored(db, threads.run_id)
    await db.pool.execute("DELETE FROM optimisation_runs")
    seen: dict[str, Any] = {}

    def on_executor(name: str, dashboard: str | None) -> None:
        seen["name"], seen["dashboard"] = name, dashboard

    dask = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="dask", on_executor=on_executor)
    assert seen["name"].startswith("dask LocalCluster (2 worker processes")
    assert seen["dashboard"]
    assert await stored(db, dask.run_id) == expected
    assert {t.symbol: t.choice for t in dask.tokens} == {t.symbol: t.choice for t in threads.tokens}

    # A worker process killed mid-run: its tasks rerun on the other; nothing lost, nothing twice.
    await db.pool.execute("DELETE FROM optimisation_runs")
    from algo_trade_optimisation import DaskExecutor

    killed: list[int] = []
    original_enter = DaskExecutor.__aenter__

    async def enter(self: DaskExecutor) -> DaskExecutor:
        entered = await original_enter(self)
        pids = await self.client.run(os.getpid)
        self._victim = sorted(pids.values())[0]  # type: ignore[attr-defined]
        return entered

    def kill_one(done: int, total: int) -> None:
        if done == 2 and not killed:
            killed.append(victim[0])
            os.kill(victim[0], signal.SIGKILL)

    victim: list[int] = []

    async def enter_and_remember(self: DaskExecutor) -> DaskExecutor:
        entered = await enter(self)
        victim.append(self._victim)  # type: ignore[attr-defined]
        return entered

    DaskExecutor.__aenter__ = enter_and_remember  # type: ignore[method-assign]
    try:
        survived = await run_optimisation(
            config, db, SYMBOLS, as_of=as_of, executor="dask", progress=kill_one
        )
    finally:
        DaskExecutor.__aenter__ = original_enter  # type: ignore[method-assign]
    assert killed
    assert survived.status == "ok"
    assert await stored(db, survived.run_id) == expected


@pytest.mark.slow
async def test_a_task_the_scheduler_cancels_is_resubmitted_and_counted_once(
    db: DatabaseClient, as_of: datetime
) -> None:
    """A dead worker can take a token's scattered bars with it, and the scheduler then cancels the
    tasks that needed them; the executor scatters the bars again and resubmits: nothing lost, nothing
    twice. Here the first submitted task is cancelled the way the scheduler does it."""
    import asyncio

    from algo_trade_optimisation import DaskExecutor

    config = small_config(workers=2)
    threads = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads")
    expected = await stored(db, threads.run_id)
    await db.pool.execute("DELETE FROM optimisation_runs")
    cancelled: list[Any] = []
    cancels: list[asyncio.Future[Any]] = []
    original_enter = DaskExecutor.__aenter__

    async def enter(self: DaskExecutor) -> DaskExecutor:
        entered = await original_enter(self)
        client = self.client
        submit = client.submit

        def submit_and_cancel_the_first(*args: Any, **kwargs: Any) -> Any:
            future = submit(*args, **kwargs)
            if not cancelled:
                cancelled.append(future)
                cancels.append(asyncio.ensure_future(client.cancel([future])))
            return future

        client.submit = submit_and_cancel_the_first
        return entered

    DaskExecutor.__aenter__ = enter  # type: ignore[method-assign]
    try:
        run = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="dask")
    finally:
        DaskExecutor.__aenter__ = original_enter  # type: ignore[method-assign]
    assert cancelled
    assert cancelled[0].status == "cancelled"
    assert run.status == "ok"
    assert await stored(db, run.run_id) == expected


@pytest.mark.slow
async def test_each_tokens_bars_are_scattered_to_every_worker() -> None:
    """Any worker may run any task of a token, and one that dies must not take the only copy of a
    token's bars (scattered data cannot be recomputed): every worker holds every token's bars."""
    import numpy as np

    from algo_trade_optimisation import DaskExecutor

    n = 50
    close = 100.0 + np.arange(n, dtype=np.float64)
    bars = {
        s: (3_600_000 * np.arange(n, dtype=np.int64), close, close + 1, close - 1, close, np.ones(n))
        for s in SYMBOLS
    }
    async with DaskExecutor(small_config(workers=2).compute) as executor:
        scattered = await executor.scatter_bars(bars, list(SYMBOLS))
        workers = set(await executor.client.nthreads())
        assert len(workers) == 2
        held = await executor.client.who_has(list(scattered.values()))
        assert {key: set(where) for key, where in held.items()} == {
            f.key: workers for f in scattered.values()
        }


async def test_an_unreachable_scheduler_fails_fast_and_stores_nothing(
    db: DatabaseClient, as_of: datetime
) -> None:
    config = small_config(connect_timeout_s=2.0)
    started = datetime.now()  # noqa: DTZ005 - a duration only
    with pytest.raises(
        ComputeError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 2 s"
    ):
        await run_optimisation(config, db, SYMBOLS, as_of=as_of, scheduler_address="tcp://127.0.0.1:9")
    assert (datetime.now() - started).total_seconds() < 15  # noqa: DTZ005
    assert await db.pool.fetchval("SELECT count(*) FROM optimisation_runs") == 0


async def test_a_space_too_large_for_the_budget_is_refused_with_its_size(
    db: DatabaseClient, as_of: datetime
) -> None:
    from dataclasses import replace

    config = small_config(memory_budget_mb=16)
    wide = QuadMaSpace(
        short_1=ValueRange(start=1, stop=40, step=1), long_2=ValueRange(start=30, stop=300, step=1)
    )
    config = replace(config, optimisation=replace(config.optimisation, quad_ma=wide))
    with pytest.raises(
        ConfigError, match=r"\[optimisation.quad_ma\]: the space has .* memory_budget_mb = 16"
    ):
        await run_optimisation(config, db, SYMBOLS, as_of=as_of)
    assert await db.pool.fetchval("SELECT count(*) FROM optimisation_runs") == 0


async def test_n_and_the_sharpe_variance_of_the_dsr_are_read_from_the_stored_trials(
    db: DatabaseClient, as_of: datetime
) -> None:
    """A resumed run recomputes only its missing tasks; its choice still deflates over every STORED
    trial: a stored Sharpe ratio changed behind the run's back moves V[SR] and the DSR."""
    config = small_config()
    reference = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads")
    await db.pool.execute("DELETE FROM optimisation_runs")

    class Stop(Exception):
        pass

    def stop_after_three(done: int, total: int) -> None:
        if done >= 3:
            raise Stop

    with pytest.raises(Stop):
        await run_optimisation(
            config, db, SYMBOLS, as_of=as_of, executor="threads", progress=stop_after_three
        )
    run_id = await db.pool.fetchval("SELECT run_id FROM optimisation_runs")
    tampered = await db.pool.fetchval(
        "UPDATE backtest_trials SET sharpe_ratio = sharpe_ratio + 40 WHERE run_id = $1 AND params_key = "
        "(SELECT min(params_key) FROM backtest_trials WHERE run_id = $1 AND symbol = 'BTC') "
        "AND symbol = 'BTC' RETURNING symbol",
        run_id,
    )
    assert tampered == "BTC"
    resumed = await run_optimisation(config, db, SYMBOLS, as_of=as_of, executor="threads")
    assert resumed.run_id == run_id
    before = {t.symbol: t.choice for t in reference.tokens}
    after = {t.symbol: t.choice for t in resumed.tokens}
    n, variance = await db.trial_stats(run_id, "BTC")
    assert after["BTC"] is not None
    assert before["BTC"] is not None
    assert after["BTC"].n_trials == n == PER_TOKEN
    assert after["BTC"].sharpe_variance == pytest.approx(variance / bars_per_year("1h"))
    assert after["BTC"].sharpe_variance > before["BTC"].sharpe_variance  # the stored outlier counts
    assert after["ETH"] == before["ETH"]  # untouched tokens: the same choice, same deflation
