"""What the candle store holds and where it has holes: THE gap finder, and the per-series status.

:meth:`CoverageMixin.candle_gaps` is the one place that decides what a gap is. ``data status``, ``data
repair``, every refresh (``refresh_candles``) and the market hub's repair after a reconnect all ask it.
Gaps are found in SQL with ``lag()`` over each (symbol, exchange, interval) series: a gap is a run of
missing bars between two stored ones (calendar months for ``1M``). With ``edges=True`` and a time
range, the missing bars between the range's ends and the first and last stored bars count too (a
series with nothing stored in the range is one gap covering all of it).

Whether a gap can still be repaired depends on the exchange: Hyperliquid serves only the most recent
5000 bars per coin and interval (:func:`~algo_trade_data._ratelimit.earliest_available_ms`), so the
bars of a gap older than that are gone for good unless a file has them (:meth:`CandleGap.split`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from algo_trade_core import INTERVALS, datetime_to_ms, interval_to_ms, ms_to_datetime
from algo_trade_data._db_base import _DatabaseBase, require_aware
from algo_trade_data._ratelimit import earliest_available_ms
from algo_trade_data._symbols import EXCHANGE

__all__ = ["CandleGap", "CandleStatus", "CoverageMixin", "gap_step_ms", "summarize_gaps"]

_MONTH = "1M"

# Interior gaps of every series the filters select: consecutive stored bars further apart than one bar.
# The filters are added only when given (see _where), so a refresh's query on one series is an index
# range scan of the primary key, not a scan of the table.
_GAPS_QUERY = """
WITH steps (interval, step_ms) AS (SELECT * FROM unnest($1::text[], $2::bigint[])),
bars AS (
    SELECT symbol, exchange, interval, timestamp,
           lag(timestamp) OVER (PARTITION BY symbol, exchange, interval ORDER BY timestamp) AS previous
    FROM ohlcv
    WHERE {where}
)
SELECT b.symbol, b.exchange, b.interval, b.previous, b.timestamp AS next
FROM bars b JOIN steps s ON s.interval = b.interval
WHERE b.previous IS NOT NULL
  AND b.timestamp > b.previous + CASE WHEN b.interval = '1M' THEN interval '1 month'
                                      ELSE s.step_ms * interval '1 millisecond' END
