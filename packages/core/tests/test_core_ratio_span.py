"""The span an annualised ratio stands on, and the warning below the chosen limits."""

from __future__ import annotations

import pytest

from algo_trade_core import (
    MIN_RATIO_DAYS,
    MIN_RATIO_TRADES,
    SelectionCriteria,
    bars_span_days,
    ratio_span_text,
    short_ratio_warning,
)


def test_span_is_bars_times_interval() -> None:
    assert bars_span_days(6624, "1m") == pytest.approx(4.6)
    assert bars_span_days(720, "1h") == 30.0
    assert ratio_span_text(6624, "1m") == "4.6 days of 1m bars"
    assert ratio_span_text(8760, "1h") == "365 days of 1h bars"


def test_a_few_days_of_bars_is_flagged_with_its_span() -> None:
    warning = short_ratio_warning(6624, "1m", 40)
    assert warning == "annualised from 4.6 days of 1m bars and 40 trades (< 28 days)"


def test_few_trades_are_flagged_even_over_a_long_window() -> None:
    warning = short_ratio_warning(43_200, "1m", 1)
    assert warning == "annualised from 30.0 days of 1m bars and 1 trade (< 20 trades)"


def test_the_default_window_with_a_few_missing_bars_and_enough_trades_is_not_flagged() -> None:
    assert short_ratio_warning(43_200 - 500, "1m", MIN_RATIO_TRADES) is None
    limit_bars = int(MIN_RATIO_DAYS * 1440)
    assert short_ratio_warning(limit_bars, "1m", 50) is None
    assert short_ratio_warning(limit_bars - 1, "1m", 50) is not None


def test_fallback_floor_defaults_to_zero() -> None:
    assert SelectionCriteria().fallback_min_sharpe == 0.0
