"""How much history an annualised ratio stands on, and when that is too little to mean much (pure).

Sharpe, Sortino and Calmar are annualised from per-bar returns: a Sharpe of 16.75 from 4.6 days of 1m
bars is an extrapolation of a few days to a year, not a property of the strategy. Every place that shows
such a ratio says what span it was computed on and warns below the limits chosen here.
"""

from __future__ import annotations

from algo_trade_core._intervals import interval_to_ms

__all__ = ["MIN_RATIO_DAYS", "MIN_RATIO_TRADES", "bars_span_days", "ratio_span_text", "short_ratio_warning"]

# Four weeks. The standard error of an annualised Sharpe ratio is about sqrt((1 + SR²/2) / years)
# (Lo 2002, "The Statistics of Sharpe Ratios"): sqrt(365 / 28) ≈ 3.6 at 28 days, already larger than any
# threshold a user sets, and it grows fast below (7.7 at 4.6 days, the 1m history Hyperliquid serves).
# Four weeks rather than 30 days so that the default 30-day window is not flagged for a few missing bars.
MIN_RATIO_DAYS = 28.0
# Per-bar returns are not independent bets: a window's P&L comes from its round trips. Below 20 trades
# the standard error of the win rate is above 11 percentage points (0.5 / sqrt(20)), and one or two
# trades decide the Sharpe ratio and the win rate alike.
MIN_RATIO_TRADES = 20


def bars_span_days(num_bars: int, interval: str) -> float:
    """Return the history ``num_bars`` bars of ``interval`` represent, in days (gaps not counted)."""
    return num_bars * interval_to_ms(interval) / 86_400_000


def ratio_span_text(num_bars: int, interval: str) -> str:
    """Return e.g. ``"4.6 days of 1m bars"``: what an annualised ratio was computed on."""
    days = bars_span_days(num_bars, interval)
    shown = f"{days:.1f}" if days < 100 else f"{days:,.0f}"
    return f"{shown} days of {interval} bars"


def short_ratio_warning(num_bars: int, interval: str, num_trades: int) -> str | None:
    """Return why annualised ratios of this result mean little, or None when its span is long enough.

    Example: ``"annualised from 4.6 days of 1m bars and 8 trades (< 28 days, < 20 trades)"``.
    """
    days = bars_span_days(num_bars, interval)
    short_days, few_trades = days < MIN_RATIO_DAYS, num_trades < MIN_RATIO_TRADES
    if not (short_days or few_trades):
        return None
    limits = []
    if short_days:
        limits.append(f"< {MIN_RATIO_DAYS:g} days")
    if few_trades:
        limits.append(f"< {MIN_RATIO_TRADES} trades")
    return (
        f"annualised from {ratio_span_text(num_bars, interval)} and {num_trades} trade"
        f"{'' if num_trades == 1 else 's'} ({', '.join(limits)})"
    )
