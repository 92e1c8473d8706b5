"""Out-of-sample trading of a walk-forward, as the daemon's paper bots would trade it.

Every token's bot is a :class:`~algo_trade_bot_orchestrator.PaperBook` (the bots' own book): a bot
started at ``t_k`` warms up on the bars before ``t_k`` (as many as ``[bots] warmup_bars`` or the strategy
needs), starts flat, and trades the bars of the period through the engine's loop with the configured fee
and slippage; a token that stays approved keeps its bot and position across the boundary; a token that
leaves is stopped per ``on_remove``: ``close`` at the open of the first bar at or after the next
re-selection time, ``drain`` by taking no entries until the strategy's own exit (a re-approved draining
bot trades on, as the registry does). At the end of the study every open position is closed at the open
of the first bar at or after ``end`` (at the last close when there is none).

Accounting: each bot trades ``initial_capital`` (one sleeve); the portfolio holds ``sleeves`` of them
(``top_n`` for the selection: unused sleeves stay in cash), so its equity is ``sleeves * capital`` plus
the profit and loss of every bot so far, marked to market at each bar close of a common bar grid.

Per-token choices (``plans``, the walk-forward with ``--optimise``): each period names the
:class:`BotPlan` (strategy and parameters) each token's bot trades. A token that stays approved with the
same plan keeps its bot; one whose plan changed has its bot stopped the ``on_remove`` way and a bot of
the new plan started at ``t_k``, as the registry's sync with choices does. Under ``drain`` the old bot
drains beside its successor (its own profit and loss, in the same sleeve) and is not taken back should
its plan be chosen again before its drain ends (the registry would restart it: a rare case the study
books as a new bot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import DecimalBars
from algo_trade_bot_orchestrator import BotConfig, FeedBar, PaperBook
from algo_trade_core import datetime_to_ms, interval_to_ms

if TYPE_CHECKING:
    from algo_trade_evaluation._bars import TokenBars
    from algo_trade_evaluation._settings import WalkForwardSettings

__all__ = ["BarGrid", "BookTables", "BotPlan", "Plans", "SleeveRun", "book_tables", "run_sleeves"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BotPlan:
    """What a token's bot trades: a strategy, its complete parameters and their hash (the identity)."""

    strategy: str
    params: Mapping[str, Any]
    params_hash: str


Plans = Sequence[Mapping[str, BotPlan]]
"""Per period ``k``: each token's plan (``plans[k][symbol]``); None everywhere: the settings' one set."""


