"""`algo-trade doctor`: one line per check (database, schema, TimescaleDB, coverage, exchange, numba),
each with the command that fixes it; exit 1 when a check fails."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from algo_trade_cli.cmd_doctor import coverage_check
from algo_trade_data import DatabaseClient, synthetic_candles
from algo_trade_data.testing import FakeHyperliquid, temporary_database

from .conftest import Cli


@pytest.fixture(scope="module")
async def doctor_url() -> AsyncIterator[str]:
    async with temporary_database() as url:
        async with await DatabaseClient.connect(url) as db:
            end = datetime.now(UTC)
            await db.upsert_candles(synthetic_candles("BTC", "1m", end, 1500))
            await db.upsert_candles(synthetic_candles("ETH", "1m", end, 300))
        yield url


@contextmanager
def fake_exchange(spent: float = 0.0) -> Iterator[str]:
    """A fake Hyperliquid served from another thread's event loop (the CLI runs its own loop).

    ``spent``: request weight another client on the same IP has already used (429s until it refills).
    """
    ready, release = threading.Event(), threading.Event()
    url: list[str] = []

    async def serve() -> None:
        async with FakeHyperliquid() as fake:
            fake.consume_weight(spent)
            url.append(fake.url)
            ready.set()
            await asyncio.to_thread(release.wait)

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(30), "the fake exchange did not start"
        yield url[0]
    finally:
        release.set()
        thread.join(30)


def config(
    tmp_path: Path,
    universe: list[str],
    api_url: str = "http://127.0.0.1:1",
    refresh: bool = False,
    *extra: str,
) -> str:
    path = tmp_path / "doctor.toml"
    path.write_text(
        f"[scheduler]\ntoken_universe = {universe!r}\nbacktest_window_days = 1\ninterval = '1m'\n"
        f"exchange = 'synthetic'\nrefresh_data = {str(refresh).lower()}\n"
        f"[hyperliquid]\napi_url = '{api_url}'\n" + "".join(f"{line}\n" for line in extra)
    )
    return str(path)


def checks(cli: Cli, *args: str, code: int) -> dict[str, dict[str, Any]]:
    out = json.loads(cli("doctor", *args, "--json", code=code, stdout_only=True))
    assert out["ok"] is (code == 0)
    return {c["name"]: c for c in out["checks"]}


def test_a_healthy_set_up_with_partial_coverage(doctor_url: str, tmp_path: Path) -> None:
    cli = Cli(doctor_url)
    with fake_exchange() as api:
        cfg = config(tmp_path, ["BTC", "ETH"], api)
        found = checks(cli, "--config", cfg, code=0)
        table = " ".join(cli("doctor", "--config", cfg).replace("│", " ").split())
    assert found["database"]["status"] == "OK"
    assert found["schema"]["status"] == "OK"
    assert found["TimescaleDB"]["status"] in ("OK", "WARN")
    assert found["exchange"]["status"] == "OK"
    coverage = found["coverage 1m"]
    assert coverage["status"] == "WARN"
    rows = {r["symbol"]: r for r in coverage["rows"]}
    assert rows["BTC"]["coverage"] >= 0.99
    assert rows["BTC"]["expected"] == 1439  # 1 day of 1m bars that have closed
    assert 0.19 < rows["ETH"]["coverage"] < 0.22  # 300 bars of 1439
    assert "algo-trade data fetch -i 1m --days 1" in coverage["fix"]
    assert "coverage 1m WARN" in table
    assert "tokens below 99%" in table
    assert "ETH 300 1,439 20.8%" in table


def test_nothing_in_the_window_and_nothing_to_fetch_it_fails(doctor_url: str, tmp_path: Path) -> None:
    cli = Cli(doctor_url)
    found = checks(cli, "--offline", "--config", config(tmp_path, ["ZZZ", "YYY"]), code=1)
    assert found["coverage 1m"]["status"] == "FAIL"
    assert "refresh_data = false" in found["coverage 1m"]["detail"]
    assert found["exchange"]["status"] == "SKIP"
    out = " ".join(cli("doctor", "--offline", "--config", config(tmp_path, ["ZZZ"]), code=1).split())
    assert "doctor: FAIL" in out
    assert "[scheduler] refresh_data = false" in out  # shown as written, not read as markup


def test_an_unreachable_database_fails_with_how_to_start_it(tmp_path: Path) -> None:
    cli = Cli("postgresql://algo_trade@127.0.0.1:1/nowhere")
    found = checks(cli, "--offline", "--config", config(tmp_path, ["BTC"]), code=1)
    assert found["database"]["status"] == "FAIL"
    assert "make db-up" in found["database"]["fix"]
    assert "schema" not in found


def test_an_unreachable_exchange_or_a_dead_token_warns(doctor_url: str, tmp_path: Path) -> None:
    cli = Cli(doctor_url)
    found = checks(cli, "--config", config(tmp_path, ["BTC"]), code=0)
    assert found["exchange"]["status"] == "WARN"
    assert "not reachable" in found["exchange"]["detail"]
    assert "--no-refresh" in found["exchange"]["fix"]
    with fake_exchange() as api:
        found = checks(cli, "--config", config(tmp_path, ["BTC", "MATIC"], api), code=0)
    assert found["exchange"]["status"] == "WARN"
    assert "MATIC" in found["exchange"]["detail"]


def test_warm_compiles_the_kernels(doctor_url: str, tmp_path: Path) -> None:
    found = checks(Cli(doctor_url), "--offline", "--warm", "--config", config(tmp_path, ["BTC"]), code=0)
    assert found["numba cache"]["status"] == "OK"
    assert found["numba cache"]["detail"].startswith("warm")


def test_coverage_levels() -> None:
    full = coverage_check("1h", 30, 720, {"BTC": 720, "ETH": 715}, latest=None, refresh=False)
    assert full.status == "OK"
    partial = coverage_check("1h", 30, 720, {"BTC": 720, "ETH": 0}, latest=None, refresh=False)
    assert partial.status == "WARN"
    assert "1/2 token(s) covered; ETH 0.0%" in partial.detail
    empty = coverage_check(
        "1h", 30, 720, {"BTC": 0}, latest=datetime(2025, 7, 26, 4, tzinfo=UTC), refresh=False
    )
    assert empty.status == "FAIL"
    assert empty.fix is not None
    assert "algo-trade sweep -i 1h --as-of 2025-07-26T04:00" in empty.fix
    assert coverage_check("1h", 30, 720, {"BTC": 0}, latest=None, refresh=True).status == "WARN"


def test_a_spent_rate_limit_budget_is_an_answer_not_a_wait(doctor_url: str, tmp_path: Path) -> None:
    # 1,580 of 1,200 weight spent: the fake answers 429 with Retry-After 20 s. The probe reports it
    # instead of waiting it out (429s are otherwise retried until [hyperliquid] retry_deadline_s).
    with fake_exchange(spent=1_580) as api:
        # A budget of its own: the process shares one limiter per URL and budget, and the pause this
        # 429 sets must not reach a later test whose fake gets the same port.
        cfg = config(tmp_path, ["BTC"], api, False, "weight_per_minute = 1199")
        found = checks(Cli(doctor_url), "--config", cfg, code=0)
    assert found["exchange"]["status"] == "WARN"
    assert "RateLimited" in found["exchange"]["detail"]
    assert "HTTP 429" in found["exchange"]["detail"]
