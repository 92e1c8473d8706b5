"""Candle files: reading, validation, CSV/Parquet round trips, and import into the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from algo_trade_core import CandleValidationError, DataError
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._database import DatabaseClient
from algo_trade_data._files import (
    import_candle_files,
    parse_freqtrade_name,
    read_candle_file,
    write_candle_file,
)
from algo_trade_data.testing import shared_data_dir

HYPERLIQUID = shared_data_dir() / "real-candles" / "hyperliquid-perp"
MakeCandles = Callable[..., pl.DataFrame]
T0 = datetime(2025, 1, 1, tzinfo=UTC)

ORIGINAL_CSV = """timestamp,symbol,open,high,low,close,volume
2025-07-21T11:28:00+00:00,BTC,118700.5,118712,118654,118675,2.63688
2025-07-21T11:29:00Z,BTC,118675,118720,118670,118713,7.19912
2025-07-21 11:30:00.000+00:00,BTC,118713,118730,118713,118714,16.52904
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "symbol", "interval", "kind"),
    [
        ("BTC_USDC_USDC-1m-futures.feather", "BTC", "1m", "futures"),
        ("kPEPE_USDC_USDC-1h-futures.feather", "kPEPE", "1h", "futures"),
        ("1000PEPE_USDT_USDT-4h-futures.feather", "1000PEPE", "4h", "futures"),
        ("ETH_USDT-1d.feather", "ETH", "1d", None),
        ("BTC_USDT-1Mo.feather", "BTC", "1M", None),
        ("BTC_USDC_USDC-1h-funding_rate.feather", "BTC", "1h", "funding_rate"),
    ],
)
def test_freqtrade_names(name: str, symbol: str, interval: str, kind: str | None) -> None:
    parsed = parse_freqtrade_name(name)
    assert parsed is not None
    assert (parsed.symbol, parsed.interval, parsed.kind) == (symbol, interval, kind)
    assert parse_freqtrade_name("candles.feather") is None


def test_the_original_csv_format_reads_with_the_interval_given(tmp_path: Path) -> None:
    path = write(tmp_path, "btc.csv", ORIGINAL_CSV)
    frame = read_candle_file(path, interval="1m")
    assert frame.schema == CANDLE_FRAME_SCHEMA
    assert frame["timestamp"].to_list() == [datetime(2025, 7, 21, 11, m, tzinfo=UTC) for m in (28, 29, 30)]
    assert frame["symbol"].to_list() == ["BTC"] * 3
    assert frame["open"].to_list() == [118700.5, 118675.0, 118713.0]
    assert frame["trades"].null_count() == 3
    with pytest.raises(DataError, match="no interval column and none given"):
        read_candle_file(path)
    with pytest.raises(DataError, match="'ETH' was given as symbol, but the file says BTC"):
        read_candle_file(path, "ETH", "1m")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_then_read_gives_the_same_frame(tmp_path: Path, make_candles: MakeCandles, suffix: str) -> None:
    frame = pl.concat(
        [
            make_candles("kPEPE", 50, price=0.0123456),
            make_candles("BTC", 50, price=104523.0, exchange="binance", trades=False),
        ]
    ).with_columns(volume=pl.col("volume") * 1e6 + 0.125)
    path = write_candle_file(frame, tmp_path / f"out{suffix}")
    assert_frame_equal(read_candle_file(path), frame)


def test_the_written_csv_starts_with_the_original_columns(tmp_path: Path, make_candles: MakeCandles) -> None:
    path = write_candle_file(make_candles("SOL", 2, interval="1h"), tmp_path / "sol.csv")
    header, first = path.read_text().splitlines()[:2]
    assert header == "timestamp,symbol,open,high,low,close,volume,interval,exchange,trades"
    assert first.startswith("2025-01-01T00:00:00+00:00,SOL,")


def test_write_fills_missing_symbol_and_interval(tmp_path: Path, make_candles: MakeCandles) -> None:
    frame = make_candles("SUI", 3).drop("symbol", "interval", "exchange")
    path = write_candle_file(frame, tmp_path / "x.parquet", symbol="SUI", interval="1m")
    assert read_candle_file(path)["symbol"].to_list() == ["SUI"] * 3
    with pytest.raises(DataError, match="unknown candle file type"):
        write_candle_file(frame, tmp_path / "x.json", symbol="SUI", interval="1m")


