"""Reconciliation: a bot's recorded fills against the backtest over exactly the bars it has seen.

The backtest runs the bot's strategy, parameters, fee and slippage over its warm-up bars plus its live
bars (the engine cannot trade during the warm-up, so both start flat on the first live bar). Both sides'
fills are paired into round trips and matched trade by trade (same side, entries at most
``max_lag_bars`` apart). A paper bot on the same bars reconciles **exactly**: every trade matched with
no lag, equal prices and quantities (to the stored 8 decimals), equal fees.

Missing bars are data, not divergence: when the store lacks live bars, the comparison stops before the
first missing bar and the result says which bars are missing (status ``missing_bars``), unless the bot
already differed before it.

Statuses: ``exact``, ``diverged`` (``diverges_at`` is the bar where the first difference starts),
``missing_bars``, ``no_bars`` (the bot has not traded a bar yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import BacktestArrays, run_backtest_arrays
from algo_trade_bot_orchestrator import BotConfig, strategy_warmup_bars
from algo_trade_core import interval_to_ms, ms_to_datetime
from algo_trade_tracking._gaps import Gap, find_gaps
from algo_trade_tracking._matching import Comparison, compare, realised_pnl
from algo_trade_tracking._trades import (
    OPEN_PRICED,
    REASONS,
    FillArrays,
    RoundTrip,
    TrackedFill,
    equity_from_fills,
    same_value,
)

__all__ = ["BarArrays", "Reconciliation", "TradeMatch", "reconcile"]

OPEN_PRICED_CODES = np.array([REASONS.index(r) for r in sorted(OPEN_PRICED)], dtype=np.int64)

Status = Literal["exact", "diverged", "missing_bars", "no_bars"]


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Bars as the engine takes them: open time (epoch ms) and float OHLCV, ascending."""

    t: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]

    def upto(self, last_ms: int) -> BarArrays:
        """The bars opening at or before ``last_ms``."""
        return self.where(self.t <= last_ms)

    def where(self, mask: npt.NDArray[np.bool_]) -> BarArrays:
        """The bars where ``mask`` is true."""
        return BarArrays(
            self.t[mask],
            self.open[mask],
            self.high[mask],
            self.low[mask],
            self.close[mask],
            self.volume[mask],
        )


def _bps(live: float, expected: float, side: int) -> float:
    """How much worse ``live`` is than ``expected`` for a fill of ``side``, in basis points (> 0: worse);
    0 within the store's rounding."""
    if expected == 0 or same_value(live, expected):
        return 0.0
    return (live / expected - 1.0) * side * 10_000.0


def _same(a: TrackedFill, b: TrackedFill) -> bool:
    """Same bar and reason; price, quantity and fee equal up to the store's 8-decimal rounding."""
    return (
        a.t == b.t
        and a.reason == b.reason
        and same_value(a.price, b.price)
        and same_value(a.qty, b.qty)
        and same_value(a.fee, b.fee)
    )


