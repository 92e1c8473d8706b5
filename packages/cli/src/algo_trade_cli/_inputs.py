"""What the user types, parsed strictly: times, freqtrade time ranges, symbols (pure, no I/O).

Every function raises :class:`InputError` with a message that names what was given and what was
expected; the commands turn it into exit code 2.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from algo_trade_core import INTERVALS

__all__ = [
    "InputError",
    "SymbolMatch",
    "check_interval",
    "match_symbol",
    "pair_base",
    "parse_timerange",
    "parse_utc",
    "resolve_window",
    "timerange_text",
]


class InputError(ValueError):
    """A command-line value that cannot be used as given."""


# ISO 8601 as people type it: a date, or a date and a time (T or space), optional seconds and
# fraction, optional Z or ±HH:MM offset. Nothing else: Python 3.11's fromisoformat alone reads
# "20250101-20250201" as 2025-01-01 20:25:02.01.
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?)?$",
    re.IGNORECASE,
)
_COMPACT_DATE = re.compile(r"^\d{8}$")  # freqtrade's YYYYMMDD
_TIMERANGE = re.compile(r"^(?P<start>\d{8}|\d{10}|\d{13})?-(?P<end>\d{8}|\d{10}|\d{13})?$")
_EXAMPLES = "2025-07-01, 2025-07-01T12:00, 2025-07-01T12:00:00Z or 20250701"


def parse_utc(text: str, option: str) -> datetime:
    """Parse an ISO date or date-time (UTC unless it carries an offset), or a freqtrade ``YYYYMMDD``."""
    value = text.strip()
    if _COMPACT_DATE.match(value):
        return _compact_date(value, option)
    match = _ISO.match(value)
    if match is None:
        hint = ""
        if _TIMERANGE.match(value):
            hint = f" (a freqtrade time range? pass it as --timerange {value})"
        raise InputError(f"{option}: expected a UTC time like {_EXAMPLES}, got {text!r}{hint}")
    zone = match["zone"]
    if zone and zone.upper() != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    iso = match["date"] + (f"T{match['time']}" if match["time"] else "") + ("" if not zone else zone)
    try:
        parsed = datetime.fromisoformat(iso.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as exc:  # 2025-02-30, 25:00
        raise InputError(f"{option}: {text!r} is not a valid time ({exc})") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compact_date(value: str, option: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a valid YYYYMMDD date") from None


def _timerange_point(value: str) -> datetime:
    if len(value) == 8:
        return _compact_date(value, "--timerange")
    seconds = int(value) / (1000 if len(value) == 13 else 1)  # freqtrade: epoch seconds or milliseconds
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_timerange(text: str) -> tuple[datetime | None, datetime | None]:
    """Parse freqtrade's ``--timerange``: ``20250101-20250201``, ``20250101-``, ``-20250201``.

    Dates are UTC midnights (epoch seconds or milliseconds are accepted too); the end is exclusive, as
    in freqtrade.
    """
    match = _TIMERANGE.match(text.strip())
    if match is None or not (match["start"] or match["end"]):
        raise InputError(
            f"--timerange: expected START-END as YYYYMMDD (either side may be empty: 20250101-, "
            f"-20250201), got {text!r}"
        )
    start = _timerange_point(match["start"]) if match["start"] else None
    end = _timerange_point(match["end"]) if match["end"] else None
    return start, end


def timerange_text(start: datetime, end: datetime) -> str:
    """The ``--timerange`` covering ``[start, end)`` at day resolution (the end rounded up to a day)."""
    last_day = end - timedelta(microseconds=1)
    return f"{start:%Y%m%d}-{(last_day + timedelta(days=1)):%Y%m%d}"


def resolve_window(
    start: str | None, end: str | None, timerange: str | None
) -> tuple[datetime | None, datetime | None]:
    """Combine ``--start``/``--end`` or ``--timerange`` into one window; reject contradictions."""
    if timerange is not None and (start is not None or end is not None):
        raise InputError("--timerange replaces --start/--end: pass one or the other")
    if timerange is not None:
        t0, t1 = parse_timerange(timerange)
        where = f"--timerange {timerange}"
    else:
        t0 = parse_utc(start, "--start") if start is not None else None
        t1 = parse_utc(end, "--end") if end is not None else None
        where = "--start/--end"
    if t0 is not None and t1 is not None and t0 >= t1:
        raise InputError(
            f"{where}: the start ({t0:%Y-%m-%d %H:%M}) must come before the end ({t1:%Y-%m-%d %H:%M}); "
            "the window holds the bars with start <= open time < end"
        )
    return t0, t1


@dataclass(frozen=True, slots=True)
class SymbolMatch:
    """The exchange's name for what the user typed, and a note when it was changed."""

    symbol: str
    note: str | None = None