def _bad_csv(kind: str) -> str:
    lines = ORIGINAL_CSV.strip().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    if kind == "missing column":
        return "\n".join(",".join(r[:5] + r[6:]) for r in [lines[0].split(","), *rows]) + "\n"
    if kind == "nan":
        rows[1][5] = "NaN"
    elif kind == "unsorted":
        rows[1][0], rows[2][0] = rows[2][0], rows[1][0]
    elif kind == "duplicate":
        rows[2][0] = rows[1][0]
    elif kind == "high below low":
        rows[1][3], rows[1][4] = "118600", "118650"
    elif kind == "not a number":
        rows[1][2] = "12x"
    elif kind == "empty cell":
        rows[1][6] = ""
    elif kind == "bad time":
        rows[1][0] = "21/07/2025 11:29"
    elif kind == "misaligned":
        rows[1][0] = "2025-07-21T11:29:30+00:00"
    return "\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing column", r"bad\.csv: missing column\(s\) close"),
        ("nan", r"bad\.csv: row 2 \(line 3\), 2025-07-21T11:29:00Z: close is not a finite number"),
        ("unsorted", r"bad\.csv: row 3 \(line 4\), 2025-07-21T11:29:00Z: timestamps not sorted"),
        ("duplicate", r"bad\.csv: row 3 \(line 4\), 2025-07-21T11:29:00Z: duplicate timestamp"),
        (
            "high below low",
            r"bad\.csv: row 2 \(line 3\), 2025-07-21T11:29:00Z: high 118600.0 is below low 118650.0",
        ),
        ("not a number", r"bad\.csv: row 2 \(line 3\): open '12x' is not a number"),
        ("empty cell", r"bad\.csv: row 2 \(line 3\), 2025-07-21T11:29:00Z: volume is missing"),
        ("bad time", r"bad\.csv: row 2 \(line 3\): timestamp '21/07/2025 11:29' is not an RFC 3339 time"),
        ("misaligned", r"bad\.csv: row 2 \(line 3\), 2025-07-21T11:29:30Z: .*not aligned to the 1m interval"),
    ],
)
def test_bad_files_are_rejected_naming_file_and_row(tmp_path: Path, kind: str, expected: str) -> None:
    path = write(tmp_path, "bad.csv", _bad_csv(kind))
    with pytest.raises(DataError, match=expected):
        read_candle_file(path, interval="1m")


def test_unsorted_rows_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", _bad_csv("unsorted"))
    with pytest.raises(CandleValidationError) as info:
        read_candle_file(path, interval="1m")
    assert str(info.value) == (
        f"{path}: row 3 (line 4), 2025-07-21T11:29:00Z: timestamps not sorted: 2025-07-21T11:29:00Z comes "
        "after 2025-07-21T11:30:00Z (rows must be in increasing time order)"
    )


def test_feather_files_take_symbol_and_interval_from_the_name(
    tmp_path: Path, make_candles: MakeCandles
) -> None:
    frame = make_candles("kPEPE", 30, interval="1h", price=0.0145)
    freqtrade = frame.select(
        pl.col("timestamp").dt.cast_time_unit("ns").alias("date"), "open", "high", "low", "close", "volume"
    )
    path = tmp_path / "kPEPE_USDC_USDC-1h-futures.feather"
    freqtrade.write_ipc(path, compression="lz4")
    assert_frame_equal(read_candle_file(path), frame.with_columns(trades=pl.lit(None, pl.Int64)))
    assert read_candle_file(path, symbol="PEPE")["symbol"][0] == "PEPE"  # an explicit symbol wins
    funding = tmp_path / "kPEPE_USDC_USDC-1h-funding_rate.feather"
    freqtrade.write_ipc(funding)
    with pytest.raises(DataError, match="a freqtrade 'funding_rate' file, not trade candles"):
        read_candle_file(funding)
    with pytest.raises(DataError, match="a freqtrade 'mark' file"):
        read_candle_file(tmp_path / "BTC_USDC_USDC-1h-mark.feather")


def test_written_feather_is_freqtrades_file_and_reads_back(tmp_path: Path, make_candles: MakeCandles) -> None:
    frame = make_candles("kPEPE", 40, interval="4h", price=0.0145)
    path = write_candle_file(frame, tmp_path / "kPEPE_USDC_USDC-4h-futures.feather")
    raw = pl.read_ipc(path)
    assert raw.columns == ["date", "open", "high", "low", "close", "volume"]  # what freqtrade reads
    assert raw["date"].dtype == pl.Datetime("ms", "UTC")
    assert_frame_equal(read_candle_file(path), frame.with_columns(trades=pl.lit(None, pl.Int64)))
    # --format wins over an unknown suffix
    other = write_candle_file(frame, tmp_path / "pepe.bin", file_format="feather")
    assert_frame_equal(pl.read_ipc(other), raw)


