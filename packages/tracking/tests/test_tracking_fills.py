"""Pure pieces of reconciliation: missing-bar runs, pairing fills into round trips, equity from fills."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from algo_trade_backtest import run_backtest, run_backtest_arrays
from algo_trade_data import FillColumns
from algo_trade_tracking import FillArrays, TrackedFill, equity_from_fills, find_gaps, round_trips
from algo_trade_tracking._trades import REASONS

STEP = 60_000


def test_gaps_are_runs_of_missing_bars_at_the_start_inside_and_at_the_end() -> None:
    present = np.array([2, 3, 4, 8, 9], dtype=np.int64) * STEP
    gaps = find_gaps(present, STEP, 0, 11 * STEP)
    assert [(g.first_ms // STEP, g.count) for g in gaps] == [(0, 2), (5, 3), (10, 2)]
    assert find_gaps(np.arange(12, dtype=np.int64) * STEP, STEP, 0, 11 * STEP) == []
    assert [(g.first_ms, g.count) for g in find_gaps(np.zeros(0, dtype=np.int64), STEP, 0, 2 * STEP)] == [
        (0, 3)
    ]


def fill(t: int, side: int, reason: str, price: float = 100.0) -> TrackedFill:
    return TrackedFill(t=t * STEP, side=side, price=price, qty=2.0, fee=0.1, reason=reason)


def test_fills_pair_into_round_trips_in_trading_order_with_a_reversal_inside_one_bar() -> None:
    # Given out of order: the reversal's close and the new entry share bar 5 (the close comes first).
    fills = [
        fill(5, -1, "entry", 110.0),
        fill(1, 1, "entry"),
        fill(5, -1, "reversal", 110.0),
        fill(9, 1, "stop_loss", 112.0),
    ]
    trips = round_trips(fills)
    assert [(t.side, t.entry.t // STEP, None if t.exit is None else t.exit.t // STEP) for t in trips] == [
        ("long", 1, 5),
        ("short", 5, 9),
    ]
    assert trips[0].pnl == pytest.approx(2.0 * 10.0 - 0.2)
    assert trips[1].pnl == pytest.approx(-2.0 * 2.0 - 0.2)
    assert round_trips([fill(3, 1, "entry")])[0].exit is None


@pytest.mark.parametrize(
    ("fills", "message"),
    [
        ([fill(2, -1, "take_profit")], "fill at bar 120000: a take_profit exit without an open position"),
        ([fill(1, 1, "entry"), fill(2, 1, "entry")], "fill at bar 120000: an entry while a position is open"),
        ([fill(1, 1, "liquidation")], "unknown reason 'liquidation'"),
    ],
)
def test_fills_that_cannot_be_paired_say_which_bar(fills: list[TrackedFill], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        round_trips(fills)


def test_equity_from_fills_is_cash_plus_position_at_each_close() -> None:
    t = np.arange(5, dtype=np.int64) * STEP
    close = np.array([100.0, 101.0, 103.0, 102.0, 104.0])
    fills = FillArrays.of([fill(1, 1, "entry", 100.5), fill(3, -1, "signal", 102.5)])
    equity = equity_from_fills(t, close, fills, 1_000.0)
    expected = [
        1_000.0,
        1_000 - 201 - 0.1 + 2 * 101,
        1_000 - 201 - 0.1 + 2 * 103,
        1_000 - 0.2 + 4,
        1_000 - 0.2 + 4,
    ]
    assert equity.tolist() == pytest.approx(expected)


def test_stored_fill_columns_map_to_sides_and_reasons_and_an_unknown_reason_names_its_bar() -> None:
    def columns(reasons: tuple[str, ...]) -> FillColumns:
        return FillColumns(
            t=np.array([1, 2, 2], dtype=np.int64) * STEP,
            buy=np.array([True, False, False]),
            price=np.array([100.0, 101.0, 101.0]),
            quantity=np.array([2.0, 2.0, 2.0]),
            fee=np.array([0.1, 0.1, 0.1]),
            reason=np.array([0, 1, 0], dtype=np.int64),  # indices into reasons
            reasons=reasons,
        )

    arrays = FillArrays.of_columns(columns(("entry", "reversal")))
    # Trading order within bar 2: the reversal's close before the new entry.
    assert (
        arrays.to_list()
        == FillArrays.of(
            [fill(1, 1, "entry"), fill(2, -1, "entry", 101.0), fill(2, -1, "reversal", 101.0)]
        ).to_list()
    )
    assert [REASONS[int(r)] for r in arrays.reason] == ["entry", "reversal", "entry"]
    with pytest.raises(ValueError, match="fill at bar 120000: unknown reason 'liquidation'"):
        FillArrays.of_columns(columns(("entry", "liquidation")))


def test_the_backtests_fills_are_the_same_from_its_arrays_and_from_its_trade_objects(
    real_btc_1m: pl.DataFrame,
) -> None:
    """Reconciliation reads the engine's trade records; the report's objects must give the same fills
    (quad_ma: take-profit and stop-loss exits map to their reasons), and the same position left open."""
    frame = real_btc_1m[:20_000]
    bars = [frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]
    t = frame["timestamp"].dt.epoch("ms").to_numpy()
    params = {"take_profit": 0.004, "stop_loss": 0.003}
    result = run_backtest(t, *bars, strategy="quad_ma", params=params, interval="1m")
    arrays = run_backtest_arrays(t, *bars, strategy="quad_ma", params=params)
    assert len(result.trades) > 20
    assert {tr.exit_reason for tr in result.trades} >= {"take_profit", "stop_loss"}
    assert np.array_equal(arrays.equity, result.equity)
    assert arrays.open_position == result.open_position
    since = int(t[5_000])
    assert (
        FillArrays.of_backtest(arrays, since_ms=since).to_list()
        == FillArrays.of_backtest(result, since_ms=since).to_list()
    )
