"""algo-trade evaluation: does selecting tokens by backtest pay out of sample?

- :func:`run_walkforward`: select at every ``t_k`` from ``[t_k - window, t_k)`` only, trade
  ``[t_k, t_{k+1})`` as the bots would, against universe, random and buy-and-hold baselines, with PSR.
- :func:`probability_of_backtest_overfitting`: CSCV over a matrix of variants' returns.
- :func:`spearman`, :func:`ic_summary`, :func:`turnover`: the rank statistics of a walk-forward.
- :func:`regime_split`: out-of-sample returns of approved and eligible tokens by volatility regime.
- :func:`run_optimised_walkforward`: the same study with each token's strategy and parameters chosen at
  every ``t_k`` on its training window (``--optimise``), against the fixed set on the same periods.
- :func:`study_json`, :func:`stored_json`, :func:`list_json`, :func:`statistics_lines`,
  :func:`verdict_line`: a study as the CLI and the dashboard show it (one definition for both).

Names load on first use (:func:`~algo_trade_core.lazy_exports`): the JSON shapes of a stored study
(:mod:`._shapes`) do not import the engine, numba or polars.
"""

from typing import TYPE_CHECKING

from loguru import logger

from algo_trade_core import lazy_exports

if TYPE_CHECKING:
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
    from algo_trade_evaluation._shapes import (
        list_json,
        period_json,
        statistics_lines,
        stored_json,
        study_header,
        study_json,
        verdict_line,
    )
    from algo_trade_evaluation._store import curves_of, records_of, store_walkforward
    from algo_trade_evaluation._walkforward import (
        PeriodResult,
        WalkForwardResult,
        run_walkforward,
        selection_returns,
        selection_steps,
    )
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "algo_trade_evaluation._bars": (
                "TokenBars",
                "bars_from_frames",
                "history_start",
                "load_bars",
            ),
            "algo_trade_evaluation._by_regime": (
                "REGIME_KEYS",
                "RegimeSplit",
                "regime_split",
            ),
            "algo_trade_evaluation._desk": (
                "BarGrid",
                "BookTables",
                "BotPlan",
                "SleeveRun",
                "book_tables",
                "run_sleeves",
            ),
            "algo_trade_evaluation._optimised": (
                "OptimiseSpec",
                "OptimisedStudy",
                "TokenPick",
                "optimised_steps",
                "picks_at",
                "run_optimised_walkforward",
            ),
            "algo_trade_evaluation._pbo": (
                "PboResult",
                "probability_of_backtest_overfitting",
            ),
            "algo_trade_evaluation._random": (
                "RandomBaseline",
                "random_baseline",
            ),
            "algo_trade_evaluation._ranks": (
                "IcSummary",
                "Turnover",
                "ic_summary",
                "spearman",
                "turnover",
            ),
            "algo_trade_evaluation._search": (
                "SEARCH_KEYS",
                "RuleSearch",
                "Variant",
                "run_search",
                "variants_from_grid",
            ),
            "algo_trade_evaluation._select": (
                "SelectionStep",
                "select_at",
            ),
            "algo_trade_evaluation._series": (
                "SeriesStats",
                "bar_returns",
                "series_stats",
            ),
            "algo_trade_evaluation._settings": ("WalkForwardSettings",),
            "algo_trade_evaluation._shapes": (
                "list_json",
                "period_json",
                "statistics_lines",
                "stored_json",
                "study_header",
                "study_json",
                "verdict_line",
            ),
            "algo_trade_evaluation._store": (
                "curves_of",
                "records_of",
                "store_walkforward",
            ),
            "algo_trade_evaluation._walkforward": (
                "PeriodResult",
                "WalkForwardResult",
                "run_walkforward",
                "selection_returns",
                "selection_steps",
            ),
        },
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
    "list_json",
    "load_bars",
    "optimised_steps",
    "period_json",
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
    "statistics_lines",
    "store_walkforward",
    "stored_json",
    "study_header",
    "study_json",
    "turnover",
    "variants_from_grid",
    "verdict_line",
]