@dataclass(frozen=True, slots=True)
class TradeMatch:
    """One expected and/or live round trip: ``matched``, ``missed`` (only the backtest traded) or
    ``extra`` (only the bot traded). Lags are in bars (> 0: the bot was later); price differences in
    basis points against the backtest's fill (> 0: the bot paid more)."""

    kind: Literal["matched", "missed", "extra"]
    expected: RoundTrip | None
    live: RoundTrip | None
    step_ms: int

    @property
    def entry_lag_bars(self) -> int | None:
        if self.expected is None or self.live is None:
            return None
        return (self.live.entry.t - self.expected.entry.t) // self.step_ms

    @property
    def exit_lag_bars(self) -> int | None:
        if self.expected is None or self.live is None or self.expected.exit is None or self.live.exit is None:
            return None
        return (self.live.exit.t - self.expected.exit.t) // self.step_ms

    @property
    def entry_price_bps(self) -> float | None:
        if self.expected is None or self.live is None:
            return None
        return _bps(self.live.entry.price, self.expected.entry.price, self.live.entry.side)

    @property
    def exit_price_bps(self) -> float | None:
        if self.expected is None or self.live is None or self.expected.exit is None or self.live.exit is None:
            return None
        return _bps(self.live.exit.price, self.expected.exit.price, self.live.exit.side)

    @property
    def fee_diff(self) -> float | None:
        if self.expected is None or self.live is None:
            return None
        return self.live.fees - self.expected.fees

    @property
    def pnl_diff(self) -> float | None:
        if self.expected is None or self.live is None or self.expected.exit is None or self.live.exit is None:
            return None
        return self.live.pnl - self.expected.pnl

    @property
    def exact(self) -> bool:
        """Same bars, prices and quantities; fees equal up to the stored rounding."""
        e, lv = self.expected, self.live
        if e is None or lv is None:
            return False
        pairs = [(e.entry, lv.entry)]
        if (e.exit is None) != (lv.exit is None):
            return False
        if e.exit is not None and lv.exit is not None:
            pairs.append((e.exit, lv.exit))
        return all(_same(a, b) for a, b in pairs)

    @property
    def starts_ms(self) -> int:
        """The first bar at which this trade differs (entry, or exit for a late difference)."""
        e, lv = self.expected, self.live
        if e is None or lv is None:
            trip = e if e is not None else lv
            assert trip is not None
            return trip.entry.t
        if not _same(e.entry, lv.entry):
            return min(e.entry.t, lv.entry.t)
        exits = [f.t for f in (e.exit, lv.exit) if f is not None]
        return min(exits) if exits else e.entry.t

    def to_json(self) -> dict[str, Any]:
        def trip(t: RoundTrip | None) -> dict[str, Any] | None:
            if t is None:
                return None
            return {
                "side": t.side,
                "entry_time": ms_to_datetime(t.entry.t).isoformat(),
                "entry_price": t.entry.price,
                "exit_time": None if t.exit is None else ms_to_datetime(t.exit.t).isoformat(),
                "exit_price": None if t.exit is None else t.exit.price,
                "exit_reason": None if t.exit is None else t.exit.reason,
                "qty": t.entry.qty,
                "fees": t.fees,
                "pnl": None if t.exit is None else t.pnl,
            }

        return {
            "kind": self.kind,
            "exact": self.exact,
            "expected": trip(self.expected),
            "live": trip(self.live),
            "entry_lag_bars": self.entry_lag_bars,
            "exit_lag_bars": self.exit_lag_bars,
            "entry_price_bps": self.entry_price_bps,
            "exit_price_bps": self.exit_price_bps,
            "fee_diff": self.fee_diff,
            "pnl_diff": self.pnl_diff,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Reconciliation:
    """A bot against the backtest over its bars (see the module docstring). Money in USD."""

    bot_id: str
    status: Status
    message: str
    step_ms: int
    live_from_ms: int  # the first live bar (the one after the warm-up)
    last_bar_ms: int | None  # the last bar the bot acted on
    bars_expected: int  # live bars the span should hold
    bars_in_store: int  # of them, bars the store holds
    bars_seen_by_bot: int  # live bars the bot counted
    gaps: list[Gap]
    compared_until_ms: int | None  # fills before this bar are compared (the first missing bar, or all)
    comparison: Comparison = field(repr=False)
    slippage_modelled_bps: float
    slippage_paid_bps: float | None  # mean over the bot's fills priced at a bar's open
    fee_rate_modelled: float
    fee_rate_paid: float | None
    fees_live: float
    fees_backtest: float
    pnl_live: float  # realised over the compared closed trades
    pnl_backtest: float
    diverges_at_ms: int | None
    live_t: npt.NDArray[np.int64] = field(repr=False)  # the live bars in the store
    live_equity: npt.NDArray[np.float64] = field(repr=False)  # the bot's equity rebuilt from its fills
    backtest_equity: npt.NDArray[np.float64] = field(repr=False)  # the backtest's over the same bars
    live_exits_ms: npt.NDArray[np.int64] = field(repr=False)  # bars of every live exit (gaps or not)
    backtest_exits_ms: npt.NDArray[np.int64] = field(repr=False)

    @property
    def missing_bars(self) -> int:
        return sum(g.count for g in self.gaps)

    @property
    def first_missing_ms(self) -> int | None:
        return self.gaps[0].first_ms if self.gaps else None

    @property
    def matches(self) -> list[TradeMatch]:
        """Every row of the comparison as objects (built on demand: the arrays are the fast path)."""
        c = self.comparison

        def trip(
            f: FillArrays, entries: npt.NDArray[np.int64], exits: npt.NDArray[np.int64], i: int
        ) -> RoundTrip | None:
            if i < 0:
                return None
            j = int(exits[i])
            return RoundTrip(f.fill(int(entries[i])), None if j < 0 else f.fill(j))

        out = []
        for e, lv in zip(c.pair_exp.tolist(), c.pair_live.tolist(), strict=True):
            kind: Literal["matched", "missed", "extra"] = (
                "matched" if e >= 0 and lv >= 0 else "missed" if e >= 0 else "extra"
            )
            out.append(
                TradeMatch(
                    kind,
                    trip(c.expected, c.exp_entry, c.exp_exit, e),
                    trip(c.live, c.live_entry, c.live_exit, lv),
                    self.step_ms,
                )
            )
        return out

    def _count(self, kind: str) -> int:
        c = self.comparison
        has_e, has_l = c.pair_exp >= 0, c.pair_live >= 0
        mask = {"matched": has_e & has_l, "missed": has_e & ~has_l, "extra": has_l & ~has_e}[kind]
        return int(mask.sum())

    @property
    def expected_trades(self) -> int:
        return int((self.comparison.pair_exp >= 0).sum())

    @property
    def live_trades(self) -> int:
        return int((self.comparison.pair_live >= 0).sum())

    def _lags(self, exits: bool) -> float | None:
        c = self.comparison
        m = c.matched
        e, lv = c.pair_exp[m], c.pair_live[m]
        if exits:
            ex, lx = c.exp_exit[e], c.live_exit[lv]
            closed = (ex >= 0) & (lx >= 0)
            lag = (c.live.t[lx[closed]] - c.expected.t[ex[closed]]) // self.step_ms
        else:
            lag = (c.live.t[c.live_entry[lv]] - c.expected.t[c.exp_entry[e]]) // self.step_ms
        return float(np.abs(lag).max()) if lag.size else None

    @property
    def trade_count_ratio(self) -> float | None:
        """Live over expected trades (None when the backtest made none)."""
        return self.live_trades / self.expected_trades if self.expected_trades else None

    @property
    def pnl_gap(self) -> float:
        return self.pnl_live - self.pnl_backtest

    def to_json(self) -> dict[str, Any]:
        """The JSON shape ``algo-trade bots report --json`` prints under ``reconciliation``."""

        def when(ms: int | None) -> str | None:
            return None if ms is None else ms_to_datetime(ms).isoformat()

        return {
            "bot_id": self.bot_id,
            "status": self.status,
            "message": self.message,
            "live_from": when(self.live_from_ms),
            "last_bar": when(self.last_bar_ms),
            "bars_expected": self.bars_expected,
            "bars_in_store": self.bars_in_store,
            "bars_seen_by_bot": self.bars_seen_by_bot,
            "missing_bars": self.missing_bars,
            "first_missing_bar": when(self.first_missing_ms),
            "gaps": [g.to_json() for g in self.gaps],
            "compared_until": when(self.compared_until_ms),
            "diverges_at": when(self.diverges_at_ms),
            "expected_trades": self.expected_trades,
            "live_trades": self.live_trades,
            "trade_count_ratio": self.trade_count_ratio,
            "matched": self._count("matched"),
            "missed": self._count("missed"),
            "extra": self._count("extra"),
            "max_entry_lag_bars": self._lags(exits=False),
            "max_exit_lag_bars": self._lags(exits=True),
            "slippage_modelled_bps": self.slippage_modelled_bps,
            "slippage_paid_bps": self.slippage_paid_bps,
            "fee_rate_modelled": self.fee_rate_modelled,
            "fee_rate_paid": self.fee_rate_paid,
            "fees_live": self.fees_live,
            "fees_backtest": self.fees_backtest,
            "pnl_live": self.pnl_live,
            "pnl_backtest": self.pnl_backtest,
            "pnl_gap": self.pnl_gap,
            "equity_live": float(self.live_equity[-1]) if self.live_equity.shape[0] else None,
            "equity_backtest": float(self.backtest_equity[-1]) if self.backtest_equity.shape[0] else None,
            "trades": [m.to_json() for m in self.matches],
        }


def _slippage_paid(fills: FillArrays, bars: BarArrays) -> float | None:
    """Mean adverse distance of the open-priced fills from their bar's open, in basis points."""
    at_open = fills.where(np.isin(fills.reason, OPEN_PRICED_CODES))
    if not len(at_open) or bars.t.shape[0] == 0:
        return None
    i = np.minimum(np.searchsorted(bars.t, at_open.t), bars.t.shape[0] - 1)
    found = (bars.t[i] == at_open.t) & (bars.open[i] > 0)
    if not found.any():
        return None
    paid = (at_open.price[found] / bars.open[i][found] - 1.0) * at_open.side[found] * 10_000.0
    return float(np.mean(paid))


def _fee_rate(fills: FillArrays) -> float | None:
    notional = float((fills.price * fills.qty).sum())
    return float(fills.fee.sum()) / notional if notional > 0 else None


def reconcile(
    config: BotConfig,
    bars: BarArrays,
    fills: Sequence[TrackedFill] | FillArrays,
    *,
    warmup_end_ms: int,
    last_bar_ms: int | None,
    bars_seen: int,
    max_lag_bars: int = 5,
) -> Reconciliation:
    """Compare a bot's ``fills`` with the backtest over ``bars`` (see the module docstring).

    Args:
        config: the bot's strategy, parameters, interval and execution (fee, slippage, sizing).
        bars: the store's bars from the bot's warm-up to (at least) ``last_bar_ms``.
        fills: the bot's recorded fills (:func:`~algo_trade_tracking.recorded_fills`).
        warmup_end_ms: open time of the bot's last warm-up bar; live bars come after it.
        last_bar_ms: open time of the last bar the bot acted on (None: none yet).
        bars_seen: live bars the bot counted.
        max_lag_bars: the farthest apart two entries may be and still be the same trade.

    Raises:
        ValueError: the fills cannot be paired into round trips, or the bars are invalid (from the
            engine); the message names the bar.
    """
    step = interval_to_ms(config.interval)
    live_from = warmup_end_ms + step
    execution = config.execution
    empty_f = np.zeros(0)
    base: dict[str, Any] = {
        "bot_id": config.bot_id,
        "step_ms": step,
        "live_from_ms": live_from,
        "last_bar_ms": last_bar_ms,
        "bars_seen_by_bot": bars_seen,
        "slippage_modelled_bps": execution.slippage_bps,
        "fee_rate_modelled": execution.fee_rate,
    }
    if last_bar_ms is None or last_bar_ms < live_from:
        return Reconciliation(
            **base,
            status="no_bars",
            message="the bot has not traded a bar yet",
            bars_expected=0,
            bars_in_store=0,
            gaps=[],
            compared_until_ms=None,
            comparison=compare(FillArrays.of([]), FillArrays.of([]), step, max_lag_bars),
            slippage_paid_bps=None,
            fee_rate_paid=None,
            fees_live=0.0,
            fees_backtest=0.0,
            pnl_live=0.0,
            pnl_backtest=0.0,
            diverges_at_ms=None,
            live_t=np.zeros(0, dtype=np.int64),
            live_equity=empty_f,
            backtest_equity=empty_f,
            live_exits_ms=np.zeros(0, dtype=np.int64),
            backtest_exits_ms=np.zeros(0, dtype=np.int64),
        )
    warmup = strategy_warmup_bars(config.strategy, config.parameters)
    first = warmup_end_ms - max(config.warmup_bars, warmup) * step
    bars = bars.upto(last_bar_ms)
    bars = bars.where(bars.t > first)
    live_mask = bars.t >= live_from
    live_t = bars.t[live_mask]
    gaps = find_gaps(live_t, step, live_from, last_bar_ms)
    cutoff = gaps[0].first_ms if gaps else None

    result: BacktestArrays = run_backtest_arrays(
        bars.t,
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        strategy=config.strategy,  # type: ignore[arg-type]  # validated by BotConfig
        params=dict(config.parameters),
        execution=execution,
    )
    expected_all = FillArrays.of_backtest(result, since_ms=live_from)
    live_all = fills if isinstance(fills, FillArrays) else FillArrays.of(fills)
    live_all = live_all.where((live_all.t >= live_from) & (live_all.t <= last_bar_ms))
    expected, live = expected_all, live_all
    if cutoff is not None:
        expected, live = expected.where(expected.t < cutoff), live.where(live.t < cutoff)
    comparison = compare(expected, live, step, max_lag_bars)
    differing = comparison.starts[~comparison.exact]
    diverges_at = int(differing.min()) if differing.size else None
    pnl_backtest, pnl_live = realised_pnl(comparison)

    bars_expected = (last_bar_ms - live_from) // step + 1
    if diverges_at is not None:
        status: Status = "diverged"
        at = ms_to_datetime(diverges_at).isoformat()
        message = f"the bot differs from the backtest from the bar opening {at} on"
        in_store = int(live_t.shape[0])
        if bars_seen != in_store:
            # Bars the bot never handled (late or lost candles) or handled twice (a replay) explain most
            # differences of a paper bot; say so beside the bar.
            message += f" (it handled {bars_seen} bars, the store holds {in_store} of its span)"
    elif gaps:
        status = "missing_bars"
        missing = sum(g.count for g in gaps)
        message = (
            f"the store lacks {missing} of the bot's {bars_expected} bars, the first at "
            f"{ms_to_datetime(gaps[0].first_ms).isoformat()}; compared up to it: no difference"
        )
    else:
        status = "exact"
        message = f"all {comparison.rows} trades match the backtest exactly"
    return Reconciliation(
        **base,
        status=status,
        message=message,
        bars_expected=bars_expected,
        bars_in_store=int(live_t.shape[0]),
        gaps=gaps,
        compared_until_ms=cutoff,
        comparison=comparison,
        slippage_paid_bps=_slippage_paid(live, bars),
        fee_rate_paid=_fee_rate(live),
        fees_live=float(live.fee.sum()),
        fees_backtest=float(expected.fee.sum()),
        pnl_live=pnl_live,
        pnl_backtest=pnl_backtest,
        diverges_at_ms=diverges_at,
        live_t=live_t,
        live_equity=equity_from_fills(live_t, bars.close[live_mask], live_all, execution.initial_capital),
        backtest_equity=np.asarray(result.equity[live_mask], dtype=np.float64),
        live_exits_ms=live_all.t[live_all.reason != 0],
        backtest_exits_ms=expected_all.t[expected_all.reason != 0],
    )
