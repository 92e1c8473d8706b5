"""algo-trade data: PostgreSQL store, Hyperliquid client, candle files, a fake exchange for tests."""

from loguru import logger

from algo_trade_data._candles import CANDLE_FRAME_SCHEMA, HyperliquidCandle, candles_to_frame, parse_candles
from algo_trade_data._fake_exchange import FakeHyperliquid, FakeMarket, ManualClock, fake_candles
from algo_trade_data._hyperliquid import HyperliquidClient, PerpAsset, PerpMarket
from algo_trade_data._ratelimit import WeightRateLimiter, shared_limiter
from algo_trade_data._records import BacktestResultRecord, BacktestRunRecord, BotRecord, SelectionRecord
from algo_trade_data._refresh import CandleStore, RefreshReport, RefreshSummary, refresh_candles, refresh_many
from algo_trade_data._synthetic import SYNTHETIC_EXCHANGE, synthetic_candles

logger.disable("algo_trade_data")

__all__ = [
    "CANDLE_FRAME_SCHEMA",
    "SYNTHETIC_EXCHANGE",
    "BacktestResultRecord",
    "BacktestRunRecord",
    "BotRecord",
    "CandleStore",
    "FakeHyperliquid",
    "FakeMarket",
    "HyperliquidCandle",
    "HyperliquidClient",
    "ManualClock",
    "PerpAsset",
    "PerpMarket",
    "RefreshReport",
    "RefreshSummary",
    "SelectionRecord",
    "WeightRateLimiter",
    "candles_to_frame",
    "fake_candles",
    "parse_candles",
    "refresh_candles",
    "refresh_many",
    "shared_limiter",
    "synthetic_candles",
]
