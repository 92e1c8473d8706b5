"""algo-trade data: PostgreSQL store, Hyperliquid client, candle files.

The test kit (a fake Hyperliquid, throw-away databases, real candles) is :mod:`algo_trade_data.testing`.
"""

from loguru import logger

from algo_trade_data._candle_recorder import CandleRecorder
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA, HyperliquidCandle, candles_to_frame, parse_candles
from algo_trade_data._closed_bar import ClosedBar
from algo_trade_data._database import DatabaseClient, RetentionReport, redact_url
from algo_trade_data._db_coverage import CandleGap, CandleStatus, summarize_gaps
from algo_trade_data._db_runs import HEARTBEAT_S as RUN_HEARTBEAT_S
from algo_trade_data._db_runs import this_host
from algo_trade_data._files import (
    FileImportResult,
    ImportInterrupted,
    import_candle_files,
    parse_freqtrade_name,
    read_candle_file,
    write_candle_file,
)
from algo_trade_data._hyperliquid import HyperliquidClient, PerpAsset, PerpMarket
from algo_trade_data._market_hub import (
    MAX_WS_SUBSCRIPTIONS,
    CandleSubscription,
    HubStats,
    MarketDataHub,
    SubscriptionLimitError,
)
from algo_trade_data._migrate import MigrationError, MigrationReport
from algo_trade_data._ratelimit import WeightRateLimiter, shared_limiter
from algo_trade_data._records import (
    BacktestResultRecord,
    BacktestRunRecord,
    BotRecord,
    FillRecord,
    SelectionRecord,
)
from algo_trade_data._refresh import CandleStore, RefreshReport, RefreshSummary, refresh_candles, refresh_many
from algo_trade_data._repair import BackgroundRepair, RepairSummary, repair_candles, stored_series
from algo_trade_data._retry import backoff_delay
from algo_trade_data._symbols import check_symbol, symbol_problem
from algo_trade_data._synthetic import SYNTHETIC_EXCHANGE, synthetic_candles

logger.disable("algo_trade_data")

__all__ = [
    "CANDLE_FRAME_SCHEMA",
    "MAX_WS_SUBSCRIPTIONS",
    "RUN_HEARTBEAT_S",
    "SYNTHETIC_EXCHANGE",
    "BackgroundRepair",
    "BacktestResultRecord",
    "BacktestRunRecord",
    "BotRecord",
    "CandleGap",
    "CandleRecorder",
    "CandleStatus",
    "CandleStore",
    "CandleSubscription",
    "ClosedBar",
    "DatabaseClient",
    "FileImportResult",
    "FillRecord",
    "HubStats",
    "HyperliquidCandle",
    "HyperliquidClient",
    "ImportInterrupted",
    "MarketDataHub",
    "MigrationError",
    "MigrationReport",
    "PerpAsset",
    "PerpMarket",
    "RefreshReport",
    "RefreshSummary",
    "RepairSummary",
    "RetentionReport",
    "SelectionRecord",
    "SubscriptionLimitError",
    "WeightRateLimiter",
    "backoff_delay",
    "candles_to_frame",
    "check_symbol",
    "import_candle_files",
    "parse_candles",
    "parse_freqtrade_name",
    "read_candle_file",
    "redact_url",
    "refresh_candles",
    "refresh_many",
    "repair_candles",
    "shared_limiter",
    "stored_series",
    "summarize_gaps",
    "symbol_problem",
    "synthetic_candles",
    "this_host",
    "write_candle_file",
]
