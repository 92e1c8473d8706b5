"""The migrator and TimescaleDB handling against the real local PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from algo_trade_core import DatabaseConfig, DatabaseError
from algo_trade_data._database import DatabaseClient
from algo_trade_data._migrate import Migration, MigrationError, discover_migrations, migrate, sql_directory
from algo_trade_data.testing import (
    resolve_admin_url,
    temporary_client,
    temporary_database,
    truncate_tables,
)

REPO_SQL = Path(__file__).resolve().parents[3] / "sql"


async def _server_timescaledb() -> tuple[bool, str | None]:
    conn = await asyncpg.connect(resolve_admin_url())
    try:
        available = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
        )
        preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
        license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    finally:
        await conn.close()
    return bool(available and "timescaledb" in preload), license_


@pytest.fixture(scope="module")
async def timescaledb_license() -> str:
    """The server's TimescaleDB license; skips the test when the extension is not usable."""
    usable, license_ = await _server_timescaledb()
    if not usable:
        pytest.skip("TimescaleDB is not in pg_available_extensions (or not preloaded) on the test server")
    return license_ or "apache"


@pytest.fixture
async def conn() -> AsyncIterator[Any]:
    """A plain connection to a fresh, empty database."""
    async with temporary_database() as url:
        connection = await asyncpg.connect(url)
        try:
            yield connection
        finally:
            await connection.close()


def copy_sql(tmp_path: Path) -> Path:
    folder = tmp_path / "sql"
    shutil.copytree(Path(str(sql_directory())), folder)
    return folder


def test_the_repository_sql_folder_is_the_packaged_one() -> None:
    assert REPO_SQL.is_dir()
    assert sorted(p.name for p in REPO_SQL.glob("*.sql")) == sorted(m.filename for m in discover_migrations())
    assert [m.filename for m in discover_migrations()] == [
        "001_market_data.sql",
        "001_market_data.timescaledb.sql",
        "002_backtest.sql",
        "002_backtest.timescaledb.sql",
        "003_bots.sql",
        "004_calmar_nullable.sql",
        "005_run_owner.sql",
        "006_latest_results_by_window.sql",
        "012_walkforward.sql",
        "014_optimisation_trials.sql",
        "014_optimisation_trials.timescaledb.sql",
        "015_regime_and_gates.sql",
        "016_bot_events.sql",
    ]


async def test_versions_are_recorded_with_their_checksums(db: DatabaseClient) -> None:
    applied = await db.applied_migrations()
    files: dict[tuple[int, str], Migration] = {(m.version, m.variant): m for m in discover_migrations()}
    expected = {k for k, m in files.items() if m.variant == "base" or db.timescaledb_enabled}
    assert {(a.version, a.variant) for a in applied} == expected
    for row in applied:
        assert row.checksum == files[(row.version, row.variant)].checksum
        assert row.name == files[(row.version, row.variant)].filename


async def test_migrating_again_applies_nothing(db: DatabaseClient) -> None:
    mode = db.timescaledb_enabled  # the mode the session database was built in
    async with db.pool.acquire() as connection:
        report = await migrate(connection, timescaledb=mode)
    assert report.applied == []
    # And a client connecting to an existing database does not migrate either.
    again = await DatabaseClient.connect(db._url, timescaledb=mode)
    try:
        assert again.migration_report is not None
        assert again.migration_report.applied == []
    finally:
        await again.close()


async def test_two_processes_migrating_at_once_apply_each_file_once() -> None:
    async with temporary_database() as url:
        conns = [await asyncpg.connect(url) for _ in range(3)]
        try:
            reports = await asyncio.gather(*(migrate(c) for c in conns))
            applied = [name for r in reports for name in r.applied]
            assert sorted(applied) == sorted(set(applied))  # nobody applied a file twice
            base = {m.filename for m in discover_migrations() if ".timescaledb" not in m.filename}
            assert {name for name in applied if ".timescaledb" not in name} == base
            rows = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
            assert rows == len(applied)
        finally:
            for c in conns:
                await c.close()


