"""Vectorised OHLCV validation of whole candle frames (files before import, frames before upsert).

The invariants are those of :func:`algo_trade_core.validate_candle_values` (positive finite prices,
``low <= min(open, close)``, ``high >= max(open, close)``, volume finite and ``>= 0``), plus, for
files, strictly increasing open times per series and open times aligned to the interval. All checks
run as polars expressions over the whole frame; only the first bad row is then described in Python.

Sane magnitudes: a price must be below :data:`MAX_PRICE` (1e12; BTC trades near 1e5, and the largest
per-1000 ``k`` quote is far below) and a bar's volume below :data:`MAX_VOLUME` (1e15 base units, which
leaves room for the volume of a memecoin quoted per token). A value beyond is a unit mix-up or a
corrupt file, not a market, and the engine's float arithmetic would not survive it (1e300 squared is
infinite). Symbols must follow the exchange's naming (:mod:`algo_trade_data._symbols`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from algo_trade_core import INTERVALS
from algo_trade_data._symbols import MAX_SYMBOL_LENGTH, SYMBOL_PATTERN, symbol_problem

__all__ = [
    "MAX_PRICE",
    "MAX_VOLUME",
    "PRICE_COLUMNS",
    "VALUE_COLUMNS",
    "CandleProblem",
    "find_candle_problem",
    "magnitude_problem",
]

PRICE_COLUMNS = ("open", "high", "low", "close")
VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")
MAX_PRICE = 1e12
MAX_VOLUME = 1e15


def magnitude_problem(o: float, h: float, lo: float, c: float, v: float) -> str | None:
    """Return which value of a (finite, valid) bar is beyond the sane bounds, or None."""
    for name, value in (("open", o), ("high", h), ("low", lo), ("close", c)):
        if value >= MAX_PRICE:
            return f"{name} {value:g} is not a plausible price (expected below {MAX_PRICE:g})"
    if v >= MAX_VOLUME:
        return f"volume {v:g} is not a plausible bar volume (expected below {MAX_VOLUME:g})"
    return None


_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class CandleProblem:
    """The first invalid row of a frame (0-based ``row``), what is wrong with it, how many rows are bad."""

    row: int
    message: str
    bad_rows: int


def _aligned_steps(frame: pl.DataFrame) -> pl.Expr | None:
    """Bar length in ms per row for intervals that tile a day (1m ... 1d); null for 3d, 1w, 1M.

    Longer bars are anchored by the exchange (weeks on Mondays, months on the 1st), not on multiples
    of their length since 1970, so their alignment is not checked.
    """
    if "interval" not in frame.columns:
        return None
    steps = {name: ms for name, ms in INTERVALS.items() if _DAY_MS % ms == 0}
    return pl.col("interval").replace_strict(steps, default=None, return_dtype=pl.Int64)


def find_candle_problem(
    frame: pl.DataFrame,
    *,
    check_order: bool,
    check_alignment: bool,
    required: tuple[str, ...] = ("timestamp", *VALUE_COLUMNS),
) -> CandleProblem | None:
    """Return the first row that breaks an OHLCV invariant, or None when every row is valid.

    Args:
        frame: candle columns already typed (timestamp Datetime, values Float64, trades Int64).
        check_order: require strictly increasing timestamps within each (symbol, interval) series in
            frame order (this finds unsorted rows and duplicates).
        check_alignment: require each open time to be a multiple of the interval (1m ... 1d).
        required: columns that must not be null.
    """
    if frame.height == 0:
        return None
    checks: list[tuple[str, pl.Expr]] = [(f"null:{c}", pl.col(c).is_null()) for c in required]
    checks += [(f"finite:{c}", ~pl.col(c).is_finite()) for c in VALUE_COLUMNS]
    checks += [(f"positive:{c}", pl.col(c) <= 0) for c in PRICE_COLUMNS]
    checks += [(f"magnitude:{c}", pl.col(c) >= MAX_PRICE) for c in PRICE_COLUMNS]
    checks += [
        ("magnitude:volume", pl.col("volume") >= MAX_VOLUME),
        ("volume", pl.col("volume") < 0),
        ("high_low", pl.col("high") < pl.col("low")),
        ("low", pl.col("low") > pl.min_horizontal("open", "close")),
        ("high", pl.col("high") < pl.max_horizontal("open", "close")),
    ]
    if "trades" in frame.columns:
        checks.append(("trades", pl.col("trades") < 0))
    if "symbol" in frame.columns:
        # Each distinct name is checked once (a million bars carry a few dozen names; the regex per row
        # cost a sixth of a bulk upsert's preparation); rows are looked at only when a name is bad.
        names = frame.get_column("symbol").drop_nulls().unique()
        wrong = names.filter(
            ~names.str.contains(SYMBOL_PATTERN) | (names.str.len_chars() > MAX_SYMBOL_LENGTH)
        )
        if wrong.len():
            checks.append(("symbol", pl.col("symbol").is_in(wrong)))
    series = [c for c in ("symbol", "exchange", "interval") if c in frame.columns]
    previous = pl.col("timestamp").shift(1)
    previous = previous.over(series) if series else previous
    if check_order:
        checks.append(("order", pl.col("timestamp") <= previous))
    steps = _aligned_steps(frame) if check_alignment else None
    if steps is not None:
        checks.append(("aligned", pl.col("timestamp").dt.epoch("ms") % steps != 0))

    flags = frame.select([expr.fill_null(False).alias(name) for name, expr in checks])
    bad = flags.select(pl.any_horizontal(pl.all()).alias("bad")).to_series().arg_true()
    if bad.len() == 0:
        return None
    row = int(bad[0])
    failed = next(name for name, value in flags.row(row, named=True).items() if value)
    previous_ts = frame.select(previous.alias("previous"))["previous"][row] if failed == "order" else None
    return CandleProblem(row, _describe(failed, frame.row(row, named=True), previous_ts), int(bad.len()))


def _fmt_time(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "null"


def _describe(check: str, row: dict[str, Any], previous_ts: Any) -> str:
    kind, _, column = check.partition(":")
    o, h, lo, c, v = (row[k] for k in VALUE_COLUMNS)
    if kind == "null":
        return f"{column} is missing"
    if kind == "finite":
        return f"{column} is not a finite number ({row[column]})"
    if kind == "positive":
        return f"{column} must be positive, got {row[column]}"
    if kind == "magnitude":
        limit = MAX_VOLUME if column == "volume" else MAX_PRICE
        what = "bar volume" if column == "volume" else "price"
        return f"{column} {row[column]:g} is not a plausible {what} (expected below {limit:g})"
    if kind == "symbol":
        return f"symbol {symbol_problem(row['symbol'])}"
    messages = {
        "volume": lambda: f"volume must be >= 0, got {v}",
        "high_low": lambda: f"high {h} is below low {lo}",
        "low": lambda: f"low {lo} is above min(open, close) {min(o, c)}",
        "high": lambda: f"high {h} is below max(open, close) {max(o, c)}",
        "trades": lambda: f"trades must be >= 0, got {row.get('trades')}",
        "order": lambda: (
            f"duplicate timestamp {_fmt_time(row['timestamp'])} (same as the previous row)"
            if row["timestamp"] == previous_ts
            else f"timestamps not sorted: {_fmt_time(row['timestamp'])} comes after "
            f"{_fmt_time(previous_ts)} (rows must be in increasing time order)"
        ),
        "aligned": lambda: (
            f"timestamp {_fmt_time(row['timestamp'])} is not aligned to the {row.get('interval')} interval "
            f"(a bar opens at a whole multiple of {row.get('interval')})"
        ),
    }
    return messages[kind]()
