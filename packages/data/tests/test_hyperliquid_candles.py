"""Parsing and validation of candleSnapshot payloads (on the recorded real response where possible)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algo_trade_core import AlgoTradeError, CandleValidationError, ExchangeError
from algo_trade_data._candles import (
    CANDLE_FRAME_SCHEMA,
    candles_to_frame,
    empty_candle_frame,
    parse_candle,
    parse_candles,
)

RECORDED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "hyperliquid-recorded"
CANDLE_CASSETTE = RECORDED / "test_get_candles_snapshot.yaml"

GOOD: dict[str, Any] = {
    "T": 1684702799999,
    "c": "0.001604",
    "h": "0.001616",
    "i": "1h",
    "l": "0.001601",
    "n": 709,
    "o": "0.001601",
    "s": "kPEPE",
    "t": 1684699200000,
    "v": "520665683.0",
}


def recorded_candles() -> list[dict[str, Any]]:
    if not CANDLE_CASSETTE.exists():
        pytest.skip(f"recorded Hyperliquid responses not found at {RECORDED}")
    yaml = pytest.importorskip("yaml")
    with CANDLE_CASSETTE.open() as f:
        cassette = yaml.safe_load(f)
    for interaction in cassette["interactions"]:
        if json.loads(interaction["request"]["body"])["type"] == "candleSnapshot":
            body: list[dict[str, Any]] = json.loads(interaction["response"]["body"]["string"])
            return body
    pytest.fail("the candle cassette holds no candleSnapshot interaction")


def test_parses_the_recorded_real_response_exactly() -> None:
    payload = recorded_candles()
    candles = parse_candles(payload, coin="kPEPE", interval="1h")
    assert len(candles) == 24
    first = candles[0]
    assert first.t == 1684699200000
    assert first.T == 1684702799999
    assert first.open == Decimal("0.001601")
    assert first.close == Decimal("0.001604")
    assert first.volume == Decimal("520665683.0")
    assert first.trades == 709
    for raw, parsed in zip(payload, candles, strict=True):
        assert str(parsed.high) == raw["h"]  # exact: no float detour
        assert str(parsed.low) == raw["l"]


def test_frame_has_the_project_columns_and_types() -> None:
    payload = recorded_candles()
    frame = candles_to_frame(
        parse_candles(payload, coin="kPEPE", interval="1h"), symbol="kPEPE", interval="1h"
    )
    assert frame.schema == CANDLE_FRAME_SCHEMA
    assert frame.height == 24
    assert frame["timestamp"][0] == datetime(2023, 5, 21, 20, 0, tzinfo=UTC)
    assert frame["timestamp"].is_sorted()
    assert frame["close"][0] == pytest.approx(0.001604)
    assert set(frame["exchange"]) == {"hyperliquid"}
    assert set(frame["symbol"]) == {"kPEPE"}
    assert set(frame["interval"]) == {"1h"}
    assert empty_candle_frame().schema == CANDLE_FRAME_SCHEMA


def test_to_candle_keeps_exact_decimals() -> None:
    candle = parse_candle(GOOD, coin="kPEPE", interval="1h").to_candle("kPEPE", "1h")
    assert candle.close == Decimal("0.001604")
    assert candle.timestamp == datetime(2023, 5, 21, 20, 0, tzinfo=UTC)
    assert candle.trades == 709


def test_plain_json_numbers_are_accepted_exactly() -> None:
    candle = parse_candle({**GOOD, "o": 0.001601, "v": 5}, coin="kPEPE", interval="1h")
    assert candle.open == Decimal("0.001601")
    assert candle.volume == Decimal(5)


def test_zero_volume_bar_is_valid() -> None:
    flat = {**GOOD, "o": "1.0", "h": "1.0", "l": "1.0", "c": "1.0", "v": "0.0", "n": 0}
    assert parse_candle(flat, coin="kPEPE", interval="1h").volume == 0


@pytest.mark.parametrize(
    ("change", "error", "expected"),
    [
        ({"h": "0.0015"}, CandleValidationError, "high 0.0015 is below max"),
        ({"l": "0.0017"}, CandleValidationError, "low 0.0017 is above min"),
        ({"o": "0"}, CandleValidationError, "open must be positive"),
        ({"c": "-1"}, CandleValidationError, "close must be positive"),
        ({"v": "-3"}, CandleValidationError, "volume must be >= 0"),
        ({"o": "abc"}, CandleValidationError, "'o' is not a number"),
        ({"c": "NaN"}, CandleValidationError, "'c' is not a finite number"),
        ({"h": "Infinity"}, CandleValidationError, "'h' is not a finite number"),
        ({"T": 1684699100000}, CandleValidationError, "bar times are inconsistent"),
        ({"n": -1}, CandleValidationError, "trade count"),
        ({"o": None}, ExchangeError, "'o' should be a decimal string"),
        ({"o": True}, ExchangeError, "'o' should be a decimal string"),
        ({"t": "1684699200000"}, ExchangeError, "'t' should be an integer"),
        ({"n": 1.5}, ExchangeError, "'n' should be an integer"),
        ({"s": "PEPE"}, ExchangeError, "'s' is 'PEPE', expected 'kPEPE'"),
        ({"i": "1m"}, ExchangeError, "'i' is '1m', expected '1h'"),
    ],
)
def test_bad_candles_name_token_interval_and_bar(
    change: dict[str, Any], error: type[Exception], expected: str
) -> None:
    with pytest.raises(error) as info:
        parse_candle({**GOOD, **change}, coin="kPEPE", interval="1h", index=3)
    message = str(info.value)
    assert expected in message
    assert "kPEPE 1h candle #3" in message
    if "t" not in change:
        assert "2023-05-21T20:00:00+00:00" in message  # the bar's time


def test_missing_fields_are_listed() -> None:
    broken = {k: v for k, v in GOOD.items() if k not in ("o", "n")}
    with pytest.raises(ExchangeError, match=r"missing field\(s\) o, n"):
        parse_candle(broken, coin="kPEPE", interval="1h")


@pytest.mark.parametrize(
    "payload", [{"error": "x"}, None, "[]", 42, [GOOD, "oops"], [GOOD, [1, 2]], [{}], [{"t": None}]]
)
def test_wrong_shapes_raise_exchange_error_never_key_or_type_error(payload: Any) -> None:
    with pytest.raises(AlgoTradeError) as info:
        parse_candles(payload, coin="kPEPE", interval="1h")
    assert isinstance(info.value, ExchangeError)
    assert "kPEPE 1h" in str(info.value)


def test_empty_payload_is_no_candles() -> None:
    assert parse_candles([], coin="BTC", interval="1m") == []
    assert candles_to_frame([], symbol="BTC", interval="1m").height == 0


_prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**7), places=6)


@given(a=_prices, b=_prices, up=_prices, down=_prices, v=st.decimals(min_value=0, max_value=10**9, places=5))
def test_any_valid_bar_round_trips_exactly(
    a: Decimal, b: Decimal, up: Decimal, down: Decimal, v: Decimal
) -> None:
    high = max(a, b) + up
    low = max(min(a, b) - down, Decimal("0.000001"))
    if low > min(a, b):
        low = min(a, b)
    raw = {**GOOD, "o": str(a), "c": str(b), "h": str(high), "l": str(low), "v": str(v)}
    candle = parse_candle(raw, coin="kPEPE", interval="1h")
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (a, high, low, b, v)
    frame = candles_to_frame([candle], symbol="kPEPE", interval="1h")
    assert frame["high"][0] == float(high)
    assert isinstance(frame, pl.DataFrame)
