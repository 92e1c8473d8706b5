"""Input that is not candles is refused by name: empty files, absurd magnitudes, names that are no coin.

Also: the pre-listing zero-volume bars of real Hyperliquid files are dropped on import and counted, and
an import the database breaks off says which files it had committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from algo_trade_core import CandleValidationError, DatabaseError, DataError
from algo_trade_data._candles import parse_candle
from algo_trade_data._database import DatabaseClient
from algo_trade_data._files import FileImportResult, ImportInterrupted, import_candle_files, read_candle_file
from algo_trade_data._symbols import check_symbol, symbol_problem
from algo_trade_data.testing import hyperliquid_file, shared_data_dir, temporary_client

MakeCandles = Callable[..., pl.DataFrame]
INJECTION = "BTC'; DROP TABLE ohlcv;--"
HEADER = "timestamp,symbol,open,high,low,close,volume\n"
RECORDED = shared_data_dir() / "hyperliquid-recorded"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- symbols --------------------------------------------------------------------------------------


def recorded_names() -> list[str]:
    """Every coin name in the recorded real ``meta`` and ``spotMetaAndAssetCtxs`` answers."""
    if not RECORDED.is_dir():
        pytest.skip(f"recorded Hyperliquid answers not found at {RECORDED}")
    names: set[str] = set()
    for path in RECORDED.glob("*.yaml"):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            body = interaction["response"]["body"]["string"]
            names.update(re.findall(r'"name"\s*:\s*"([^"]+)"', body))
    return sorted(names)


def test_every_name_the_exchange_uses_is_accepted() -> None:
    names = recorded_names()
    assert {"BTC", "kPEPE", "MATIC", "PURR/USDC", "@107"} <= set(names)
    assert [n for n in names if symbol_problem(n) is not None] == []
    for name in ("xyz:TSLA", "0G", "1000PEPE", "BTCUSDT", "S"):  # HIP-3 dex, digits first, other venues
        assert symbol_problem(name) is None, name


@pytest.mark.parametrize(
    "name", [INJECTION, "", "BTC ", "B TC", "BTC\n", "../etc/passwd", "BTC;", "'", "X" * 33, "ÄBC"]
)
def test_anything_else_is_not_a_coin(name: str) -> None:
    problem = symbol_problem(name)
    assert problem is not None
    assert "is not a coin name" in problem
    with pytest.raises(DataError, match=r"--symbol: .* is not a coin name"):
        check_symbol(name, where="--symbol")


async def test_an_injected_symbol_is_refused_at_import_and_by_the_store(
    tmp_path: Path, clean_db: DatabaseClient, make_candles: MakeCandles
) -> None:
    in_column = write(
        tmp_path,
        "evil.csv",
        HEADER + f'2025-01-01T00:00:00Z,"{INJECTION}",10,11,9,10.5,1\n',
    )
    given = write(
        tmp_path, "plain.csv", "timestamp,open,high,low,close,volume\n2025-01-01T00:00:00Z,10,11,9,10,1\n"
    )
    results = await import_candle_files(clean_db, [in_column, given], interval="1m", symbol=None)
    assert results[0].error is not None
    assert "evil.csv: row 1" in results[0].error
    assert "is not a coin name" in results[0].error
    with pytest.raises(DataError, match=r"plain.csv: symbol: .* is not a coin name"):
        read_candle_file(given, INJECTION, "1m")
    with pytest.raises(CandleValidationError, match="is not a coin name"):
        await clean_db.upsert_candles(make_candles(INJECTION, 3))
    assert await clean_db.candle_status() == []


# -- magnitudes and empty files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("2025-01-01T00:01:00Z,BTC,1e300,1e300,9,10,1", "open"),
        ("2025-01-01T00:01:00Z,BTC,10,2e12,9,10,1", "high"),
        ("2025-01-01T00:01:00Z,BTC,10,11,9,10,1e16", "volume"),
    ],
)
async def test_absurd_magnitudes_are_refused_naming_file_row_and_column(
    tmp_path: Path, clean_db: DatabaseClient, row: str, column: str
) -> None:
    path = write(tmp_path, "big.csv", HEADER + "2025-01-01T00:00:00Z,BTC,10,11,9,10,1\n" + row + "\n")
    [result] = await import_candle_files(clean_db, [path], interval="1m")
    assert result.error is not None
    assert f"big.csv: row 2 (line 3), 2025-01-01T00:01:00Z: {column} " in result.error
    assert "is not a plausible" in result.error
    assert await clean_db.candle_status() == []


def test_an_absurd_price_from_the_exchange_is_refused() -> None:
    bar = {
        "t": 0,
        "T": 59_999,
        "s": "BTC",
        "i": "1m",
        "o": "1e300",
        "h": "1e300",
        "l": "1",
        "c": "2",
        "v": "1",
        "n": 1,
    }
    with pytest.raises(
        CandleValidationError, match=r"BTC 1m candle #0 .*open 1e\+300 is not a plausible price"
    ):
        parse_candle(bar, coin="BTC", interval="1m")


async def test_a_header_only_csv_says_no_rows(tmp_path: Path, clean_db: DatabaseClient) -> None:
    path = write(tmp_path, "empty.csv", HEADER)
    [result] = await import_candle_files(clean_db, [path], interval="1m")
    assert not result.ok
    assert result.error == "no rows: the file holds a header but no data rows; nothing imported"


# -- leading zero-volume bars ----------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "interval", "leading"), [("BTC", "1d", 921), ("SOL", "4h", 566)])
async def test_pre_listing_zero_volume_bars_are_dropped_and_counted(
    clean_db: DatabaseClient, symbol: str, interval: str, leading: int
) -> None:
    path = hyperliquid_file(symbol, interval)
    source = pl.read_ipc(path)
    [result] = await import_candle_files(clean_db, [path])
    assert result.ok, result.error
    assert result.dropped_zero_volume == leading
    assert result.rows == source.height - leading
    first_traded = source.filter(pl.col("volume") > 0)["date"][0]
    assert result.first is not None
    assert result.first.replace(tzinfo=None) == first_traded.replace(tzinfo=None)
    [status] = await clean_db.candle_status(symbol, interval)
    assert status.bars == source.height - leading
    # Zero-volume bars after the listing are real bars without trades: they stay.
    assert (await clean_db.query_candles(symbol, interval, result.first, status.last))["volume"].min() >= 0


# -- an import the database breaks off ------------------------------------------------------------


async def test_an_interrupted_import_names_the_files_it_committed(
    tmp_path: Path, make_candles: MakeCandles
) -> None:
    paths = []
    for i, symbol in enumerate(("AAA", "BBB", "CCC", "DDD")):
        paths.append(tmp_path / f"{symbol}.parquet")
        make_candles(symbol, 20, seed=i).drop("exchange", "interval", "trades").write_parquet(paths[-1])
    async with temporary_client(max_connections=2) as victim:
        seen: list[str] = []

        def after(result: FileImportResult) -> None:
            seen.append(result.path.name)
            if len(seen) == 2:
                victim.pool.terminate()  # the database goes away after the second file

        with pytest.raises(ImportInterrupted) as info:
            await import_candle_files(victim, paths, interval="1m", on_result=after)
    message = str(info.value)
    assert isinstance(info.value, DatabaseError)
    assert "the import stopped at CCC.parquet (nothing of it stored)" in message
    assert "committed before the failure (stored): AAA.parquet, BBB.parquet" in message
    assert "not tried: 1 file(s)" in message
    assert [r.path.name for r in info.value.committed] == ["AAA.parquet", "BBB.parquet"]
    assert info.value.remaining == [paths[3]]
