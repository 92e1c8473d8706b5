"""algo-trade tracking: each bot measured against its own backtest.

- :func:`reconcile`: a bot's recorded fills against the backtest over exactly the bars it has seen,
  trade by trade (missed/extra trades, entry/exit lag, price per fill, fees, PnL gap), with missing bars
  reported as such.
- :func:`build_envelope` / :func:`envelope_of_backtest` and :func:`check_divergence`: the distribution a
  bot's own backtest implies (block bootstrap) and whether its live numbers fall outside it.
- :func:`report_bot`: both for a stored bot, against the result it was approved on (``bots report``).
"""

from loguru import logger

from algo_trade_tracking._envelope import (
    DivergenceCheck,
    DivergenceReason,
    Envelope,
    LiveTrack,
    build_envelope,
    check_divergence,
    cusum_path,
    envelope_of_backtest,
    horizon_grid,
)
from algo_trade_tracking._gaps import Gap, find_gaps
from algo_trade_tracking._judge import EnvelopeJudge, judge_stats
from algo_trade_tracking._load import (
    Basis,
    BotHistory,
    TrackingStore,
    bars_of_frame,
    load_basis,
    load_bot_history,
)
from algo_trade_tracking._reconcile import BarArrays, Reconciliation, TradeMatch, reconcile
from algo_trade_tracking._report import (
    BotReport,
    bot_envelope,
    build_report,
    envelope_band,
    envelope_of_basis,
    reconcile_running_bots,
    report_bot,
)
from algo_trade_tracking._trades import (
    FillArrays,
    RoundTrip,
    TrackedFill,
    backtest_fills,
    equity_from_fills,
    recorded_fills,
    round_trips,
)

logger.disable("algo_trade_tracking")

__all__ = [
    "BarArrays",
    "Basis",
    "BotHistory",
    "BotReport",
    "DivergenceCheck",
    "DivergenceReason",
    "Envelope",
    "EnvelopeJudge",
    "FillArrays",
    "Gap",
    "LiveTrack",
    "Reconciliation",
    "RoundTrip",
    "TrackedFill",
    "TrackingStore",
    "TradeMatch",
    "backtest_fills",
    "bars_of_frame",
    "bot_envelope",
    "build_envelope",
    "build_report",
    "check_divergence",
    "cusum_path",
    "envelope_band",
    "envelope_of_backtest",
    "envelope_of_basis",
    "equity_from_fills",
    "find_gaps",
    "horizon_grid",
    "judge_stats",
    "load_basis",
    "load_bot_history",
    "reconcile",
    "reconcile_running_bots",
    "recorded_fills",
    "report_bot",
    "round_trips",
]