@dataclass(frozen=True, slots=True)
class BarGrid:
    """Bar close points ``start + i * step`` of the study, ``i < n``: where equity is marked."""

    start_ms: int
    step_ms: int
    n: int

    @classmethod
    def of(cls, settings: WalkForwardSettings, times: Sequence[datetime]) -> BarGrid:
        step = interval_to_ms(settings.interval)
        first = datetime_to_ms(times[0])
        end = datetime_to_ms(settings.end)
        return cls(first, step, max(-(-(end - first) // step), 1))

    def index(self, ts_ms: npt.NDArray[np.int64] | int) -> npt.NDArray[np.int64]:
        """Grid index of bars opening at ``ts_ms`` (clipped into the grid)."""
        i = (np.asarray(ts_ms, dtype=np.int64) - self.start_ms) // self.step_ms
        return np.clip(i, 0, self.n - 1)

    def times_ms(self) -> npt.NDArray[np.int64]:
        return self.start_ms + self.step_ms * np.arange(self.n, dtype=np.int64)


@dataclass(slots=True)
class _Track:
    """One token's profit and loss as a step function of time: ``(bar open ms, pnl)`` points."""

    ts: list[npt.NDArray[np.int64]] = field(default_factory=list)
    pnl: list[FloatArray] = field(default_factory=list)
    offset: float = 0.0  # realised profit and loss of the bots that ended

    def add(self, ts: npt.NDArray[np.int64], equity: FloatArray, capital: float) -> None:
        if ts.shape[0]:
            self.ts.append(ts)
            self.pnl.append(equity - capital + self.offset)

    def end_life(self, final_equity: float, capital: float) -> None:
        self.offset += final_equity - capital

    def arrays(self) -> tuple[npt.NDArray[np.int64], FloatArray]:
        if not self.ts:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(self.ts), np.concatenate(self.pnl)

    def values_before(self, t_ms: Sequence[int]) -> FloatArray:
        """Profit and loss marked at the last bar that opened before each of ``t_ms``."""
        ts, pnl = self.arrays()
        i = np.searchsorted(ts, np.asarray(t_ms, dtype=np.int64), side="left")
        padded = np.concatenate(([0.0], pnl))
        return np.asarray(padded[i], dtype=np.float64)


@dataclass(slots=True)
class SleeveRun:
    """The out-of-sample trading of a list of approved tokens per period."""

    grid: BarGrid
    sleeves: int
    capital: float
    pnl: FloatArray  # portfolio profit and loss at each grid bar close
    trades: int
    fees: float
    token_pnl: dict[str, list[float]]  # per token and period: profit and loss made in the period
    bots_started: int
    # per traded token: its bots' profit and loss so far at each grid bar close (the sleeve's curve)
    token_curves: dict[str, FloatArray] = field(default_factory=dict, repr=False)

    @property
    def equity_start(self) -> float:
        """The equity before the first bar: ``sleeves * capital``."""
        return float(self.sleeves * self.capital)

    @property
    def equity(self) -> FloatArray:
        return self.equity_start + self.pnl

    def boundary_equity(self, times: Sequence[datetime]) -> FloatArray:
        """Equity just before each re-selection time and at the end (``len(times) + 1`` values)."""
        values = [float(self.sleeves * self.capital)]
        for t in times[1:]:
            g = int((datetime_to_ms(t) - self.grid.start_ms) // self.grid.step_ms)
            values.append(float(self.equity[g - 1]) if g > 0 else values[0])
        values.append(float(self.equity[-1]))
        return np.array(values)


def _config(symbol: str, settings: WalkForwardSettings, plan: BotPlan) -> BotConfig:
    return BotConfig(
        symbol=symbol,
        strategy=plan.strategy,
        parameters=dict(plan.params),
        interval=settings.interval,
        execution=settings.execution,
        warmup_bars=settings.warmup_bars,
        bot_id=f"walkforward:{plan.strategy}:{symbol}",
        exchange=settings.exchange,
    )


class _Prepared:
    """Each token's bars validated and in a plan's decimal units once, for every bot of that plan."""

    def __init__(self, settings: WalkForwardSettings) -> None:
        self.settings = settings
        self.default = BotPlan(settings.strategy, dict(settings.params), settings.params_hash)
        self._series: dict[tuple[str, str], DecimalBars] = {}
        self._configs: dict[tuple[str, str], BotConfig] = {}

    def config(self, symbol: str, plan: BotPlan | None = None) -> BotConfig:
        plan = plan or self.default
        config = self._configs.get((symbol, plan.params_hash))
        if config is None:
            config = self._configs[symbol, plan.params_hash] = _config(symbol, self.settings, plan)
        return config

    def book(self, tb: TokenBars, plan: BotPlan | None = None) -> tuple[PaperBook, DecimalBars]:
        plan = plan or self.default
        book = PaperBook(self.config(tb.symbol, plan))
        series = self._series.get((tb.symbol, plan.params_hash))
        if series is None:
            series = self._series[tb.symbol, plan.params_hash] = book.prepare(*tb.arrays(0, len(tb)))
        return book, series

    def forget(self, symbol: str) -> None:
        """Drop ``symbol``'s prepared series (a token's bots are done: memory for the next token's)."""
        for key in [k for k in self._series if k[0] == symbol]:
            del self._series[key]


def _warm_book(
    prepared: _Prepared, tb: TokenBars, i: int, plan: BotPlan | None = None
) -> tuple[PaperBook, DecimalBars]:
    """A bot started at bar ``i``: warmed up on the bars before it, flat (the daemon's start)."""
    book, series = prepared.book(tb, plan)
    needed = max(prepared.settings.warmup_bars, book.min_warmup_bars)
    lo = max(i - needed, 0)
    if i > lo:
        book.warm_up_prepared(series, lo, i)
    return book, series


def _bar(tb: TokenBars, j: int, symbol: str, interval: str) -> FeedBar:
    return FeedBar(
        symbol=symbol,
        interval=interval,
        t=int(tb.ts[j]),
        open=float(tb.open[j]),
        high=float(tb.high[j]),
        low=float(tb.low[j]),
        close=float(tb.close[j]),
        volume=float(tb.volume[j]),
    )


def _final_close(
    book: PaperBook, tb: TokenBars, i_end: int, symbol: str, interval: str
) -> tuple[int, float, float]:
    """Close at the open of bar ``i_end`` (the first at or after the end), else at the last close.

    Returns ``(marked at bar open ms, cash after, fee paid)``.
    """
    position = book.position
    entry_fee = position.entry_fee if position is not None else 0.0
    if i_end < len(tb):
        fills = book.close_at_open(_bar(tb, i_end, symbol, interval))
        at = int(tb.ts[i_end])
    else:
        last = len(tb) - 1
        fills = book.close_at_open(replace(_bar(tb, last, symbol, interval), open=float(tb.close[last])))
        at = int(tb.ts[last])
    fee = sum(float(f.fill.fee) for f in fills)
    return at, book.equity, fee + (entry_fee if fills else 0.0)


@dataclass(slots=True)
class _TokenTrading:
    """One token's bots over the whole study: its profit and loss, trades and fees.

    ``track`` holds the bots that follow one another; ``drains`` the bots replaced by another plan while
    they drain beside their successor (each its own track, starting at 0 at the hand-over).
    """

    track: _Track = field(default_factory=_Track)
    drains: list[_Track] = field(default_factory=list)
    trades: int = 0
    fees: float = 0.0
    started: int = 0

    def end_life(self, book: PaperBook, capital: float, track: _Track | None = None) -> None:
        closed = book.trades
        self.trades += len(closed)
        self.fees += sum(t.fees for t in closed)
        (track or self.track).end_life(book.equity, capital)

    def forced_close(
        self, at: int, cash: float, fee: float, capital: float, track: _Track | None = None
    ) -> None:
        if fee:  # a position was closed: one more round trip
            self.trades += 1
            self.fees += fee
        (track or self.track).add(np.array([at]), np.array([cash]), capital)

    def hand_over(self, book: PaperBook, capital: float) -> _Track:
        """``book`` goes on draining beside a new bot: the main track keeps its value so far, its own
        track books what the drain adds from here."""
        value = book.equity - capital
        self.track.offset += value
        track = _Track(offset=-value)
        self.drains.append(track)
        return track

    def curves(self) -> list[tuple[npt.NDArray[np.int64], FloatArray]]:
        return [t.arrays() for t in (self.track, *self.drains)]


def _drain(
    book: PaperBook,
    tb: TokenBars,
    span: tuple[int, int],
    out: _TokenTrading,
    track: _Track,
    settings: WalkForwardSettings,
) -> bool:
    """Bars ``span`` (lo..hi-1) of a draining bot: exits only, bar by bar, until flat; True when it ended."""
    capital, interval = settings.capital, settings.interval
    lo, hi = span
    for j in range(lo, hi):
        position = book.position
        fills = book.on_bar(_bar(tb, j, tb.symbol, interval), orders="exits")
        track.add(tb.ts[j : j + 1], np.array([book.equity]), capital)
        if book.finished:  # the strategy's reversal became the exit at this open
            entry_fee = position.entry_fee if position is not None else 0.0
            out.trades += 1
            out.fees += sum(float(f.fill.fee) for f in fills) + entry_fee
        if book.is_flat:
            out.end_life(book, capital, track)
            return True
    return False


def _trade_token(
    tb: TokenBars, wanted: Sequence[BotPlan | None], bounds: Sequence[int], prepared: _Prepared
) -> _TokenTrading:
    settings = prepared.settings
    symbol, interval, capital = tb.symbol, settings.interval, settings.capital
    out = _TokenTrading()
    book: PaperBook | None = None
    plan: BotPlan | None = None  # the plan ``book`` trades
    series: DecimalBars | None = None
    draining = False
    drains: list[tuple[PaperBook, _Track]] = []  # replaced bots draining beside their successor
    for k in range(len(wanted)):
        i_k, i_next = tb.index_at(bounds[k]), tb.index_at(bounds[k + 1])
        want = wanted[k]
        changed = book is not None and want is not None and plan is not None and want != plan
        if book is not None and (want is None or changed) and not (draining and want is None):
            if settings.on_remove == "close":
                out.forced_close(*_final_close(book, tb, i_k, symbol, interval), capital)
                out.end_life(book, capital)
                book = None
            elif book.is_flat:  # nothing to drain: the bot stops at once, as the registry's does
                out.end_life(book, capital)
                book = None
            elif changed:  # another plan: this bot drains beside the new one
                drains.append((book, out.hand_over(book, capital)))
                book = None
            else:
                draining = True
        if want is not None:
            if book is None:
                book, series = _warm_book(prepared, tb, i_k, want)
                plan = want
                out.started += 1
            draining = False
        if i_next > i_k:
            span = (i_k, i_next)
            drains = [(d, tr) for d, tr in drains if not _drain(d, tb, span, out, tr, settings)]
        if book is None or i_next <= i_k:
            continue
        if not draining:
            assert series is not None  # set with the book
            out.track.add(tb.ts[i_k:i_next], book.run_prepared(series, i_k, i_next), capital)
            continue
        if _drain(book, tb, (i_k, i_next), out, out.track, settings):
            book, draining = None, False
    i_end = tb.index_at(bounds[-1])
    for d, track in drains:
        out.forced_close(*_final_close(d, tb, i_end, symbol, interval), capital, track)
        out.end_life(d, capital, track)
    if book is not None:
        out.forced_close(*_final_close(book, tb, i_end, symbol, interval), capital)
        out.end_life(book, capital)
    return out


def _plan_of(plans: Plans | None, k: int, symbol: str, prepared: _Prepared) -> BotPlan | None:
    if plans is None:
        return prepared.default
    return plans[k].get(symbol)


def run_sleeves(
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    times: Sequence[datetime],
    approved: Sequence[Sequence[str]],
    sleeves: int,
    plans: Plans | None = None,
) -> SleeveRun:
    """Trade ``approved[k]`` over period ``k`` for every ``k``, as the bots would; see the module doc.

    ``plans[k][symbol]``: what the token's bot trades in period ``k`` (default: the settings' set); an
    approved token without a plan is not traded.
    """
    grid = BarGrid.of(settings, times)
    bounds = [datetime_to_ms(t) for t in times] + [datetime_to_ms(settings.end)]
    diff = np.zeros(grid.n + 1)
    trades, fees, started = 0, 0.0, 0
    token_pnl: dict[str, list[float]] = {}
    token_curves: dict[str, FloatArray] = {}
    approved_sets = [set(a) for a in approved]
    prepared = _Prepared(settings)
    for symbol in settings.symbols:
        tb = bars.get(symbol)
        wanted = [
            _plan_of(plans, k, symbol, prepared) if symbol in a else None for k, a in enumerate(approved_sets)
        ]
        if tb is None or not any(w is not None for w in wanted):
            token_pnl[symbol] = [0.0] * len(times)
            continue
        run = _trade_token(tb, wanted, bounds, prepared)
        prepared.forget(symbol)
        trades, fees, started = trades + run.trades, fees + run.fees, started + run.started
        mine = np.zeros(grid.n + 1)
        marks = np.zeros(len(bounds) - 1)
        for ts, pnl in run.curves():
            if ts.shape[0]:
                np.add.at(mine, grid.index(ts), np.diff(pnl, prepend=0.0))
            final = float(pnl[-1]) if pnl.shape[0] else 0.0
            track = _Track([ts], [pnl]) if ts.shape[0] else _Track()
            marks += np.array([*track.values_before(bounds[1:-1]).tolist(), final])
        diff += mine
        token_curves[symbol] = np.cumsum(mine[: grid.n])
        token_pnl[symbol] = np.diff(marks, prepend=0.0).tolist()
    pnl_grid = np.cumsum(diff[: grid.n])
    return SleeveRun(
        grid, sleeves, settings.capital, pnl_grid, trades, fees, token_pnl, started, token_curves
    )


@dataclass(frozen=True, slots=True)
class BookTables:
    """For the random baseline and the IC: what a bot of each token started at each ``t_a`` is worth.

    ``marked[s][a][b]`` is its equity at the last bar close before ``t_b`` and ``closed[s][a][b]`` the
    cash a close at the open of the first bar at or after ``t_b`` leaves (``b = K``: the end), for
    ``a < b <= K``; a bot that drains instead of closing is booked at the value its drain ends with.
    """

    marked: dict[str, dict[int, FloatArray]]
    closed: dict[str, dict[int, FloatArray]]

    def period_return(self, symbol: str, k: int, capital: float) -> float | None:
        """Return of a bot started at ``t_k`` and stopped at ``t_{k+1}``: the token's out-of-sample
        strategy return over period ``k`` (None without a bot)."""
        row = self.closed.get(symbol, {}).get(k)
        return None if row is None else float(row[k + 1]) / capital - 1.0


def _drained_value(
    book: PaperBook, config: BotConfig, tb: TokenBars, j0: int, symbol: str, interval: str
) -> float:
    """The cash a bot draining from bar ``j0`` ends with (a copy of ``book`` drains; ``book`` trades on)."""
    copy = PaperBook.from_state(config, book.state_dict())
    for j in range(j0, len(tb)):
        copy.on_bar(_bar(tb, j, symbol, interval), orders="exits")
        if copy.is_flat:
            return copy.equity
    return copy.close_value(float(tb.close[-1])) if len(tb) else copy.equity


def book_tables(
    bars: dict[str, TokenBars],
    settings: WalkForwardSettings,
    times: Sequence[datetime],
    starts: Sequence[Sequence[str]],
    plans: Plans | None = None,
) -> BookTables:
    """Run a bot of each token in ``starts[a]`` from ``t_a`` to the end, marking it at each boundary
    (``plans[a][symbol]``: what it trades; default: the settings' set)."""
    bounds = [datetime_to_ms(t) for t in times] + [datetime_to_ms(settings.end)]
    k_count = len(times)
    marked: dict[str, dict[int, FloatArray]] = {}
    closed: dict[str, dict[int, FloatArray]] = {}
    prepared = _Prepared(settings)
    for symbol in dict.fromkeys(s for names in starts for s in names):  # token by token: its bots
        tb = bars.get(symbol)
        if tb is None:
            continue
        for a in range(k_count):
            if symbol not in starts[a]:
                continue
            plan = _plan_of(plans, a, symbol, prepared)
            if plan is None:
                continue
            config = prepared.config(symbol, plan)
            book, series = _warm_book(prepared, tb, tb.index_at(bounds[a]), plan)
            m = np.full(k_count + 1, np.nan)
            c = np.full(k_count + 1, np.nan)
            for b in range(a + 1, k_count + 1):
                i_prev, i_b = tb.index_at(bounds[b - 1]), tb.index_at(bounds[b])
                if i_b > i_prev:
                    book.run_prepared(series, i_prev, i_b)
                m[b] = book.equity
                if not book.holds_position:
                    c[b] = book.equity
                elif settings.on_remove == "drain" and b < k_count:
                    c[b] = _drained_value(book, config, tb, i_b, symbol, settings.interval)
                else:
                    price = float(tb.open[i_b]) if i_b < len(tb) else float(tb.close[-1])
                    c[b] = book.close_value(price)
            marked.setdefault(symbol, {})[a] = m
            closed.setdefault(symbol, {})[a] = c
        prepared.forget(symbol)
    return BookTables(marked, closed)
