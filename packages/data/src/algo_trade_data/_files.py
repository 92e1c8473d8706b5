"""Candle files: read and validate CSV, Parquet and freqtrade Feather; write all three; import.

Formats (chosen by suffix):

* **CSV** (``.csv``), as the original system wrote it: a header row and the columns ``timestamp,
  symbol, open, high, low, close, volume`` with RFC 3339 times (``2025-07-21T11:28:00+00:00`` or
  ``...Z``). Optional columns: ``interval``, ``exchange``, ``trades``. Without an ``interval`` column
  the interval must be given.
* **Parquet** (``.parquet``, ``.pq``): the same columns; ``timestamp`` a time-zone-aware datetime (or
  RFC 3339 text).
* **Feather / Arrow IPC** (``.feather``, ``.arrow``, ``.ipc``) as freqtrade writes it: ``date, open,
  high, low, close, volume``; symbol and interval come from the file name
  (``BTC_USDC_USDC-1m-futures.feather`` → BTC, 1m; ``kPEPE_USDC_USDC-1h-futures.feather`` → kPEPE)
  unless given. Funding-rate, mark, index and premium-index files are refused: they are not trade
  candles. Written Feather files are freqtrade's layout too (one symbol and interval per file, LZ4),
  so freqtrade reads them; name them ``BTC_USDC_USDC-1h-futures.feather`` to keep symbol and interval.

Every file is validated completely before anything is written: missing columns, values that are not
numbers, nulls, NaN or infinities, non-positive prices, ``high < low``, ``low > min(open, close)``,
``high < max(open, close)``, negative volume, timestamps that are not strictly increasing (unsorted or
duplicated) or not aligned to the interval. The error names the file, the 1-based data row and the
bar's time; nothing of a bad file is written (each file is one transaction).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

import polars as pl

from algo_trade_core import INTERVALS, CandleValidationError, DatabaseError, DataError
from algo_trade_data._candle_checks import VALUE_COLUMNS, find_candle_problem
from algo_trade_data._candle_frames import prepare_candle_frame
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA
from algo_trade_data._symbols import check_symbol

__all__ = [
    "CANDLE_FILE_FORMATS",
    "CSV_COLUMNS",
    "CandleFileFormat",
    "FileImportResult",
    "FreqtradeName",
    "ImportInterrupted",
    "import_candle_files",
    "parse_freqtrade_name",
    "read_candle_file",
    "read_candle_file_counted",
    "write_candle_file",
]

CSV_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")  # the original's order
_CSV_EXTRA = ("interval", "exchange", "trades")
_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
}
# freqtrade: <BASE>_<QUOTE>[_<SETTLE>]-<timeframe>[-<candle type>].<ext>; months are written "1Mo".
_FREQTRADE_RE = re.compile(
    r"^(?P<pair>[^-]+)-(?P<tf>\d+(?:Mo|[smhdwM]))(?:-(?P<kind>[A-Za-z_]+))?\.(?:feather|arrow|ipc|parquet|csv)$"
)
_OHLCV_KINDS = (None, "futures", "spot")
CandleFileFormat = Literal["csv", "parquet", "feather"]
CANDLE_FILE_FORMATS: tuple[CandleFileFormat, ...] = ("csv", "parquet", "feather")
_RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"


@dataclass(frozen=True, slots=True)
class FreqtradeName:
    """What a freqtrade data file name says: ``BTC_USDC_USDC-1m-futures.feather``."""

    symbol: str  # the base asset, as the exchange names it (kPEPE, BTC)
    pair: str  # BTC_USDC_USDC
    interval: str  # the project's interval name (freqtrade "1Mo" → "1M")
    kind: str | None  # futures, mark, funding_rate, ... (None: spot)


def parse_freqtrade_name(name: str) -> FreqtradeName | None:
    """Parse a freqtrade file name, or return None when it does not follow the convention."""
    match = _FREQTRADE_RE.match(name)
    if match is None:
        return None
    timeframe = match["tf"]
    interval = timeframe[:-2] + "M" if timeframe.endswith("Mo") else timeframe
    return FreqtradeName(match["pair"].split("_")[0], match["pair"], interval, match["kind"])


@dataclass(frozen=True, kw_only=True, slots=True)
class FileImportResult:
    """The outcome of importing one file: rows read and written, or why it was rejected."""

    path: Path
    symbol: str | None = None
    interval: str | None = None
    exchange: str | None = None
    rows: int = 0
    written: int = 0
    first: datetime | None = None
    last: datetime | None = None
    error: str | None = None
    dropped_zero_volume: int = 0  # leading volume-0 bars (before the listing) left out

    @property
    def ok(self) -> bool:
        return self.error is None


class ImportInterrupted(DatabaseError):
    """The database failed in the middle of an import; the files before the failing one are stored.

    ``results`` holds the outcome of every file handled before the failure (each was committed in its
    own transaction, or rejected); ``failed`` is the file whose write failed (nothing of it is stored),
    ``remaining`` the files not tried.
    """

    def __init__(
        self, message: str, *, results: list[FileImportResult], failed: Path, remaining: list[Path]
    ) -> None:
        super().__init__(message)
        self.results = results
        self.failed = failed
        self.remaining = remaining

    @property
    def committed(self) -> list[FileImportResult]:
        """The files whose candles are stored."""
        return [r for r in self.results if r.ok]


class _CandleWriter(Protocol):
    async def upsert_candles(self, frame: pl.DataFrame) -> int: ...


def _format_of(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown candle file type {path.suffix!r}; expected {', '.join(_FORMATS)}")
    return fmt


def _read_raw(path: Path, fmt: str) -> pl.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if fmt == "csv":
            # Everything as text: parsing happens below, where a bad cell can be named.
            raw = pl.read_csv(path, infer_schema=False)
        elif fmt == "parquet":
            raw = pl.read_parquet(path)
        else:
            raw = pl.read_ipc(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it as {fmt}: {exc}") from exc
    return raw.rename({c: c.strip().lower() for c in raw.columns})


def _fail_at(path: Path, fmt: str, row: int, when: str | None, message: str, bad_rows: int = 1) -> DataError:
    line = f" (line {row + 2})" if fmt == "csv" else ""
    at = f", {when}" if when else ""
    more = f" ({bad_rows - 1} more bad row(s))" if bad_rows > 1 else ""
    return CandleValidationError(f"{path}: row {row + 1}{line}{at}: {message}{more}")


def _first_true(mask: pl.Series) -> int | None:
    hits = mask.fill_null(False).arg_true()
    return int(hits[0]) if hits.len() else None


def _parse_times(raw: pl.DataFrame, column: str, path: Path, fmt: str) -> pl.Series:
    series = raw[column]
    if isinstance(series.dtype, pl.Datetime):
        if series.dtype.time_zone is None:
            raise DataError(f"{path}: column {column} has no time zone; expected UTC times (timezone-aware)")
        return series.dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
    if series.dtype != pl.String:
        raise DataError(f"{path}: column {column} holds {series.dtype}, expected RFC 3339 times")
    text = series.str.strip_chars()
    normalised = text.str.replace(r"[zZ]$", "+00:00").str.replace(r"^(\d{4}-\d{2}-\d{2})[ tT]", "${1}T")
    parsed = normalised.str.to_datetime(_RFC3339_FORMAT, time_zone="UTC", time_unit="ms", strict=False)
    bad = _first_true(parsed.is_null() & text.is_not_null() & (text != ""))
    if bad is not None:
        raise _fail_at(
            path,
            fmt,
            bad,
            None,
            f"{column} {text[bad]!r} is not an RFC 3339 time with a UTC offset "
            "(expected e.g. 2025-07-21T11:28:00+00:00 or 2025-07-21T11:28:00Z)",
        )
    return parsed


def _parse_numbers(raw: pl.DataFrame, column: str, dtype: pl.DataType, path: Path, fmt: str) -> pl.Series:
    series = raw[column]
    if series.dtype == pl.String:
        text = series.str.strip_chars()
        parsed = text.cast(dtype, strict=False)
        bad = _first_true(parsed.is_null() & text.is_not_null() & (text != ""))
        if bad is not None:
            raise _fail_at(path, fmt, bad, None, f"{column} {text[bad]!r} is not a number")
        return parsed
    try:
        return series.cast(dtype)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path}: column {column} holds {series.dtype}, expected numbers ({exc})") from exc


def _single_value(
    raw: pl.DataFrame, column: str, given: str | None, fallback: str | None, path: Path
) -> pl.Series | str | None:
    """The value of a per-file attribute (symbol, interval): given > column > file name."""
    if column not in raw.columns:
        return given or fallback
    values = raw[column].cast(pl.String).str.strip_chars()
    if given is not None:
        others = sorted(set(values.drop_nulls().unique().to_list()) - {given})
        if others:
            raise DataError(f"{path}: {given!r} was given as {column}, but the file says {', '.join(others)}")
        return given
    return values


def read_candle_file(
    path: str | Path,
    symbol: str | None = None,
    interval: str | None = None,
    *,
    exchange: str = "hyperliquid",
    drop_leading_zero_volume: bool = False,
) -> pl.DataFrame:
    """Read and fully validate one candle file; return a candle frame (``CANDLE_FRAME_SCHEMA``).

    Args:
        path: a ``.csv``, ``.parquet`` or ``.feather`` file (see the module docstring).
        symbol: the token (needed when the file has no ``symbol`` column and a non-freqtrade name).
        interval: the bar interval (needed for CSV/Parquet without an ``interval`` column).
        exchange: stored with the candles unless the file has an ``exchange`` column.
        drop_leading_zero_volume: drop each series' leading ``volume == 0`` bars (Hyperliquid reports
            pre-listing 1d/4h bars with volume 0).

    Raises:
        DataError: the file cannot be read, is not OHLCV (funding rate, mark...), lacks a column, or
            symbol/interval cannot be determined.
        CandleValidationError: a row is invalid; the message names the file, the row and the time.
    """
    frame, _ = read_candle_file_counted(
        path, symbol, interval, exchange=exchange, drop_leading_zero_volume=drop_leading_zero_volume
    )
    return frame


def read_candle_file_counted(
    path: str | Path,
    symbol: str | None = None,
    interval: str | None = None,
    *,
    exchange: str = "hyperliquid",
    drop_leading_zero_volume: bool = False,
) -> tuple[pl.DataFrame, int]:
    """Like :func:`read_candle_file`; also return how many leading zero-volume bars were dropped."""
    path = Path(path)
    fmt = _format_of(path)
    name = parse_freqtrade_name(path.name)
    if name is not None and name.kind not in _OHLCV_KINDS:
        raise DataError(
            f"{path}: a freqtrade '{name.kind}' file, not trade candles (OHLCV); "
            "import the *-futures (or spot) files"
        )
    raw = _read_raw(path, fmt)
    if "timestamp" not in raw.columns and "date" in raw.columns:
        raw = raw.rename({"date": "timestamp"})
    missing = [c for c in ("timestamp", *VALUE_COLUMNS) if c not in raw.columns]
    if missing:
        expected = "date, open, high, low, close, volume" if fmt == "feather" else ", ".join(CSV_COLUMNS)
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected {expected}")

    symbol_value = _single_value(raw, "symbol", symbol, name.symbol if name else None, path)
    interval_value = _single_value(raw, "interval", interval, name.interval if name else None, path)
    if symbol_value is None:
        raise DataError(f"{path}: no symbol column and none given (pass the symbol)")
    if isinstance(symbol_value, str):
        check_symbol(symbol_value, where=f"{path}: symbol")
    if interval_value is None:
        raise DataError(f"{path}: no interval column and none given (pass the interval, e.g. 1m or 1h)")
    for value in (
        [interval_value] if isinstance(interval_value, str) else interval_value.drop_nulls().unique()
    ):
        if value not in INTERVALS:
            raise DataError(f"{path}: unknown interval {value!r}; expected one of {', '.join(INTERVALS)}")

    n = raw.height
    frame = pl.DataFrame(
        {
            "timestamp": _parse_times(raw, "timestamp", path, fmt),
            "symbol": symbol_value
            if isinstance(symbol_value, pl.Series)
            else pl.repeat(symbol_value, n, eager=True),
            "exchange": raw["exchange"].cast(pl.String)
            if "exchange" in raw.columns
            else pl.repeat(exchange, n, eager=True),
            "interval": interval_value
            if isinstance(interval_value, pl.Series)
            else pl.repeat(interval_value, n, eager=True),
            **{c: _parse_numbers(raw, c, pl.Float64(), path, fmt) for c in VALUE_COLUMNS},
            "trades": _parse_numbers(raw, "trades", pl.Int64(), path, fmt)
            if "trades" in raw.columns
            else pl.repeat(None, n, dtype=pl.Int64, eager=True),
        }
    ).cast(CANDLE_FRAME_SCHEMA)

    problem = find_candle_problem(
        frame,
        check_order=True,
        check_alignment=True,
        required=("timestamp", "symbol", "exchange", "interval", *VALUE_COLUMNS),
    )
    if problem is not None:
        ts = frame["timestamp"][problem.row]
        when = ts.isoformat().replace("+00:00", "Z") if ts is not None else None
        raise _fail_at(path, fmt, problem.row, when, problem.message, problem.bad_rows)
    dropped = 0
    if drop_leading_zero_volume:
        series = ["symbol", "exchange", "interval"]
        kept = frame.filter((pl.col("volume") > 0).cast(pl.Int8).cum_max().over(series) > 0)
        dropped = frame.height - kept.height
        frame = kept
    return frame, dropped


def write_candle_file(
    frame: pl.DataFrame,
    path: str | Path,
    *,
    symbol: str | None = None,
    interval: str | None = None,
    exchange: str | None = None,
    file_format: CandleFileFormat | None = None,
) -> Path:
    """Write candles to CSV, Parquet or Feather (``file_format``, else by suffix).

    Reading a CSV or Parquet file back gives an equal frame. Missing ``symbol``/``interval``/``exchange``
    columns are filled from the arguments. CSV holds the original system's seven columns first, then
    ``interval, exchange, trades``; floats are written in their shortest round-trip form. Feather is
    freqtrade's file (``date, open, high, low, close, volume``, LZ4): one symbol and interval, which the
    file name carries. The file is written next to its destination and renamed into place, so a reader
    never sees half a file.

    Raises:
        DataError: unknown suffix (without ``file_format``), missing columns, invalid candles, or several
            symbols or intervals for one Feather file.
    """
    path = Path(path)
    fmt = file_format or _format_of(path)
    if fmt not in CANDLE_FILE_FORMATS:
        raise DataError(
            f"{path}: unknown file format {fmt!r}; expected one of {', '.join(CANDLE_FILE_FORMATS)}"
        )
    extra = {"symbol": symbol, "interval": interval, "exchange": exchange}
    frame = frame.with_columns(
        **{k: pl.lit(v) for k, v in extra.items() if v is not None and k not in frame.columns}
    )
    prepared = prepare_candle_frame(frame, what=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if fmt == "csv":
            whole_seconds = prepared.select((pl.col("timestamp").dt.epoch("ms") % 1000 == 0).all()).item()
            prepared.select(*CSV_COLUMNS, *_CSV_EXTRA).write_csv(
                partial,
                datetime_format="%Y-%m-%dT%H:%M:%S%:z" if whole_seconds else "%Y-%m-%dT%H:%M:%S%.3f%:z",
            )
        elif fmt == "parquet":
            prepared.write_parquet(partial)
        else:
            _write_freqtrade_feather(prepared, partial, path)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write_freqtrade_feather(prepared: pl.DataFrame, partial: Path, path: Path) -> None:
    for column in ("symbol", "interval"):
        values = prepared[column].unique().sort().to_list()
        if len(values) > 1:
            raise DataError(
                f"{path}: a Feather file holds one {column} (freqtrade's layout), got {', '.join(values)}; "
                "export them one by one"
            )
    prepared.select(pl.col("timestamp").alias("date"), *VALUE_COLUMNS).write_ipc(partial, compression="lz4")


async def import_candle_files(
    db: _CandleWriter,
    paths: Iterable[str | Path],
    *,
    symbol: str | None = None,
    interval: str | None = None,
    exchange: str = "hyperliquid",
    drop_leading_zero_volume: bool = True,
    on_result: Callable[[FileImportResult], None] | None = None,
) -> list[FileImportResult]:
    """Validate and store each file in its own transaction; a bad file is reported and skipped.

    Each file is read and validated completely (in a worker thread) before anything of it is written;
    a rejected file writes nothing, the good ones are stored. A file without data rows is reported as
    "no rows" (not ok). Leading zero-volume bars, which Hyperliquid reports for the time before a coin
    was listed (921 of BTC's 1d bars), are dropped by default and counted in the result: they would
    inflate buy & hold and feed the volume filter with zeros.

    Args:
        db: the store (a :class:`~algo_trade_data.DatabaseClient`).
        paths: the files.
        symbol, interval, exchange, drop_leading_zero_volume: as :func:`read_candle_file`.
        on_result: called after each file (progress bars).

    Raises:
        ImportInterrupted: the database failed (connection lost); the error lists the files committed
            before, the one that failed and those not tried.
    """
    results: list[FileImportResult] = []
    files = [Path(p) for p in paths]
    for index, path in enumerate(files):
        try:
            frame, dropped = await asyncio.to_thread(
                read_candle_file_counted,
                path,
                symbol,
                interval,
                exchange=exchange,
                drop_leading_zero_volume=drop_leading_zero_volume,
            )
        except DataError as exc:
            result = FileImportResult(path=path, error=str(exc))
        else:
            if frame.height == 0:
                why = (
                    f"all {dropped} bars have zero volume (before the listing)"
                    if dropped
                    else "the file holds a header but no data rows"
                )
                result = FileImportResult(path=path, error=f"no rows: {why}; nothing imported")
            else:
                try:
                    written = await db.upsert_candles(frame)
                except DatabaseError as exc:
                    raise _interrupted(exc, results, path, files[index + 1 :]) from exc
                result = _imported(path, frame, written, dropped)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _imported(path: Path, frame: pl.DataFrame, written: int, dropped: int) -> FileImportResult:
    def joined(column: str) -> str:
        return ", ".join(frame[column].unique(maintain_order=True).to_list())

    first, last = frame["timestamp"].min(), frame["timestamp"].max()
    return FileImportResult(
        path=path,
        symbol=joined("symbol"),
        interval=joined("interval"),
        exchange=joined("exchange"),
        rows=frame.height,
        written=written,
        first=first,  # type: ignore[arg-type]
        last=last,  # type: ignore[arg-type]
        dropped_zero_volume=dropped,
    )


def _interrupted(
    exc: DatabaseError, results: list[FileImportResult], failed: Path, remaining: list[Path]
) -> ImportInterrupted:
    committed = [r.path.name for r in results if r.ok]
    done = (
        f"committed before the failure (stored): {', '.join(committed)}"
        if committed
        else "no file was committed before it"
    )
    rest = f"; not tried: {len(remaining)} file(s)" if remaining else ""
    return ImportInterrupted(
        f"the import stopped at {failed.name} (nothing of it stored): {exc}. {done}{rest}",
        results=list(results),
        failed=failed,
        remaining=remaining,
    )
