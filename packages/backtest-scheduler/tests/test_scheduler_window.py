"""Backtest windows: `as_of - days <= t < as_of`, closed bars only, coverage against the window's bars."""

from __future__ import annotations

from datetime import UTC, datetime

from algo_trade_backtest_scheduler import Window, window_for


def test_window_on_a_bar_boundary_holds_whole_days_of_bars() -> None:
    w = window_for(datetime(2025, 7, 26, 5, 0, tzinfo=UTC), 30, "1m")
    assert (w.start, w.end) == (
        datetime(2025, 6, 26, 5, 0, tzinfo=UTC),
        datetime(2025, 7, 26, 5, 0, tzinfo=UTC),
    )
    assert w.expected_bars == 43_200
    assert w.coverage(21_600) == 0.5


def test_window_off_a_boundary_keeps_the_forming_bar_and_earlier_bars_out() -> None:
    w = window_for(datetime(2025, 7, 26, 5, 0, 30, tzinfo=UTC), 1, "1m")
    assert w.end == datetime(2025, 7, 26, 5, 0, tzinfo=UTC)  # the 05:00 bar is still forming
    assert w.start == datetime(2025, 7, 25, 5, 1, tzinfo=UTC)  # 05:00 the day before opened before as_of - 1d
    assert w.expected_bars == 1439
    h = window_for(datetime(2025, 7, 26, 5, 30, tzinfo=UTC), 2, "1h")
    assert (h.start, h.end, h.expected_bars) == (
        datetime(2025, 7, 24, 6, tzinfo=UTC),
        datetime(2025, 7, 26, 5, tzinfo=UTC),
        47,
    )


def test_a_window_given_off_bar_boundaries_counts_the_bars_that_open_inside_it() -> None:
    # `algo-trade backtest --start/--end` builds its window from the user's bounds, which need not fall on
    # bar boundaries: the expected bars are the bar open times inside [start, end).
    w = Window(datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC), datetime(2025, 1, 1, 0, 2, 0, tzinfo=UTC), "1m")
    assert w.expected_bars == 1  # 00:01 only: 00:02 is the end, excluded
    w = Window(datetime(2025, 1, 1, 0, 0, 30, tzinfo=UTC), datetime(2025, 1, 1, 0, 2, 1, tzinfo=UTC), "1m")
    assert w.expected_bars == 2  # 00:01 and 00:02 (the span is 91 s: its floor would say 1)
    assert w.coverage(2) == 1.0
