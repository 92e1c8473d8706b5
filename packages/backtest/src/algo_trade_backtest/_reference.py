"""A slow, obviously-correct pure-Python implementation of the engine. **Used only by tests.**

Same semantics as the kernels (DESIGN.md section 6), written for reading rather than speed: plain loops,
every moving average recomputed from its slice of the series on every bar, and every comparison of
averages decided in exact rational arithmetic (:class:`fractions.Fraction`) on the *decimal* values of
the inputs (``Decimal(repr(x))``, the prices the exchange quotes; see ``_decimal`` for the precision
bound), so no rounding can flip a tie. Money arithmetic is float64, in the same order of
operations as the kernels, so fill prices, equity and PnL agree to the last bit or nearly.

It returns the same :class:`~algo_trade_backtest.BacktestResult` as the engine; only the value objects
are shared, no computation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from algo_trade_backtest._decimal import (
    MAX_DECIMALS,
    MIN_DECIMALS,
    close_budget,
    factor_fraction,
    volume_budget,
)
from algo_trade_backtest._metrics import RawMetrics
from algo_trade_backtest._params import StrategyName, StrategyParams, coerce_params, params_hash
from algo_trade_backtest._results import BacktestResult, BacktestTrade, ExitReason, OpenPosition
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig, bars_per_year, ms_to_datetime

__all__ = ["decimal_units", "reference_backtest", "result_differences"]


def _decimal_places(x: float) -> int:
    """Digits after the decimal point of the shortest representation of ``x`` (``repr``)."""
    exponent = Decimal(repr(x)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def decimal_units(values: Sequence[float], budget: int) -> list[int]:
    """Return the series as integers at its decimal precision (the definition in ``_decimal``).

    The precision is the largest number of decimals among the values, at most ``MAX_DECIMALS``, and
    lowered until the largest value's integer is within ``budget`` (and 2**50). A value with at most
    that many decimals is its decimal value exactly; one with more is rounded half to even.
    """
    d = min(max(_decimal_places(x) for x in values), MAX_DECIMALS)
    top = max(Fraction(x) for x in values)
    while d > MIN_DECIMALS and round(top * Fraction(10) ** d) > min(budget, 2**50):
        d -= 1
    scale = Fraction(10) ** d
    return [
        int(Fraction(Decimal(repr(x))) * scale) if _decimal_places(x) <= d else round(Fraction(x) * scale)
        for x in values
    ]


class _Averages:
    """Exact simple moving averages of one series in decimal units, recomputed from the slice."""

    def __init__(self, values: Sequence[float], budget: int) -> None:
        self._n = decimal_units(values, budget)

    def value(self, i: int) -> Fraction:
        """The exact value of element ``i`` (in the series' decimal units)."""
        return Fraction(self._n[i])

    def sma(self, i: int, period: int) -> Fraction:
        """The mean of elements ``i - period + 1 .. i`` (the window must be full)."""
        assert i - period + 1 >= 0
        return Fraction(sum(self._n[i - period + 1 : i + 1]), period)


class _QuadMa:
    def __init__(self, p: QuadMaConfig, close: Sequence[float], volume: Sequence[float]) -> None:
        self.p = p
        longest = max(p.short_1, p.short_2, p.long_1, p.long_2, p.trend)
        self.factor = factor_fraction(p.volume_factor, p.long_2)
        self.close = _Averages(close, close_budget(longest))
        self.volume = _Averages(volume, volume_budget(p.long_2, self.factor))
        self.reversal_count = 0  # bars the opposite alignment has held during a pending reversal

    def _alignment(self, i: int, direction: int) -> bool:
        """Shorts beyond longs and close beyond trend, both on the side of ``direction``."""
        p, c = self.p, self.close
        shorts = (c.sma(i, p.short_1), c.sma(i, p.short_2))
        longs = (c.sma(i, p.long_1), c.sma(i, p.long_2))
        trend = c.sma(i, p.trend)
        if direction > 0:
            return min(shorts) > max(longs) and c.value(i) > trend
        return max(shorts) < min(longs) and c.value(i) < trend

    def _setup(self, i: int, direction: int) -> bool:
        p, c = self.p, self.close
        before = (c.sma(i - 1, p.short_1), c.sma(i - 1, p.short_2))
        now = (c.sma(i, p.short_1), c.sma(i, p.short_2))
        trend_now, trend_before = c.sma(i, p.trend), c.sma(i - 1, p.trend)
        if direction > 0:
            cross = before[0] <= before[1] and now[0] > now[1]
            trend_ok = trend_now > trend_before
        else:
            cross = before[0] > before[1] and now[0] <= now[1]
            trend_ok = trend_now < trend_before
        volume_ok = (not p.volume_filter) or (
            self.volume.value(i) > self.factor * self.volume.sma(i, p.long_2)
        )
        return cross and trend_ok and self._alignment(i, direction) and volume_ok

    def decide(self, i: int, position: int) -> int:
        p = self.p
        if position == 0:
            self.reversal_count = 0
        if i < max(p.short_1, p.short_2, p.long_1, p.long_2, p.trend):
            return 0  # every window must be full at bar i - 1 too
        if position == 0:
            if self._setup(i, 1):
                return 1
            if self._setup(i, -1):
                return -1
            return 0
        if self.reversal_count > 0:
            self.reversal_count = self.reversal_count + 1 if self._alignment(i, -position) else 0
        elif self._setup(i, -position):
            self.reversal_count = 1
        if self.reversal_count >= p.reversal_confirmation_bars:
            self.reversal_count = 0
            return -position
        return 0


class _MaCrossover:
    def __init__(self, p: MaCrossoverConfig, close: Sequence[float]) -> None:
        self.p = p
        self.close = _Averages(close, close_budget(p.slow))

    def decide(self, i: int, position: int) -> int:
        if i < self.p.slow - 1:
            return 0
        fast, slow = self.close.sma(i, self.p.fast), self.close.sma(i, self.p.slow)
        want = 1 if fast > slow else -1 if fast < slow else 0
        return want if want not in (0, position) else 0


def reference_backtest(
    timestamps: Sequence[int] | np.ndarray[Any, Any],
    open_: Sequence[float] | np.ndarray[Any, Any],
    high: Sequence[float] | np.ndarray[Any, Any],
    low: Sequence[float] | np.ndarray[Any, Any],
    close: Sequence[float] | np.ndarray[Any, Any],
    volume: Sequence[float] | np.ndarray[Any, Any],
    *,
    strategy: StrategyName,
    params: StrategyParams | Mapping[str, Any] | None = None,
    execution: BacktestConfig | None = None,
    interval: str,
) -> BacktestResult:
    """Backtest like :func:`~algo_trade_backtest.run_backtest`, slowly and plainly (inputs are trusted)."""
    config = coerce_params(strategy, params)
    ex = execution if execution is not None else BacktestConfig()
    ts = [int(t) for t in timestamps]
    o, h, lo, c, v = ([float(x) for x in series] for series in (open_, high, low, close, volume))
    n = len(c)
    slip = ex.slippage_bps / 10_000.0
    decider: _QuadMa | _MaCrossover = (
        _QuadMa(config, c, v) if isinstance(config, QuadMaConfig) else _MaCrossover(config, c)
    )
    exits = isinstance(config, QuadMaConfig)

    cash = ex.initial_capital
    qty = 0.0  # signed
    side = 0
    entry_price = entry_fee = tp_level = sl_level = 0.0
    entry_time = entry_index = 0
    pending = 0
    trades: list[BacktestTrade] = []
    equity: list[float] = []
    exposed = 0
    gross_profit = gross_loss = 0.0
    winners = 0

    def close_position(i: int, price: float, reason: ExitReason) -> None:
        nonlocal cash, qty, side, gross_profit, gross_loss, winners
        size = abs(qty)
        notional = size * price
        fee = ex.fee_rate * notional
        if side > 0:
            cash += notional
            gross = size * (price - entry_price)
        else:
            cash -= notional
            gross = size * (entry_price - price)
        cash -= fee
        pnl = (gross - entry_fee) - fee
        trades.append(
            BacktestTrade(
                entry_time=ms_to_datetime(entry_time),
                exit_time=ms_to_datetime(ts[i]),
                side="long" if side > 0 else "short",
                entry_price=entry_price,
                exit_price=price,
                qty=size,
                fees=entry_fee + fee,
                pnl=pnl,
                exit_reason=reason,
                entry_index=entry_index,
                exit_index=i,
            )
        )
        if pnl > 0.0:
            winners += 1
            gross_profit += pnl
        elif pnl < 0.0:
            gross_loss -= pnl
        qty, side = 0.0, 0

    def open_position(i: int, direction: int, price: float) -> None:
        nonlocal cash, qty, side, entry_price, entry_fee, tp_level, sl_level, entry_time, entry_index
        equity_now = cash + qty * price
        if equity_now <= 0.0:
            return
        size = ex.position_fraction * equity_now / price
        notional = size * price
        fee = ex.fee_rate * notional
        cash = cash - notional if direction > 0 else cash + notional
        cash -= fee
        qty = size if direction > 0 else -size
        side, entry_price, entry_fee, entry_time, entry_index = direction, price, fee, ts[i], i
        if isinstance(config, QuadMaConfig):
            if direction > 0:
                tp_level = price * (1.0 + config.take_profit)
                sl_level = price * (1.0 - config.stop_loss)
            else:
                tp_level = price * (1.0 - config.take_profit)
                sl_level = price * (1.0 + config.stop_loss)

    for i in range(n):
        # 1. The order decided at the previous close fills at this open.
        if pending != 0:
            price = o[i] * (1.0 + slip) if pending > 0 else o[i] * (1.0 - slip)
            if side == -pending:
                close_position(i, price, "reversal")
            if side == 0:
                open_position(i, pending, price)
            pending = 0
        # 2. Take-profit / stop-loss within the bar: a gap through a level fills at the open; with
        #    both levels inside the range the stop is assumed first.
        if exits and side != 0:
            hit: tuple[float, ExitReason] | None = None
            if side > 0:
                if o[i] <= sl_level:
                    hit = (o[i], "stop_loss")
                elif o[i] >= tp_level:
                    hit = (o[i], "take_profit")
                elif lo[i] <= sl_level:
                    hit = (sl_level, "stop_loss")
                elif h[i] >= tp_level:
                    hit = (tp_level, "take_profit")
                if hit is not None:
                    close_position(i, hit[0] * (1.0 - slip), hit[1])
            else:
                if o[i] >= sl_level:
                    hit = (o[i], "stop_loss")
                elif o[i] <= tp_level:
                    hit = (o[i], "take_profit")
                elif h[i] >= sl_level:
                    hit = (sl_level, "stop_loss")
                elif lo[i] <= tp_level:
                    hit = (tp_level, "take_profit")
                if hit is not None:
                    close_position(i, hit[0] * (1.0 + slip), hit[1])
        # 3. The strategy decides at the close; mark to market.
        pending = decider.decide(i, side)
        equity.append(cash + qty * c[i])
        if side != 0:
            exposed += 1

    raw = _metrics(
        equity,
        ex.initial_capital,
        o[0],
        c[-1],
        len(trades),
        winners,
        gross_profit,
        gross_loss,
        exposed,
        bars_per_year(interval),
    )
    position = None
    if side != 0:
        size = abs(qty)
        gross = size * (c[-1] - entry_price) if side > 0 else size * (entry_price - c[-1])
        position = OpenPosition(
            side="long" if side > 0 else "short",
            entry_time=ms_to_datetime(entry_time),
            entry_index=entry_index,
            entry_price=entry_price,
            qty=size,
            entry_fee=entry_fee,
            mark_price=c[-1],
            unrealized_pnl=gross - entry_fee,
            take_profit=tp_level if exits else None,
            stop_loss=sl_level if exits else None,
        )
    return BacktestResult(
        strategy=strategy,
        params=config,
        execution=ex,
        interval=interval,
        params_hash=params_hash(strategy, config),
        equity=np.array(equity),
        trades=trades,
        metrics=raw.to_performance(periods_per_year=bars_per_year(interval)),
        raw_metrics=raw,
        open_position=position,
        pending_signal=pending,
    )


def _metrics(
    equity: list[float],
    capital: float,
    first_open: float,
    last_close: float,
    num_trades: int,
    winners: int,
    gross_profit: float,
    gross_loss: float,
    exposed: int,
    periods: float,
) -> RawMetrics:
    """DESIGN.md section 6, term by term."""
    returns = [equity[i] / equity[i - 1] - 1.0 for i in range(1, len(equity))]
    m = len(returns)
    sharpe = sortino = skewness = 0.0
    kurtosis = 3.0
    if m >= 2:
        total = 0.0
        for r in returns:
            total += r
        mean = total / m
        squares = 0.0
        downside = 0.0
        for r in returns:
            squares += (r - mean) * (r - mean)
            downside += min(r, 0.0) * min(r, 0.0)
        std = math.sqrt(squares / (m - 1))
        down_dev = math.sqrt(downside / m)
        sharpe = mean / std * math.sqrt(periods) if std > 0.0 else 0.0
        sortino = mean / down_dev * math.sqrt(periods) if down_dev > 0.0 else 0.0
        m2 = squares / m
        if m2 > 0.0:  # population moments of the returns (kurtosis not in excess)
            skewness = sum((r - mean) ** 3 for r in returns) / m / m2**1.5
            kurtosis = sum((r - mean) ** 4 for r in returns) / m / m2**2
    peak = equity[0]
    max_drawdown = 0.0
    for value in equity:
        peak = max(peak, value)
        max_drawdown = max(max_drawdown, (peak - value) / peak)
    growth = equity[-1] / capital
    calmar = 0.0
    if max_drawdown > 0.0 and m > 0:
        try:
            annual = growth ** (periods / m) - 1.0 if growth > 0.0 else -1.0
        except OverflowError:  # a very short window annualised: IEEE (and the kernels) give inf
            annual = math.inf
        calmar = annual / max_drawdown
    return RawMetrics(
        total_return=growth - 1.0,
        sharpe_ratio=sharpe,
        sortino_ratio=sortino,
        max_drawdown=max_drawdown,
        calmar_ratio=calmar,
        num_trades=num_trades,
        win_rate=winners / num_trades if num_trades else 0.0,
        profit_factor=gross_profit / gross_loss if gross_loss > 0.0 else math.inf,
        buy_hold_return=last_close / first_open - 1.0,
        exposure=exposed / len(equity),
        num_bars=len(equity),
        initial_capital=capital,
        final_capital=equity[-1],
        returns_skewness=skewness,
        returns_kurtosis=kurtosis,
    )


def result_differences(actual: BacktestResult, expected: BacktestResult, *, rel: float = 1e-9) -> list[str]:
    """List how two results differ: trades (times, sides, reasons, indices exactly; prices, quantities,
    fees and PnL within ``rel``), equity, raw metrics, open position and pending signal. Empty: same."""
    problems: list[str] = []

    def close(a: float, b: float) -> bool:
        return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-3)

    if len(actual.trades) != len(expected.trades):
        problems.append(f"{len(actual.trades)} trades, expected {len(expected.trades)}")
    for k, (a, b) in enumerate(zip(actual.trades, expected.trades, strict=False)):
        problems.extend(
            f"trade {k}: {name} {getattr(a, name)} != {getattr(b, name)}"
            for name in ("entry_time", "exit_time", "side", "exit_reason", "entry_index", "exit_index")
            if getattr(a, name) != getattr(b, name)
        )
        problems.extend(
            f"trade {k}: {name} {getattr(a, name)!r} != {getattr(b, name)!r}"
            for name in ("entry_price", "exit_price", "qty", "fees", "pnl")
            if not close(getattr(a, name), getattr(b, name))
        )
        if len(problems) > 20:
            return problems
    if actual.equity.shape != expected.equity.shape:
        problems.append(f"equity has {actual.equity.shape} points, expected {expected.equity.shape}")
    else:
        bad = ~np.isclose(actual.equity, expected.equity, rtol=rel, atol=0.0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"equity[{i}] {actual.equity[i]!r} != {expected.equity[i]!r} ({bad.sum()} bars)")
    mine, theirs = actual.raw_metrics.as_dict(), expected.raw_metrics.as_dict()
    for name, value in mine.items():
        if not close(value, theirs[name]):
            problems.append(f"metric {name} {value!r} != {theirs[name]!r}")
    a_pos, b_pos = actual.open_position, expected.open_position
    if (a_pos is None) != (b_pos is None):
        problems.append(f"open position {a_pos} != {b_pos}")
    elif a_pos is not None and b_pos is not None:
        problems.extend(
            f"open position {name} {getattr(a_pos, name)} != {getattr(b_pos, name)}"
            for name in ("side", "entry_time", "entry_index")
            if getattr(a_pos, name) != getattr(b_pos, name)
        )
        problems.extend(
            f"open position {name} {getattr(a_pos, name)!r} != {getattr(b_pos, name)!r}"
            for name in ("entry_price", "qty", "entry_fee", "mark_price", "unrealized_pnl")
            if not close(getattr(a_pos, name), getattr(b_pos, name))
        )
    if actual.pending_signal != expected.pending_signal:
        problems.append(f"pending signal {actual.pending_signal} != {expected.pending_signal}")
    return problems
