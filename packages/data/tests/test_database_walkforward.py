"""Walk-forward studies: stored in one transaction, listed newest first, read back by id or prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from algo_trade_core import DatabaseError
from algo_trade_data import DatabaseClient, WalkForwardPeriodRecord, WalkForwardRunRecord

T0 = datetime(2025, 3, 3, tzinfo=UTC)


def run(run_id: str, **overrides: object) -> WalkForwardRunRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "range_start": T0,
        "range_end": T0 + timedelta(weeks=2),
        "interval": "1h",
        "strategy_name": "quad_ma",
        "params_hash": "abc",
        "settings": {"step_seconds": 604800},
        "summary": {"selection": {"total_return": 0.01}},
        "statistics": {"psr": 0.9, "pbo": None},
        "curves": {"t": [1, 2], "selection": [1.0, 1.01]},
        "verdict": "not distinguishable from luck",
    }
    values.update(overrides)
    return WalkForwardRunRecord(**values)  # type: ignore[arg-type]


def periods() -> list[WalkForwardPeriodRecord]:
    return [
        WalkForwardPeriodRecord(
            period_start=T0 + timedelta(weeks=k),
            period_end=T0 + timedelta(weeks=k + 1),
            approved=["BTC", "ETH"][: k + 1],
            fallback=k == 0,
            turnover=0.5 * k,
            ic=None if k == 0 else -0.2,
            selection_return=0.01 * k,
            universe_return=-0.01,
            random_median_return=0.0,
            token_returns={"BTC": 0.02, "ETH": -0.01},
            details={"missing": {"SOL": "no 1h bars"}},
        )
        for k in range(2)
    ]


async def test_a_study_round_trips_and_is_found_by_a_prefix(clean_db: DatabaseClient) -> None:
    await clean_db.insert_walkforward(run("wf-aaaa1111"), periods())
    await clean_db.insert_walkforward(run("wf-bbbb2222", verdict="second"), periods()[:1])
    listed = await clean_db.list_walkforward_runs()
    assert [r.run_id for r in listed] == ["wf-bbbb2222", "wf-aaaa1111"]  # newest first
    assert [r.periods for r in listed] == [1, 2]
    assert listed[1].curves["selection"] == [1.0, 1.01]
    light = await clean_db.list_walkforward_runs(1, curves=False)
    assert [(r.run_id, r.periods, r.curves) for r in light] == [("wf-bbbb2222", 1, {})]
    assert light[0].summary == listed[0].summary
    found = await clean_db.get_walkforward_run("wf-aaaa")
    assert found is not None
    stored, stored_periods = found
    assert stored.periods is None  # the periods themselves come with it
    assert stored.statistics == {"psr": 0.9, "pbo": None}
    assert stored.curves["selection"] == [1.0, 1.01]
    assert stored_periods == periods()
    assert await clean_db.get_walkforward_run("wf-") is None  # a prefix of two studies names neither
    assert await clean_db.get_walkforward_run("nope") is None


async def test_a_study_with_a_bad_period_stores_nothing(clean_db: DatabaseClient) -> None:
    bad = periods()
    bad.append(bad[0])  # the same period twice: the primary key refuses the batch
    with pytest.raises(DatabaseError):
        await clean_db.insert_walkforward(run("wf-dup"), bad)
    assert await clean_db.list_walkforward_runs() == []
    with pytest.raises(ValueError, match=r"NaN|JSON"):
        await clean_db.insert_walkforward(run("wf-nan", statistics={"psr": float("nan")}), periods())
    assert await clean_db.list_walkforward_runs() == []
