"""The cron job: fires on a seconds-level schedule, never overlaps, shuts down cleanly."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl
import pytest

from algo_trade_backtest_scheduler import BacktestScheduler, RunSummary, cron_trigger, jobs_from_config
from algo_trade_core import ConfigError, ParameterSet, SchedulerConfig, StrategyConfig, next_fire_times
from algo_trade_data import DatabaseClient, synthetic_candles
from algo_trade_data.testing import wait_for


class SlowDatabase:
    """The real client, with loading slowed so one sweep outlasts the 2-second cron interval."""

    def __init__(self, db: DatabaseClient, delay: float) -> None:
        self._db = db
        self._delay = delay

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)

    async def query_candles(self, *args: object, **kw: object) -> pl.DataFrame:
        await asyncio.sleep(self._delay)
        return await self._db.query_candles(*args, **kw)  # type: ignore[arg-type]


def test_trigger_uses_names_for_weekdays() -> None:
    trigger = cron_trigger("0 30 9 * * 1-5")
    assert "day_of_week='mon,tue,wed,thu,fri'" in str(trigger)
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 28, tzinfo=UTC))  # a Saturday
    assert fire == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # Monday


def test_trigger_fires_on_day_of_month_or_day_of_week() -> None:
    # Classic cron: the 1st of the month OR a Monday. One CronTrigger with both fields waited for a
    # Monday the 1st (2027-02-01) while the configuration check announced 2026-11-30.
    trigger = cron_trigger("0 0 3 1 * mon")
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 25, tzinfo=UTC))
    assert fire == datetime(2026, 11, 30, 3, tzinfo=UTC)
    assert trigger.get_next_fire_time(fire, fire) == datetime(2026, 12, 1, 3, tzinfo=UTC)


async def test_daemon_schedules_the_same_fire_times_as_the_configuration_shows(db: DatabaseClient) -> None:
    cfg = SchedulerConfig(cron_expression="0 0 3 1 * mon", token_universe=("X",), refresh_data=False)
    scheduler = BacktestScheduler(cfg, db, None)
    scheduler.start()
    try:
        scheduled = scheduler.next_fire_time()
    finally:
        await scheduler.shutdown()
    assert scheduled is not None
    assert scheduled == next_fire_times(cfg.cron_expression, datetime.now(UTC), 1)[0]


def test_parameter_sets_come_from_config() -> None:
    cfg = SchedulerConfig(
        parameter_sets=(
            ParameterSet(strategy="quad_ma", params={"trend": 200}),
            ParameterSet(strategy="ma_crossover", params={"fast": 5, "slow": 20}),
        )
    )
    jobs = jobs_from_config(cfg, StrategyConfig())
    assert [(j.strategy, j.params_dict().get("trend"), j.params_dict().get("fast")) for j in jobs] == [
        ("quad_ma", 200, None),
        ("ma_crossover", None, 5),
    ]
    assert len({j.params_hash for j in jobs}) == 2
    with pytest.raises(ConfigError, match=r"parameter_sets\[0\]\.params\.colour: unknown quad_ma parameter"):
        jobs_from_config(
            replace(cfg, parameter_sets=(ParameterSet(strategy="quad_ma", params={"colour": 1}),)),
            StrategyConfig(),
        )
    with pytest.raises(
        ConfigError, match=r"parameter_sets\[0\]\.params\.fast: expected < slow \(30\), got 40"
    ):
        jobs_from_config(
            replace(cfg, parameter_sets=(ParameterSet(strategy="ma_crossover", params={"fast": 40}),)),
            StrategyConfig(),
        )


async def test_cron_fires_repeatedly_without_overlap(db: DatabaseClient) -> None:
    end = datetime.now(UTC)
    await db.upsert_candles(synthetic_candles("CRON", "1m", end, 3 * 1440))
    cfg = SchedulerConfig(
        cron_expression="*/2 * * * * *",
        token_universe=("CRON",),
        backtest_window_days=3,
        refresh_data=False,
        misfire_grace_s=1,
        exchange="synthetic",
    )
    spans: list[tuple[datetime, datetime]] = []

    async def after(summary: RunSummary) -> None:
        spans.append((summary.started_at, summary.finished_at))

    scheduler = BacktestScheduler(cfg, SlowDatabase(db, 2.5), None, after_sweep=after)  # type: ignore[arg-type]
    scheduler.start()
    try:
        assert scheduler.next_fire_time() is not None
        await wait_for(lambda: len(spans) >= 2, timeout=60, what="two sweeps")
    finally:
        await scheduler.shutdown()
    assert all(s.status == "ok" for s in scheduler.runs), [s.errors for s in scheduler.runs]
    ordered = sorted(spans)
    for (_, first_end), (second_start, _) in itertools.pairwise(ordered):
        assert second_start >= first_end, "two sweeps overlapped"
    assert all((b - a).total_seconds() >= 2.5 for a, b in spans)  # each outlasted the cron interval