def test_feather_refuses_several_symbols_and_writes_nothing(
    tmp_path: Path, make_candles: MakeCandles
) -> None:
    frame = pl.concat([make_candles("BTC", 5), make_candles("ETH", 5)])
    target = tmp_path / "both.feather"
    with pytest.raises(DataError, match=r"both.feather: a Feather file holds one symbol .* got BTC, ETH"):
        write_candle_file(frame, target)
    assert list(tmp_path.iterdir()) == []


def test_leading_zero_volume_bars_can_be_dropped(tmp_path: Path, make_candles: MakeCandles) -> None:
    frame = make_candles("BTC", 10, interval="1d").with_columns(
        volume=pl.when(pl.int_range(pl.len()).is_in([0, 1, 2, 6])).then(0.0).otherwise(pl.col("volume"))
    )
    path = write_candle_file(frame, tmp_path / "btc.parquet")
    assert read_candle_file(path).height == 10
    assert read_candle_file(path, drop_leading_zero_volume=True).height == 7  # bar 6 stays


async def test_import_writes_good_files_and_nothing_of_bad_ones(
    clean_db: DatabaseClient, tmp_path: Path, make_candles: MakeCandles
) -> None:
    good = write_candle_file(make_candles("ETH", 40), tmp_path / "eth.csv")
    bad_frame = make_candles("SOL", 40)
    bad = tmp_path / "sol.csv"
    bad_frame.write_csv(bad)
    # Corrupt only the 31st data row: rows 1-30 are fine, and still nothing of the file may be written.
    lines = bad.read_text().splitlines()
    cells = lines[31].split(",")
    cells[5], cells[6] = cells[6], str(float(cells[6]) * 2)  # high < low
    lines[31] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    seen: list[str] = []
    results = await import_candle_files(clean_db, [bad, good], on_result=lambda r: seen.append(r.path.name))
    assert seen == ["sol.csv", "eth.csv"]
    rejected, imported = results
    assert not rejected.ok
    assert rejected.error is not None
    assert "sol.csv: row 31 (line 32), 2025-01-01T00:30:00Z: high" in rejected.error
    assert (imported.rows, imported.written, imported.symbol, imported.interval) == (40, 40, "ETH", "1m")
    status = await clean_db.candle_status()
    assert [(s.symbol, s.bars) for s in status] == [("ETH", 40)]


def _hyperliquid_files() -> list[Path]:
    return sorted(HYPERLIQUID.glob("*-1h-futures.feather")) + sorted(HYPERLIQUID.glob("*-1m-futures.feather"))


@pytest.mark.skipif(not HYPERLIQUID.is_dir(), reason=f"real candle files not present ({HYPERLIQUID})")
async def test_the_real_hyperliquid_files_import_with_matching_counts(clean_db: DatabaseClient) -> None:
    files = _hyperliquid_files()
    assert len(files) == 40  # 20 tokens x (1h, 1m)
    results = await import_candle_files(clean_db, files)
    assert [r.error for r in results if not r.ok] == []
    expected = {}
    for path, result in zip(files, results, strict=True):
        name = parse_freqtrade_name(path.name)
        assert name is not None
        source = pl.read_ipc(path)
        leading_zero_volume = source["volume"].cum_max().eq(0).sum()  # before the listing: dropped
        assert result.dropped_zero_volume == leading_zero_volume
        expected[(name.symbol, name.interval)] = source.height - leading_zero_volume
    assert sum(r.dropped_zero_volume for r in results) == 90 + 1 + 21  # POL 1h and 1m, S 1h
    status = await clean_db.candle_status()
    assert {(s.symbol, s.interval): s.bars for s in status} == expected
    symbols = {symbol for symbol, _ in expected}
    assert len(symbols) == 20
    assert {"kPEPE", "kSHIB", "kBONK", "POL", "S", "BTC"} <= symbols
    kpepe = await clean_db.query_candles(
        "kPEPE", "1m", datetime(2025, 7, 21, 7, 48, tzinfo=UTC), T0 + timedelta(days=365)
    )
    source = pl.read_ipc(HYPERLIQUID / "kPEPE_USDC_USDC-1m-futures.feather")
    assert kpepe["close"].to_list() == source["close"].to_list()
