"""algo-trade data: PostgreSQL store, Hyperliquid client, candle files.

Names load on first use (:func:`~algo_trade_core.lazy_exports`): the store does not import aiohttp, and
reading results does not import polars, so commands that need neither start fast.

The test kit (a fake Hyperliquid, throw-away databases, real candles) is :mod:`algo_trade_data.testing`.
"""

from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import lazy_exports

if TYPE_CHECKING:
    from algo_trade_data._binary_rows import FillColumns
    from algo_trade_data._candle_recorder import CandleRecorder
    from algo_trade_data._candles import (
        CANDLE_FRAME_SCHEMA,
        HyperliquidCandle,
        candles_to_frame,
        parse_candles,
    )
    from algo_trade_data._closed_bar import ClosedBar
    from algo_trade_data._database import DatabaseClient, RetentionReport, redact_url
    from algo_trade_data._db_coverage import CandleGap, CandleStatus, summarize_gaps
    from algo_trade_data._db_dashboard import SymbolPresence
    from algo_trade_data._db_history import RunOverview
    from algo_trade_data._db_runs import RUN_HEARTBEAT_S, this_host
    from algo_trade_data._db_trials import (
        TRIAL_METRICS,
        OptimisationRunRecord,
        TrialBatch,
        TrialRecord,
        params_key,
    )
    from algo_trade_data._db_walkforward import WalkForwardPeriodRecord, WalkForwardRunRecord
    from algo_trade_data._files import (
        CANDLE_FILE_FORMATS,
        CandleFileFormat,
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
    from algo_trade_data._migrate import MigrationError, MigrationReport, discover_migrations
    from algo_trade_data._presence import DAEMON_LOCK, DaemonPresence, announce_daemon, live_daemons
    from algo_trade_data._ratelimit import WeightRateLimiter, shared_limiter
    from algo_trade_data._records import (
        BacktestResultRecord,
        BacktestRunRecord,
        BotEventRecord,
        BotRecord,
        FillRecord,
        RunTrials,
        SelectionRecord,
    )
    from algo_trade_data._refresh import (
        CandleStore,
        RefreshReport,
        RefreshSummary,
        refresh_candles,
        refresh_many,
    )
    from algo_trade_data._repair import BackgroundRepair, RepairSummary, repair_candles, stored_series
    from algo_trade_data._retry import backoff_delay
    from algo_trade_data._symbols import check_symbol, symbol_problem
    from algo_trade_data._synthetic import SYNTHETIC_EXCHANGE, synthetic_candles
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "algo_trade_data._candle_recorder": ("CandleRecorder",),
            "algo_trade_data._candles": (
                "CANDLE_FRAME_SCHEMA",
                "HyperliquidCandle",
                "candles_to_frame",
                "parse_candles",
            ),
            "algo_trade_data._closed_bar": ("ClosedBar",),
            "algo_trade_data._database": ("DatabaseClient", "RetentionReport", "redact_url"),
            "algo_trade_data._db_dashboard": ("SymbolPresence",),
            "algo_trade_data._db_coverage": ("CandleGap", "CandleStatus", "summarize_gaps"),
            "algo_trade_data._db_history": ("RunOverview",),
            "algo_trade_data._db_runs": ("RUN_HEARTBEAT_S", "this_host"),
            "algo_trade_data._db_trials": (
                "TRIAL_METRICS",
                "OptimisationRunRecord",
                "TrialBatch",
                "TrialRecord",
                "params_key",
            ),
            "algo_trade_data._db_walkforward": ("WalkForwardPeriodRecord", "WalkForwardRunRecord"),
            "algo_trade_data._files": (
                "CANDLE_FILE_FORMATS",
                "CandleFileFormat",
                "FileImportResult",
                "ImportInterrupted",
                "import_candle_files",
                "parse_freqtrade_name",
                "read_candle_file",
                "write_candle_file",
            ),
            "algo_trade_data._hyperliquid": ("HyperliquidClient", "PerpAsset", "PerpMarket"),
            "algo_trade_data._market_hub": (
                "MAX_WS_SUBSCRIPTIONS",
                "CandleSubscription",
                "HubStats",
                "MarketDataHub",
                "SubscriptionLimitError",
            ),
            "algo_trade_data._binary_rows": ("FillColumns",),
            "algo_trade_data._migrate": ("MigrationError", "MigrationReport", "discover_migrations"),
            "algo_trade_data._presence": ("DAEMON_LOCK", "DaemonPresence", "announce_daemon", "live_daemons"),
            "algo_trade_data._ratelimit": ("WeightRateLimiter", "shared_limiter"),
            "algo_trade_data._records": (
                "BacktestResultRecord",
                "BacktestRunRecord",
                "BotEventRecord",
                "BotRecord",
                "FillRecord",
                "RunTrials",
                "SelectionRecord",
            ),
            "algo_trade_data._refresh": (
                "CandleStore",
                "RefreshReport",
                "RefreshSummary",
                "refresh_candles",
                "refresh_many",
            ),
            "algo_trade_data._repair": (
                "BackgroundRepair",
                "RepairSummary",
                "repair_candles",
                "stored_series",
            ),
            "algo_trade_data._retry": ("backoff_delay",),
            "algo_trade_data._symbols": ("check_symbol", "symbol_problem"),
            "algo_trade_data._synthetic": ("SYNTHETIC_EXCHANGE", "synthetic_candles"),
        },
    )

logger.disable("algo_trade_data")

__all__ = [
    "CANDLE_FILE_FORMATS",
    "CANDLE_FRAME_SCHEMA",
    "DAEMON_LOCK",
    "MAX_WS_SUBSCRIPTIONS",
    "RUN_HEARTBEAT_S",
    "SYNTHETIC_EXCHANGE",
    "TRIAL_METRICS",
    "BackgroundRepair",
    "BacktestResultRecord",
    "BacktestRunRecord",
    "BotEventRecord",
    "BotRecord",
    "CandleFileFormat",
    "CandleGap",
    "CandleRecorder",
    "CandleStatus",
    "CandleStore",
    "CandleSubscription",
    "ClosedBar",
    "DaemonPresence",
    "DatabaseClient",
    "FileImportResult",
    "FillColumns",
    "FillRecord",
    "HubStats",
    "HyperliquidCandle",
    "HyperliquidClient",
    "ImportInterrupted",
    "MarketDataHub",
    "MigrationError",
    "MigrationReport",
    "OptimisationRunRecord",
    "PerpAsset",
    "PerpMarket",
    "RefreshReport",
    "RefreshSummary",
    "RepairSummary",
    "RetentionReport",
    "RunOverview",
    "RunTrials",
    "SelectionRecord",
    "SubscriptionLimitError",
    "SymbolPresence",
    "TrialBatch",
    "TrialRecord",
    "WalkForwardPeriodRecord",
    "WalkForwardRunRecord",
    "WeightRateLimiter",
    "announce_daemon",
    "backoff_delay",
    "candles_to_frame",
    "check_symbol",
    "discover_migrations",
    "import_candle_files",
    "live_daemons",
    "params_key",
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
