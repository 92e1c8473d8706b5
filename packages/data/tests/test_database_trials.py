"""The optimisation's store: trial batches (one transaction each), resume by fingerprint, N and V[SR]."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from algo_trade_core import DataError
from algo_trade_data import TRIAL_METRICS, DatabaseClient, TrialBatch, params_key

START = datetime(2025, 3, 1, tzinfo=UTC)


def batch(symbol: str, hashes: list[str], sharpe: list[float]) -> TrialBatch:
    metrics = {name: [0.1] * len(hashes) for name in TRIAL_METRICS}
    metrics["sharpe_ratio"] = sharpe
    metrics["num_trades"] = [12] * len(hashes)
    metrics["profit_factor"] = [math.inf] * len(hashes)
    return TrialBatch(
        symbol=symbol,
        params_hashes=hashes,
        strategies=["ma_crossover"] * len(hashes),
        parameters=[{"fast": i + 1, "slow": 50} for i in range(len(hashes))],
        metrics=metrics,
    )


async def start(db: DatabaseClient, key: str = "k") -> object:
    return await db.start_optimisation_run(
        started_at=START,
        resume_key=key,
        interval="1h",
        window_start=START,
        window_end=START,
        executor="threads",
        tasks_total=2,
        config={},
    )


def test_params_key_is_the_signed_64_bit_hash() -> None:
    assert params_key("0000000000000001") == 1
    assert params_key("ffffffffffffffff") == -1
    assert params_key("8000000000000000") == -(1 << 63)


async def test_batches_counts_stats_and_resume(clean_db: DatabaseClient) -> None:
    db = clean_db
    run = await start(db)
    assert not await db.set_trial_token(run.run_id, "BTC", fingerprint="f1", num_bars=10, window_coverage=1.0)
    hashes = [f"{i:016x}" for i in (1, 2, 3)] + ["ffffffffffffff00"]
    assert await db.insert_trials(run, batch("BTC", hashes[:2], [1.0, 2.0])) == 2
    assert await db.insert_trials(run, batch("BTC", hashes[2:], [3.0, -1.0])) == 2
    assert await db.stored_trial_hashes(run.run_id, "BTC") == set(hashes)
    n, variance = await db.trial_stats(run.run_id, "BTC")
    assert n == 4
    assert variance == pytest.approx(((1 - 1.25) ** 2 + 0.75**2 + 1.75**2 + 2.25**2) / 3)
    trials = await db.query_trials(run.run_id, "BTC")
    assert [t.params_hash for t in trials] == sorted(hashes)
    assert trials[0].parameters == {"fast": 1, "slow": 50}
    assert trials[0].profit_factor is None  # no losing trade: stored as NULL
    stored = await db.get_optimisation_run(run.run_id)
    assert stored is not None
    assert stored.tasks_done == 2
    # Same fingerprint: the trials stay; the run is found again by its inputs while unfinished.
    assert await db.set_trial_token(run.run_id, "BTC", fingerprint="f1", num_bars=10, window_coverage=1.0)
    again = await db.resumable_optimisation_run("k")
    assert again is not None
    assert again.run_id == run.run_id
    # Changed data: the token's stored trials are dropped.
    assert not await db.set_trial_token(run.run_id, "BTC", fingerprint="f2", num_bars=11, window_coverage=1.0)
    assert await db.stored_trial_hashes(run.run_id, "BTC") == set()
    await db.finish_optimisation_run(run.run_id, status="ok", finished_at=START)
    assert await db.resumable_optimisation_run("k") is None


async def test_a_bad_value_stores_nothing_of_the_batch(clean_db: DatabaseClient) -> None:
    run = await start(clean_db)
    bad = batch("ETH", ["0000000000000001", "0000000000000002"], [1.0, math.nan])
    with pytest.raises(DataError, match="params_hash=0000000000000002: sharpe_ratio is not finite"):
        await clean_db.insert_trials(run, bad)
    assert await clean_db.stored_trial_hashes(run.run_id, "ETH") == set()


async def test_latest_choices_take_the_newest_finished_run(clean_db: DatabaseClient) -> None:
    db = clean_db
    first = await start(db, "a")
    second = await start(db, "b")
    for run, strategy in ((first, "quad_ma"), (second, "ma_crossover")):
        await db.set_trial_token(run.run_id, "BTC", fingerprint="f", num_bars=10, window_coverage=1.0)
        await db.record_choice(run.run_id, "BTC", {"strategy": strategy})
    await db.finish_optimisation_run(first.run_id, status="ok", finished_at=START)
    assert (await db.latest_choices("1h"))["BTC"]["strategy"] == "quad_ma"  # the second is unfinished
    await db.finish_optimisation_run(second.run_id, status="ok", finished_at=START)
    choices = await db.latest_choices("1h", ["BTC", "ETH"])
    assert choices["BTC"]["strategy"] == "ma_crossover"
    assert choices["BTC"]["run_id"] == second.run_id
    assert await db.latest_choices("1m") == {}


async def test_the_sharpe_variance_has_the_same_bits_whatever_order_the_trials_were_stored_in(
    clean_db: DatabaseClient,
) -> None:
    """V[SR] (and so the DSR) must be reproducible between runs: the same trials stored in another order
    (a resumed run, Dask's completion order) give the same bits, the exactly rounded sample variance. A
    running float sum (SQL's var_samp) rounds differently by the order it reads the rows in."""
    import random
    import statistics

    rng = random.Random(7)
    sharpe = [rng.choice((1e8, -3e7, 1.0, 1e-3)) * rng.random() for _ in range(400)]
    hashes = [f"{i + 1:016x}" for i in range(len(sharpe))]
    order = list(range(len(sharpe)))
    shuffled = order[:]
    rng.shuffle(shuffled)
    stats, runs = [], []
    for key, indices in (("a", order), ("b", shuffled)):
        run = await start(clean_db, key)
        runs.append(run.run_id)
        for lo in range(0, len(indices), 50):  # batches in this order: the rows' physical order
            part = indices[lo : lo + 50]
            await clean_db.insert_trials(
                run, batch("BTC", [hashes[i] for i in part], [sharpe[i] for i in part])
            )
        stats.append(await clean_db.trial_stats(run.run_id, "BTC"))
    exact = statistics.variance(sharpe)
    assert stats[0] == stats[1] == (len(sharpe), exact)
    # These values are ones where a running sum's rounding shows: var_samp misses the exact bits.
    running = await clean_db.pool.fetchval(
        "SELECT var_samp(sharpe_ratio) FROM backtest_trials WHERE run_id = $1", runs[0]
    )
    assert running == pytest.approx(exact, rel=1e-9)
    assert running != exact
