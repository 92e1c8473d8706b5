"""The backtesting report a freqtrade user expects, computed from a result's trades and equity curve.

Pure: arrays and value objects in, a :class:`BacktestReport` out. Every figure carries what it was
computed on (closed trades, days, bars), so a caller can print "CAGR 35 % (from 92.0 days)".

Definitions (freqtrade's, where it has one):

- trade duration: exit fill time - entry fill time of each closed trade.
- trade return: ``pnl / (qty * entry_price)``, net of both fees; best/worst trade rank by it.
- expectancy: ``win_rate * avg_win - loss_rate * avg_loss`` in quote currency per closed trade, and
  the expectancy ratio ``(1 + avg_win / avg_loss) * win_rate - 1`` (``None`` without a losing trade).
- fees paid: the fees of every fill, closed trades' entries and exits plus the open position's entry.
- CAGR: ``(final_equity / initial_capital) ** (365 / days) - 1`` over ``days`` from the first bar's
  open to the last bar's close (``None`` when it does not fit a float: a few days of a large gain).
- monthly returns: per UTC calendar month of the bars' open times, the month's last mark-to-market
  equity over the previous month's (the initial capital for the first month), minus one; their
  product is the total return. Trades count in the month they closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from algo_trade_backtest._results import BacktestResult, BacktestTrade, OpenPosition, Side
from algo_trade_core import interval_to_ms, ms_to_datetime

__all__ = [
    "BacktestReport",
    "MonthlyReturn",
    "SideSummary",
    "TradeExtreme",
    "backtest_report",
    "build_report",
    "cagr",
    "trade_return",
]

_DAY_MS = 86_400_000
_MAX_EXP = 700.0  # exp(700) ~ 1e304: beyond it a CAGR is not a float


@dataclass(frozen=True, kw_only=True, slots=True)
class SideSummary:
    """Closed trades of one side: count, winners, win rate and summed net PnL."""

    side: Side
    num_trades: int
    winners: int
    win_rate: float  # 0 without trades
    pnl: float

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "num_trades": self.num_trades,
            "winners": self.winners,
            "win_rate": self.win_rate,
            "pnl": self.pnl,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class TradeExtreme:
    """The best or worst closed trade and its return on the entry notional."""

    trade: BacktestTrade
    ret: float

    def to_json_dict(self) -> dict[str, Any]:
        return {"return": self.ret, **self.trade.to_dict()}


@dataclass(frozen=True, kw_only=True, slots=True)
class MonthlyReturn:
    """One UTC calendar month of the backtest (partial at the window's edges: see ``bars``)."""

    month: str  # "2025-01"
    first_bar: datetime
    last_bar: datetime
    bars: int
    start_equity: float
    end_equity: float
    ret: float
    num_trades: int  # closed in this month
    pnl: float  # of the trades closed in this month

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "first_bar": self.first_bar.isoformat(),
            "last_bar": self.last_bar.isoformat(),
            "bars": self.bars,
            "start_equity": self.start_equity,
            "end_equity": self.end_equity,
            "return": self.ret,
            "num_trades": self.num_trades,
            "pnl": self.pnl,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class BacktestReport:
    """The freqtrade backtesting report's core for one backtest (see the module docstring)."""

    interval: str
    start: datetime  # first bar's open
    end: datetime  # last bar's close
    days: float  # end - start, in days: what CAGR is computed from
    num_bars: int
    initial_capital: float
    final_equity: float  # mark-to-market, an open position valued at the last close
    num_trades: int  # closed round trips
    winners: int
    losers: int
    avg_duration: timedelta | None
    min_duration: timedelta | None
    max_duration: timedelta | None
    best_trade: TradeExtreme | None
    worst_trade: TradeExtreme | None
    avg_win: float
    avg_loss: float  # a positive amount
    expectancy: float
    expectancy_ratio: float | None
    fees_paid: float
    fills: int
    long: SideSummary
    short: SideSummary
    cagr: float | None
    monthly: tuple[MonthlyReturn, ...]

    def to_json_dict(self) -> dict[str, Any]:
        """Return JSON-ready values: ISO times, durations in seconds, monthly returns as a list."""

        def seconds(value: timedelta | None) -> float | None:
            return None if value is None else value.total_seconds()

        return {
            "interval": self.interval,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "num_bars": self.num_bars,
            "initial_capital": self.initial_capital,
            "final_equity": self.final_equity,
            "num_trades": self.num_trades,
            "winners": self.winners,
            "losers": self.losers,
            "avg_duration_s": seconds(self.avg_duration),
            "min_duration_s": seconds(self.min_duration),
            "max_duration_s": seconds(self.max_duration),
            "best_trade": self.best_trade.to_json_dict() if self.best_trade else None,
            "worst_trade": self.worst_trade.to_json_dict() if self.worst_trade else None,
            "avg_win": self.avg_win,
            "avg_loss": self.avg_loss,
            "expectancy": self.expectancy,
            "expectancy_ratio": self.expectancy_ratio,
            "fees_paid": self.fees_paid,
            "fills": self.fills,
            "long": self.long.to_json_dict(),
            "short": self.short.to_json_dict(),
            "cagr": self.cagr,
            "monthly_returns": [m.to_json_dict() for m in self.monthly],
        }


def trade_return(trade: BacktestTrade) -> float:
    """Net PnL over the entry notional (``qty * entry_price``)."""
    notional = trade.qty * trade.entry_price
    return trade.pnl / notional if notional > 0 else 0.0


def cagr(initial_capital: float, final_equity: float, days: float) -> float | None:
    """``(final / initial) ** (365 / days) - 1``; -1 when everything was lost; None when not a float."""
    if days <= 0 or initial_capital <= 0:
        return None
    growth = final_equity / initial_capital
    if growth <= 0:
        return -1.0
    exponent = math.log(growth) * 365.0 / days
    return math.expm1(exponent) if exponent < _MAX_EXP else None


def _side_summary(side: Side, trades: list[BacktestTrade]) -> SideSummary:
    mine = [t for t in trades if t.side == side]
    winners = sum(t.pnl > 0 for t in mine)
    return SideSummary(
        side=side,
        num_trades=len(mine),
        winners=winners,
        win_rate=winners / len(mine) if mine else 0.0,
        pnl=math.fsum(t.pnl for t in mine),
    )


def _monthly(
    ts: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    initial_capital: float,
    trades: list[BacktestTrade],
) -> tuple[MonthlyReturn, ...]:
    months = ts.astype("datetime64[ms]").astype("datetime64[M]")
    # Months are non-decreasing (timestamps increase): each run of equal months is one calendar month.
    starts = np.flatnonzero(np.concatenate(([True], months[1:] != months[:-1])))
    ends = np.concatenate((starts[1:], [ts.shape[0]])) - 1
    by_month: dict[str, list[BacktestTrade]] = {}
    for t in trades:
        by_month.setdefault(t.exit_time.strftime("%Y-%m"), []).append(t)
    out = []
    previous = initial_capital
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        label = str(months[first])
        closed = by_month.get(label, [])
        end_equity = float(equity[last])
        out.append(
            MonthlyReturn(
                month=label,
                first_bar=ms_to_datetime(int(ts[first])),
                last_bar=ms_to_datetime(int(ts[last])),
                bars=last - first + 1,
                start_equity=previous,
                end_equity=end_equity,
                ret=end_equity / previous - 1.0 if previous > 0 else 0.0,
                num_trades=len(closed),
                pnl=math.fsum(t.pnl for t in closed),
            )
        )
        previous = end_equity
    return tuple(out)


def _timestamps(values: npt.ArrayLike, n: int) -> npt.NDArray[np.int64]:
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        arr = arr.astype("datetime64[ms]").astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"timestamps: expected epoch milliseconds or datetime64, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"timestamps: expected {n} values (one per equity point), got shape {arr.shape}")
    if n and (np.diff(arr) <= 0).any():
        raise ValueError("timestamps: expected strictly increasing bar open times")
    return np.ascontiguousarray(arr, dtype=np.int64)


def build_report(
    *,
    timestamps: npt.ArrayLike,
    equity: npt.ArrayLike,
    trades: list[BacktestTrade],
    initial_capital: float,
    interval: str,
    open_position: OpenPosition | None = None,
) -> BacktestReport:
    """Compute the report from bar open times (epoch ms), the equity at each bar close and the trades.

    Raises:
        ValueError: no bars, timestamps and equity of different lengths, or timestamps not increasing.
    """
    eq = np.ascontiguousarray(equity, dtype=np.float64)
    if eq.ndim != 1 or eq.shape[0] == 0:
        raise ValueError(f"equity: expected a non-empty 1-D array, got shape {eq.shape}")
    ts = _timestamps(timestamps, eq.shape[0])
    step = interval_to_ms(interval)
    span_ms = int(ts[-1]) + step - int(ts[0])
    days = span_ms / _DAY_MS
    final = float(eq[-1])

    durations = [t.exit_time - t.entry_time for t in trades]
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [-t.pnl for t in trades if t.pnl < 0]
    n = len(trades)
    avg_win = math.fsum(wins) / len(wins) if wins else 0.0
    avg_loss = math.fsum(losses) / len(losses) if losses else 0.0
    win_rate = len(wins) / n if n else 0.0
    loss_rate = len(losses) / n if n else 0.0
    ranked = sorted(trades, key=trade_return)
    open_fee = open_position.entry_fee if open_position is not None else 0.0
    return BacktestReport(
        interval=interval,
        start=ms_to_datetime(int(ts[0])),
        end=ms_to_datetime(int(ts[0]) + span_ms),
        days=days,
        num_bars=int(ts.shape[0]),
        initial_capital=initial_capital,
        final_equity=final,
        num_trades=n,
        winners=len(wins),
        losers=len(losses),
        avg_duration=sum(durations, timedelta()) / n if n else None,
        min_duration=min(durations) if durations else None,
        max_duration=max(durations) if durations else None,
        best_trade=TradeExtreme(trade=ranked[-1], ret=trade_return(ranked[-1])) if ranked else None,
        worst_trade=TradeExtreme(trade=ranked[0], ret=trade_return(ranked[0])) if ranked else None,
        avg_win=avg_win,
        avg_loss=avg_loss,
        expectancy=win_rate * avg_win - loss_rate * avg_loss,
        expectancy_ratio=(1.0 + avg_win / avg_loss) * win_rate - 1.0 if avg_loss > 0 else None,
        fees_paid=math.fsum(t.fees for t in trades) + open_fee,
        fills=2 * n + (open_position is not None),
        long=_side_summary("long", trades),
        short=_side_summary("short", trades),
        cagr=cagr(initial_capital, final, days),
        monthly=_monthly(ts, eq, initial_capital, trades),
    )


def backtest_report(result: BacktestResult, timestamps: npt.ArrayLike) -> BacktestReport:
    """The report of ``result``; ``timestamps`` are its bars' open times (epoch ms or datetime64)."""
    return build_report(
        timestamps=timestamps,
        equity=result.equity,
        trades=result.trades,
        initial_capital=float(result.execution.initial_capital),
        interval=result.interval,
        open_position=result.open_position,
    )