async def test_a_changed_applied_file_is_an_error(conn: Any, tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    await migrate(conn, sql_dir=folder, timescaledb=False)
    path = folder / "002_backtest.sql"
    path.write_text(path.read_text() + "\nALTER TABLE bots ADD COLUMN extra int;\n")
    with pytest.raises(MigrationError, match=r"002_backtest.sql was changed after it was applied.*new file"):
        await migrate(conn, sql_dir=folder, timescaledb=False)
    # Line endings alone do not count as a change.
    shutil.copy(Path(str(sql_directory())) / "002_backtest.sql", path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert (await migrate(conn, sql_dir=folder, timescaledb=False)).applied == []


async def test_new_files_are_applied_in_order_and_unknown_applied_ones_refused(
    conn: Any, tmp_path: Path
) -> None:
    folder = copy_sql(tmp_path)
    await migrate(conn, sql_dir=folder, timescaledb=False)
    (folder / "098_more.sql").write_text("CREATE TABLE more_things (id int);\n")
    (folder / "099_even_more.sql").write_text("ALTER TABLE more_things ADD COLUMN name text;\n")
    report = await migrate(conn, sql_dir=folder, timescaledb=False)
    assert report.applied == ["098_more.sql", "099_even_more.sql"]
    (folder / "099_even_more.sql").unlink()
    with pytest.raises(MigrationError, match=r"099_even_more\.sql .*newer version"):
        await migrate(conn, sql_dir=folder, timescaledb=False)


async def test_a_failing_file_is_rolled_back_entirely(conn: Any, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    (folder / "001_ok.sql").write_text("CREATE TABLE ok_table (id int);\n")
    (folder / "002_broken.sql").write_text("CREATE TABLE half (id int);\nSELECT no_such_function();\n")
    with pytest.raises(MigrationError, match=r"002_broken\.sql failed: UndefinedFunctionError"):
        await migrate(conn, sql_dir=folder)
    assert await conn.fetchval("SELECT to_regclass('half')") is None
    assert await conn.fetchval("SELECT to_regclass('ok_table')") is not None
    assert await conn.fetchval("SELECT array_agg(name) FROM schema_migrations") == ["001_ok.sql"]


@pytest.mark.parametrize(
    ("name", "match"),
    [("1_short.sql", "expected NNN_name.sql"), ("001_Upper.sql", "expected NNN_name.sql")],
)
def test_misnamed_files_are_refused(tmp_path: Path, name: str, match: str) -> None:
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=match):
        discover_migrations(tmp_path)


def test_two_names_for_one_version_are_refused(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="version 001 is claimed by two names"):
        discover_migrations(tmp_path)


LICENSE_REFUSAL = """
DO $$ BEGIN
  RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
    MESSAGE = 'function "add_compression_policy" is not supported under the current "apache" license';
END $$;
"""


async def test_license_refused_optional_blocks_are_skipped_with_one_warning(
    conn: Any, tmp_path: Path, captured_warnings: list[str]
) -> None:
    """Simulates TimescaleDB's Apache-license refusal on any server (the real one is tested below)."""
    (tmp_path / "001_things.sql").write_text(
        "CREATE TABLE things (id int);\n"
        "-- @optional: compression of things\n"
        f"CREATE TABLE things_compressed (id int);\n{LICENSE_REFUSAL}"
        "-- @required\n"
        "CREATE TABLE after_optional (id int);\n"
        "-- @optional: retention of things\n"
        f"{LICENSE_REFUSAL}"
    )
    report = await migrate(conn, sql_dir=tmp_path)
    assert report.skipped == ["compression of things", "retention of things"]
    assert len(captured_warnings) == 1
    assert "compression of things; retention of things" in captured_warnings[0]
    assert await conn.fetchval("SELECT to_regclass('after_optional')") is not None
    assert await conn.fetchval("SELECT to_regclass('things_compressed')") is None  # the savepoint rolled back
    assert await conn.fetchval("SELECT skipped FROM schema_migrations") == [
        "compression of things",
        "retention of things",
    ]


async def test_other_errors_in_optional_blocks_fail_the_migration(conn: Any, tmp_path: Path) -> None:
    (tmp_path / "001_things.sql").write_text("CREATE TABLE things (id int);\n-- @optional: x\nSELECT 1/0;\n")
    with pytest.raises(MigrationError, match="optional block 'x' failed: DivisionByZeroError"):
        await migrate(conn, sql_dir=tmp_path)
    assert await conn.fetchval("SELECT to_regclass('things')") is None


async def test_plain_postgresql_mode_works_without_hypertables(make_candles: Any) -> None:
    async with temporary_client(timescaledb=False) as db:
        assert not db.timescaledb_enabled
        assert await db.hypertables() == []
        frame = make_candles("BTC", 100)
        assert await db.upsert_candles(frame) == 100
        assert (
            await db.query_candles("BTC", "1m", frame["timestamp"][0], frame["timestamp"][-1])
        ).height == 99
        assert (await db.apply_retention(1)).chunks_dropped == 0


async def test_hypertables_exist_when_timescaledb_is_installed(
    db: DatabaseClient, timescaledb_license: str
) -> None:
    if not db.timescaledb_enabled:
        pytest.skip("the session database was built without TimescaleDB (ALGO_TRADE_TEST_TIMESCALEDB=off)")
    assert await db.hypertables() == ["backtest_results", "backtest_trials", "ohlcv", "trades"]


async def test_compression_is_refused_under_apache_with_exactly_one_warning(
    timescaledb_license: str, captured_warnings: list[str]
) -> None:
    if timescaledb_license != "apache":
        pytest.skip(f"the server's TimescaleDB license is {timescaledb_license!r}: compression is allowed")
    async with temporary_database() as url:
        db = await DatabaseClient.connect(url)
        try:
            assert db.migration_report is not None
            assert len(db.migration_report.skipped) == 2
        finally:
            await db.close()
        assert len(captured_warnings) == 1, captured_warnings
        message = captured_warnings[0]
        assert "apache" in message
        assert "ohlcv" in message
        assert "backtest_results" in message
        # With a retention period configured, the refused retention policy joins the same single warning.
        captured_warnings.clear()
        db = await DatabaseClient.connect(DatabaseConfig(url=url, retention_days=90))
        await db.close()
        assert len(captured_warnings) == 1
        assert "retention policy on backtest_results (90 days)" in captured_warnings[0]


async def test_timescaledb_arriving_later_converts_existing_tables(
    timescaledb_license: str, make_candles: Any
) -> None:
    async with temporary_database() as url:
        plain = await DatabaseClient.connect(url, timescaledb=False)
        try:
            await plain.upsert_candles(make_candles("BTC", 500))
            assert await plain.hypertables() == []
        finally:
            await plain.close()
        upgraded = await DatabaseClient.connect(url)
        try:
            assert upgraded.migration_report is not None
            assert upgraded.migration_report.applied == [
                "001_market_data.timescaledb.sql",
                "002_backtest.timescaledb.sql",
                "014_optimisation_trials.timescaledb.sql",
            ]
            assert "ohlcv" in await upgraded.hypertables()
            assert len(await upgraded.candle_status()) == 1
            assert (await upgraded.candle_status())[0].bars == 500
        finally:
            await upgraded.close()


async def test_an_unreachable_server_says_how_to_start_it() -> None:
    with pytest.raises(DatabaseError, match="make db-up"):
        async with temporary_database("postgresql://algo_trade@127.0.0.1:9/postgres"):
            pass
    with pytest.raises(DatabaseError, match="make db-up"):
        await DatabaseClient.connect("postgresql://algo_trade@127.0.0.1:9/algo_trade")


async def test_truncate_tables_empties_everything_but_the_schema(
    db: DatabaseClient, make_candles: Any
) -> None:
    await db.upsert_candles(make_candles("ETH", 3))
    await truncate_tables(db)
    assert await db.candle_status() == []
    assert len(await db.applied_migrations()) >= 3
