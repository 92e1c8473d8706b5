"""algo-trade evaluation: does selecting tokens by backtest pay out of sample?

- :func:`run_walkforward`: select at every ``t_k`` from ``[t_k - window, t_k)`` only, trade
  ``[t_k, t_{k+1})`` as the bots would, against universe, random and buy-and-hold baselines, with PSR.
- :func:`probability_of_backtest_overfitting`: CSCV over a matrix of variants' returns.
- :func:`spearman`, :func:`ic_summary`, :func:`turnover`: the rank statistics of a walk-forward.
- :func:`regime_split`: out-of-sample returns of approved and eligible tokens by volatility regime.
- :func:`run_optimised_walkforward`: the same study with each token's strategy and parameters chosen at
  every ``t_k`` on its training window (``--optimise``), against the fixed set on the same periods.
"""

from loguru import logger

from algo_trade_evaluation._bars import TokenBars, bars_from_frames, history_start, load_bars
from algo_trade_evaluation._by_regime import REGIME_KEYS, RegimeSplit, regime_split
from algo_trade_evaluation._desk import BarGrid, BookTables, BotPlan, SleeveRun, book_tables, run_sleeves
from algo_trade_evaluation._optimised import (
    OptimisedStudy,
    OptimiseSpec,
    TokenPick,
    optimised_steps,
    picks_at,
    run_optimised_walkforward,
)
from algo_trade_evaluation._pbo import PboResult, probability_of_backtest_overfitting
from algo_trade_evaluation._random import RandomBaseline, random_baseline
from algo_trade_evaluation._ranks import IcSummary, Turnover, ic_summary, spearman, turnover
from algo_trade_evaluation._search import SEARCH_KEYS, RuleSearch, Variant, run_search, variants_from_grid
from algo_trade_evaluation._select import SelectionStep, select_at
from algo_trade_evaluation._series import SeriesStats, bar_returns, series_stats
from algo_trade_evaluation._settings import WalkForwardSettings
from algo_trade_evaluation._store import curves_of, records_of, store_walkforward
from algo_trade_evaluation._walkforward import (
    PeriodResult,
    WalkForwardResult,
    run_walkforward,
    selection_returns,
    selection_steps,
)

logger.disable("algo_trade_evaluation")

__all__ = [
    "REGIME_KEYS",
    "SEARCH_KEYS",
    "BarGrid",
    "BookTables",
    "BotPlan",
    "IcSummary",
    "OptimiseSpec",
    "OptimisedStudy",
    "PboResult",
    "PeriodResult",
    "RandomBaseline",
    "RegimeSplit",
    "RuleSearch",
    "SelectionStep",
    "SeriesStats",
    "SleeveRun",
    "TokenBars",
    "TokenPick",
    "Turnover",
    "Variant",
    "WalkForwardResult",
    "WalkForwardSettings",
    "bar_returns",
    "bars_from_frames",
    "book_tables",
    "curves_of",
    "history_start",
    "ic_summary",
    "load_bars",
    "optimised_steps",
    "picks_at",
    "probability_of_backtest_overfitting",
    "random_baseline",
    "records_of",
    "regime_split",
    "run_optimised_walkforward",
    "run_search",
    "run_sleeves",
    "run_walkforward",
    "select_at",
    "selection_returns",
    "selection_steps",
    "series_stats",
    "spearman",
    "store_walkforward",
    "turnover",
    "variants_from_grid",
]