# Quote and contract suffixes other venues and freqtrade put after the coin: BTCUSDT, BTC/USDC:USDC,
# BTC-PERP, BTC_USDC_USDC, ETH-USD.
_PAIR = re.compile(r"^(?P<base>.+?)(?:[/_:-]?(?:USDT|USDC|USD|PERP|BUSD))+(?:[/_:-].*)?$", re.IGNORECASE)


def pair_base(text: str) -> str:
    """The coin of a pair as other venues write it (BTCUSDT, BTC/USDC:USDC, BTC-PERP → BTC), else ``text``."""
    given = text.strip()
    pair = _PAIR.match(given)
    return given if pair is None else pair["base"]


def match_symbol(text: str, known: Iterable[str]) -> SymbolMatch:
    """Map ``btc``, ``BTCUSDT``, ``BTC/USDC:USDC`` or ``kpepe`` to a known name (BTC, kPEPE).

    ``known`` holds the exchange's names (the stored symbols and the configured universe). An exact name
    is returned as it is; otherwise a case-insensitive match, first of the text itself, then of the
    text without a quote suffix, is taken when there is exactly one.

    Raises:
        InputError: nothing matches (with "did you mean ...?" when a name is close), or several do.
    """
    names = sorted(set(known))
    given = text.strip()
    if given in names:
        return SymbolMatch(given)
    by_folded: dict[str, list[str]] = {}
    for name in names:
        by_folded.setdefault(name.casefold(), []).append(name)
    candidates = list(dict.fromkeys([given, pair_base(given)]))
    for candidate in candidates:
        hits = by_folded.get(candidate.casefold(), [])
        if len(hits) == 1:
            return SymbolMatch(hits[0], f"{given!r} is traded as {hits[0]} on Hyperliquid: using {hits[0]}")
        if len(hits) > 1:
            raise InputError(f"symbol {given!r} is ambiguous: {', '.join(hits)}")
    close = difflib.get_close_matches(given, names, n=3, cutoff=0.6) or difflib.get_close_matches(
        given.upper(), [n.upper() for n in names], n=3, cutoff=0.6
    )
    folded_close = [by_folded[c.casefold()][0] for c in close]
    hint = f"; did you mean {' or '.join(dict.fromkeys(folded_close))}?" if folded_close else ""
    shown = ", ".join(names[:30]) + (" …" if len(names) > 30 else "")
    raise InputError(
        f"unknown symbol {given!r}{hint} (known: {shown or 'none: import or fetch candles first'})"
    )


def check_interval(value: str, option: str = "--interval") -> str:
    """Return ``value`` when it is one of Hyperliquid's interval names."""
    if value in INTERVALS:
        return value
    lowered = {name.lower(): name for name in INTERVALS if name != "1M"}
    if value.lower() in lowered:  # 1H, 4H (but 1M stays a month and 1m a minute)
        return lowered[value.lower()]
    raise InputError(f"{option}: expected one of {', '.join(INTERVALS)}, got {value!r}")