ORDER BY b.symbol, b.exchange, s.step_ms, b.previous
"""

# First and last stored bar (and the count) per series in the range: the edges of gaps, and the status.
_SERIES_QUERY = """
SELECT symbol, exchange, interval, count(*) AS bars, min(timestamp) AS first, max(timestamp) AS last
FROM ohlcv
WHERE {where}
GROUP BY symbol, exchange, interval
"""

_FILTERS = (
    ("symbol", "symbol = ANY(${}::text[])"),
    ("interval", "interval = ${}::text"),
    ("exchange", "exchange = ${}::text"),
    ("start", "timestamp >= ${}::timestamptz"),
    ("end", "timestamp <= ${}::timestamptz"),
)


def _where(first: int, **values: Any) -> tuple[str, list[Any]]:
    """The WHERE clause of the given filters (placeholders from ``$first``) and their arguments."""
    clauses, args = [], []
    for name, clause in _FILTERS:
        if values.get(name) is not None:
            args.append(values[name])
            clauses.append(clause.format(first + len(args) - 1))
    return " AND ".join(clauses) or "TRUE", args


def gap_step_ms(interval: str) -> int:
    """Bar length used to count missing bars (a calendar month counted as 31 days, the longest)."""
    return 31 * 86_400_000 if interval == _MONTH else interval_to_ms(interval)


def _add_months(value: datetime, months: int) -> datetime:
    index = value.year * 12 + value.month - 1 + months
    return value.replace(year=index // 12, month=index % 12 + 1)


@dataclass(frozen=True, kw_only=True, slots=True)
class CandleGap:
    """A run of missing bars of one series: open times ``start`` .. ``end`` (both missing, inclusive)."""

    symbol: str
    exchange: str
    interval: str
    start: datetime
    end: datetime

    @property
    def bars(self) -> int:
        """How many bars are missing."""
        if self.interval == _MONTH:
            return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
        return (datetime_to_ms(self.end) - datetime_to_ms(self.start)) // interval_to_ms(self.interval) + 1

    def split(self, earliest_ms: int) -> tuple[CandleGap | None, CandleGap | None]:
        """Return (the part older than ``earliest_ms``, the part from it on); either may be None."""
        first, last = datetime_to_ms(self.start), datetime_to_ms(self.end)
        if last < earliest_ms:
            return self, None
        if first >= earliest_ms:
            return None, self
        step = interval_to_ms(self.interval)
        cut = first + (earliest_ms - first + step - 1) // step * step  # first missing bar >= earliest
        old = replace(self, end=ms_to_datetime(cut - step))
        new = replace(self, start=ms_to_datetime(cut)) if cut <= last else None
        return old, new

    def describe(self) -> str:
        """``12 bars 2025-07-20 08:00 .. 08:11 UTC`` style text for reports."""
        start = self.start.strftime("%Y-%m-%d %H:%M")
        end = self.end.strftime("%Y-%m-%d %H:%M" if self.end.date() != self.start.date() else "%H:%M")
        return f"{self.bars} bar{'s' if self.bars != 1 else ''} {start} .. {end} UTC"


def summarize_gaps(gaps: Sequence[CandleGap], limit: int = 3) -> str:
    """``3 gaps, 45 bars (12 bars 2025-07-20 08:00 .. 08:11 UTC, ...)`` for one-line reports."""
    if not gaps:
        return "no gaps"
    bars = sum(g.bars for g in gaps)
    shown = ", ".join(g.describe() for g in gaps[:limit])
    more = f", {len(gaps) - limit} more" if len(gaps) > limit else ""
    return f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''}, {bars:,} bars ({shown}{more})"


@dataclass(frozen=True, kw_only=True, slots=True)
class CandleStatus:
    """What the store holds for one (symbol, exchange, interval) series.

    ``gaps`` counts runs of missing bars between ``first`` and ``last``; ``missing_bars`` counts the
    bars in them. Of those, ``unrecoverable_gaps``/``unrecoverable_bars`` are older than the
    exchange's window (Hyperliquid keeps the latest 5000 bars), so no refresh or repair can fill them;
    for candles of another exchange every gap counts as unrecoverable from Hyperliquid. Gaps before
    ``first`` or after ``last`` are not known to the store.
    """

    symbol: str
    exchange: str
    interval: str
    bars: int
    first: datetime
    last: datetime
    gaps: int
    missing_bars: int
    unrecoverable_gaps: int = 0
    unrecoverable_bars: int = 0

    @property
    def expected_bars(self) -> int:
        """Bars from ``first`` to ``last`` inclusive at this interval."""
        step = timedelta(milliseconds=gap_step_ms(self.interval))
        return (self.last - self.first) // step + 1

    @property
    def coverage(self) -> float:
        return self.bars / self.expected_bars if self.expected_bars else 0.0

    @property
    def repairable_bars(self) -> int:
        return self.missing_bars - self.unrecoverable_bars


def _edge_gaps(
    symbol: str, exchange: str, interval: str, first: int | None, last: int | None, start: int, end: int
) -> list[CandleGap]:
    """Missing bars between ``start`` and the first stored bar, and the last one and ``end``."""
    step = interval_to_ms(interval)

    def gap(a: int, b: int) -> CandleGap:
        when = {"start": ms_to_datetime(a), "end": ms_to_datetime(b)}
        return CandleGap(symbol=symbol, exchange=exchange, interval=interval, **when)

    if first is None or last is None:
        a = start + (-start) % step  # the first bar opening at or after start (epoch grid)
        b = end - end % step
        return [gap(a, b)] if a <= b else []
    out = []
    if first - step >= start:  # bars on the stored series' own grid, so weeks keep their anchor
        out.append(gap(first - (first - start) // step * step, first - step))
    if last + step <= end:
        out.append(gap(last + step, last + (end - last) // step * step))
    return out


class CoverageMixin(_DatabaseBase):
    """Gap and status methods of :class:`~algo_trade_data.DatabaseClient`."""

    async def candle_gaps(
        self,
        symbols: str | Iterable[str] | None = None,
        interval: str | None = None,
        exchange: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        edges: bool = False,
    ) -> list[CandleGap]:
        """Return the runs of missing bars of the selected series, by series and time.

        Args:
            symbols: one symbol, several, or None for every stored one.
            interval: only this interval (required with ``edges``).
            exchange: only this exchange (``edges`` defaults it to hyperliquid).
            start, end: only bars opening in ``[start, end]`` are looked at.
            edges: also count the bars missing between ``start`` and the first stored bar and between
                the last stored bar and ``end`` (both required); a listed symbol with nothing stored in
                the range is one gap over all of it. Not for ``1M`` (calendar months).

        Raises:
            ValueError: ``edges`` without ``start``, ``end`` and ``interval``, or with ``1M``; a naive time.
        """
        names = [symbols] if isinstance(symbols, str) else None if symbols is None else list(symbols)
        for value, name in ((start, "start"), (end, "end")):
            if value is not None:
                require_aware(value, name)
        if edges and (start is None or end is None or interval is None or interval == _MONTH):
            raise ValueError("candle_gaps(edges=True) needs start, end and a fixed-length interval (not 1M)")
        if edges:
            exchange = exchange or EXCHANGE
        intervals = list(INTERVALS)
        steps = [interval_to_ms(name) for name in intervals]
        filters = {"symbol": names, "interval": interval, "exchange": exchange, "start": start, "end": end}
        where, args = _where(3, **filters)
        async with self._connection("candle_gaps") as conn:
            series = []
            if edges:
                series_where, series_args = _where(1, **filters)
                series = await conn.fetch(_SERIES_QUERY.format(where=series_where), *series_args)
            # A series holding every bar from its first to its last has no interior gap: the count
            # (an index-only scan) spares the window function, which is what a refresh mostly finds.
            complete = edges and all(
                r["bars"]
                == (r["last"] - r["first"]) // timedelta(milliseconds=interval_to_ms(r["interval"])) + 1
                for r in series
            )
            rows = (
                [] if complete else await conn.fetch(_GAPS_QUERY.format(where=where), intervals, steps, *args)
            )
        gaps = [_interior_gap(r) for r in rows]
        if edges:
            assert start is not None  # checked above
            assert end is not None
            assert interval is not None
            seen: dict[tuple[str, str], tuple[int, int]] = {
                (r["symbol"], r["exchange"]): (datetime_to_ms(r["first"]), datetime_to_ms(r["last"]))
                for r in series
            }
            wanted = {(s, exchange or EXCHANGE) for s in names} if names is not None else set()
            for symbol, exch in sorted(wanted | set(seen)):
                first, last = seen.get((symbol, exch), (None, None))
                gaps += _edge_gaps(
                    symbol, exch, interval, first, last, datetime_to_ms(start), datetime_to_ms(end)
                )
            gaps.sort(key=lambda g: (g.symbol, g.exchange, gap_step_ms(g.interval), g.start))
        return gaps

    async def candle_status(
        self,
        symbol: str | None = None,
        interval: str | None = None,
        exchange: str | None = None,
        *,
        now: datetime | None = None,
    ) -> list[CandleStatus]:
        """Return per (symbol, exchange, interval): bar count, first and last bar, gaps and missing bars.

        Gaps come from :meth:`candle_gaps`; those older than the exchange's window at ``now`` (default:
        the wall clock) are also counted as unrecoverable.
        """
        names = None if symbol is None else [symbol]
        where, args = _where(1, symbol=names, interval=interval, exchange=exchange)
        async with self._connection("candle_status") as conn:
            rows = await conn.fetch(_SERIES_QUERY.format(where=where), *args)
        gaps = await self.candle_gaps(names, interval, exchange)
        now_ms = datetime_to_ms(now) if now is not None else None
        by_series: dict[tuple[str, str, str], list[CandleGap]] = {}
        for gap in gaps:
            by_series.setdefault((gap.symbol, gap.exchange, gap.interval), []).append(gap)
        out = []
        for row in rows:
            key = (row["symbol"], row["exchange"], row["interval"])
            found = by_series.get(key, [])
            lost = [g for g in found if _unrecoverable(g, now_ms)]
            out.append(
                CandleStatus(
                    symbol=key[0],
                    exchange=key[1],
                    interval=key[2],
                    bars=int(row["bars"]),
                    first=row["first"],
                    last=row["last"],
                    gaps=len(found),
                    missing_bars=sum(g.bars for g in found),
                    unrecoverable_gaps=len(lost),
                    unrecoverable_bars=sum(_lost_bars(g, now_ms) for g in lost),
                )
            )
        order = {name: i for i, name in enumerate(INTERVALS)}
        return sorted(out, key=lambda s: (s.symbol, s.exchange, order.get(s.interval, 99), s.interval))


def _interior_gap(row: Any) -> CandleGap:
    interval = row["interval"]
    previous, following = row["previous"], row["next"]
    if interval == _MONTH:
        start, end = _add_months(previous, 1), _add_months(following, -1)
    else:
        step = timedelta(milliseconds=interval_to_ms(interval))
        start, end = previous + step, following - step
    return CandleGap(symbol=row["symbol"], exchange=row["exchange"], interval=interval, start=start, end=end)


def _earliest(gap: CandleGap, now_ms: int | None) -> int:
    return earliest_available_ms(gap.interval, now_ms)


def _unrecoverable(gap: CandleGap, now_ms: int | None) -> bool:
    if gap.exchange != EXCHANGE:
        return True  # not Hyperliquid's candles: nothing can be fetched for them
    if gap.interval == _MONTH:
        return False  # 5000 months of history: always inside the exchange's window
    old, _ = gap.split(_earliest(gap, now_ms))
    return old is not None


def _lost_bars(gap: CandleGap, now_ms: int | None) -> int:
    if gap.exchange != EXCHANGE:
        return gap.bars
    old, _ = gap.split(_earliest(gap, now_ms))
    return 0 if old is None else old.bars
