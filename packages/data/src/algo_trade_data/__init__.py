"""algo-trade data: PostgreSQL store, Hyperliquid client, candle files.

The test kit (a fake Hyperliquid, throw-away databases, real candles) is :mod:`algo_trade_data.testing`.
"""

from loguru import logger

from algo_trade_data._candle_recorder import CandleRecorder
from algo_trade_data._candles import CANDLE_FRAME_SCHEMA, HyperliquidCandle, candles_to_frame, parse_candles
from algo_trade_data._closed_bar import ClosedBar
from algo_trade_data._database import DatabaseClient, RetentionReport, redact_url
from algo_trade_data._db_candles import CandleStatus
from algo_trade_data._db_dashboard import SymbolPresence
from algo_trade_data._db_history import RunOverview
from algo_trade_data._files import (
    CANDLE_FILE_FORMATS,
    CandleFileFormat,
    FileImportResult,
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
from algo_trade_data._synthetic import SYNTHETIC_EXCHANGE, synthetic_candles

logger.disable("algo_trade_data")

__all__ = [
    "CANDLE_FILE_FORMATS",
    "CANDLE_FRAME_SCHEMA",
    "MAX_WS_SUBSCRIPTIONS",
    "SYNTHETIC_EXCHANGE",
    "BacktestResultRecord",
    "BacktestRunRecord",
    "BotRecord",
    "CandleFileFormat",
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
    "MarketDataHub",
    "MigrationError",
    "MigrationReport",
    "PerpAsset",
    "PerpMarket",
    "RefreshReport",
    "RefreshSummary",
    "RetentionReport",
    "RunOverview",
    "SelectionRecord",
    "SubscriptionLimitError",
    "SymbolPresence",
    "WeightRateLimiter",
    "candles_to_frame",
    "import_candle_files",
    "parse_candles",
    "parse_freqtrade_name",
    "read_candle_file",
    "redact_url",
    "refresh_candles",
    "refresh_many",
    "shared_limiter",
    "synthetic_candles",
    "write_candle_file",
]
