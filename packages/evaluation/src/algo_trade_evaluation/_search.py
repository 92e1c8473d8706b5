"""Rule search with an overfitting guard: many selection settings walked forward, the best one deflated.

Every variant (a combination of selection settings, training window and step) runs through the same
walk-forward. Backtests that do not depend on a setting are computed once and shared: the per-token
window results depend only on the training window and the step, never on thresholds, weights, ``top_n``
or the fallback; so do the universe baseline and the bots' value tables.

The best variant is the one with the highest out-of-sample Sharpe ratio of the selection. Choosing it
is itself a selection among many trials, so the report deflates it:

- the **Deflated Sharpe Ratio** of the best variant, with ``N`` = the number of variants and the variance
  of their (per-bar) Sharpe ratios (Bailey & López de Prado 2014);
- the **Probability of Backtest Overfitting** by CSCV over the variants' per-bar out-of-sample returns,
  ``S`` blocks (Bailey, Borwein, López de Prado & Zhu 2015): how often the variant that looks best on
  half of the history ranks below the median on the other half.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np

from algo_trade_core import ConfigError, deflated_sharpe_ratio
from algo_trade_evaluation._bars import TokenBars
from algo_trade_evaluation._desk import BookTables, SleeveRun, book_tables, run_sleeves
from algo_trade_evaluation._pbo import PboResult, probability_of_backtest_overfitting
from algo_trade_evaluation._select import WindowResults
from algo_trade_evaluation._series import bar_returns
from algo_trade_evaluation._settings import WalkForwardSettings
from algo_trade_evaluation._walkforward import WalkForwardResult, decisions, run_walkforward, window_results

__all__ = ["SEARCH_KEYS", "RuleSearch", "Variant", "run_search", "variants_from_grid"]

# What a grid may vary: every [token_selection] key but the strategy, plus the window and the step.
SEARCH_KEYS = (
    "min_sharpe_ratio",
    "min_win_rate",
    "max_drawdown",
    "min_num_trades",
    "top_n",
    "max_result_age_hours",
    "min_window_coverage",
    "fallback_top_n",
    "fallback_min_sharpe",
    "weight_sharpe",
    "weight_win_rate",
    "weight_drawdown",
    "window_days",
    "step",
)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Variant:
    """One combination of settings (only the keys that differ from the base)."""

    values: Mapping[str, Any]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in self.values.items()) or "base"

    def apply(self, base: WalkForwardSettings) -> WalkForwardSettings:
        criteria = {k: v for k, v in self.values.items() if k not in ("window_days", "step")}
        other = {k: v for k, v in self.values.items() if k in ("window_days", "step")}
        try:
            return replace(base, criteria=replace(base.criteria, **criteria), **other)
        except (TypeError, ConfigError) as exc:
            raise ConfigError(f"grid variant {self.label}: {exc}") from None


def _show(value: Any) -> str:
    if isinstance(value, timedelta):
        return f"{value.total_seconds() / 86_400:g}d"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def variants_from_grid(grid: Mapping[str, Sequence[Any]]) -> list[Variant]:
    """Every combination of the grid's values (keys in :data:`SEARCH_KEYS`).

    Raises:
        ConfigError: an unknown key or an empty list of values.
    """
    unknown = sorted(set(grid) - set(SEARCH_KEYS))
    if unknown:
        raise ConfigError(
            f"grid: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(SEARCH_KEYS)}"
        )
    empty = [k for k, v in grid.items() if not v]
    if empty:
        raise ConfigError(f"grid: key(s) {', '.join(empty)} list no values")
    keys = list(grid)
    combos = itertools.product(*(grid[k] for k in keys))
    return [Variant(dict(zip(keys, combo, strict=True))) for combo in combos]


@dataclass(slots=True)
class VariantResult:
    variant: Variant
    result: WalkForwardResult

    @property
    def sharpe(self) -> float:
        return self.result.stats["selection"].sharpe


@dataclass(slots=True)
class RuleSearch:
    """Every variant's out-of-sample figures, the best one (with its random baseline), DSR and PBO."""

    variants: list[VariantResult]
    best_index: int
    best_result: WalkForwardResult
    dsr: float | None
    pbo: PboResult | None
    pbo_error: str | None
    trials_sharpe_variance: float
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> VariantResult:
        return self.variants[self.best_index]

    @property
    def distinguishable(self) -> bool:
        return self.dsr is not None and self.dsr > 0.95 and self.pbo is not None and self.pbo.pbo < 0.5

    @property
    def verdict(self) -> str:
        best = self.best_result.stats["selection"]
        dsr = "n/a" if self.dsr is None else f"{self.dsr:.2f}"
        pbo = "n/a" if self.pbo is None else f"{self.pbo.pbo:.2f}"
        judged = (
            "is distinguishable from luck"
            if self.distinguishable
            else "is not distinguishable from luck (it needs DSR > 0.95 and PBO < 0.5)"
        )
        return (
            f"The best of {len(self.variants)} variants ({self.best.variant.label}) returned "
            f"{best.total_return:+.2%} out of sample (Sharpe {best.sharpe:.2f}); deflated for "
            f"{len(self.variants)} trials its Sharpe ratio has DSR {dsr}, and the probability of backtest "
            f"overfitting is {pbo}: the best variant {judged}."
        )

    def statistics(self) -> dict[str, Any]:
        return {
            "variants": len(self.variants),
            "best": self.best.variant.label,
            "dsr": self.dsr,
            "pbo": None if self.pbo is None else self.pbo.pbo,
            "pbo_blocks": None if self.pbo is None else self.pbo.n_blocks,
            "pbo_combinations": None if self.pbo is None else self.pbo.n_combinations,
            "pbo_prob_oos_loss": None if self.pbo is None else self.pbo.prob_oos_loss,
            "pbo_error": self.pbo_error,
            "trials_sharpe_variance_per_bar": self.trials_sharpe_variance,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.statistics(),
            "verdict": self.verdict,
            "table": [
                {
                    "variant": v.variant.label,
                    "values": {k: str(x) for k, x in v.variant.values.items()},
                    "total_return": v.result.stats["selection"].total_return,
                    "sharpe": v.sharpe,
                    "max_drawdown": v.result.stats["selection"].max_drawdown,
                    "trades": v.result.stats["selection"].trades,
                    "mean_ic": v.result.ic.mean,
                }
                for v in self.variants
            ],
        }


def run_search(
    bars: dict[str, TokenBars],
    base: WalkForwardSettings,
    variants: Sequence[Variant],
    *,
    blocks: int = 16,
    progress: Progress | None = None,
) -> RuleSearch:
    """Walk every variant forward on ``bars``; deflate the best (see the module docstring)."""
    notify = progress or (lambda phase, done, total: None)
    if not variants:
        raise ConfigError("grid: no variant to run")
    settings = [v.apply(replace(base, random_draws=0)) for v in variants]
    shared: dict[tuple[int, timedelta], tuple[list[WindowResults], BookTables, SleeveRun]] = {}
    results: list[VariantResult] = []
    for i, (variant, s) in enumerate(zip(variants, settings, strict=True)):
        key = (s.window_days, s.step)
        if key not in shared:
            times = s.times()
            windows = window_results(bars, s, times)
            eligible = [tuple(sorted(w.results)) for w in windows]
            tables = book_tables(bars, s, times, eligible)
            universe = run_sleeves(bars, s, times, eligible, max(len(s.symbols), 1))
            shared[key] = (windows, tables, universe)
        windows, tables, universe = shared[key]
        steps = decisions(windows, s)
        result = run_walkforward(bars, s, steps=steps, tables=tables, universe=universe)
        results.append(VariantResult(variant, result))
        notify("variants", i + 1, len(variants))
    sharpes = np.array([r.result.stats["selection"].sharpe_per_bar for r in results])
    best_index = int(np.argmax(sharpes))
    best_settings = replace(settings[best_index], random_draws=base.random_draws, seed=base.seed)
    windows, tables, universe = shared[(best_settings.window_days, best_settings.step)]
    best_result = run_walkforward(
        bars, best_settings, steps=decisions(windows, best_settings), tables=tables, universe=universe
    )
    best = best_result.stats["selection"]
    variance = float(np.var(sharpes, ddof=1)) if len(results) > 1 else 0.0
    dsr = None
    if len(results) > 1:
        try:
            dsr = deflated_sharpe_ratio(
                best.sharpe_per_bar, len(results), variance, best.bars, best.skewness, best.kurtosis
            )
        except ValueError:
            dsr = None
    pbo, pbo_error = None, None
    if len(results) > 1:
        lengths = {r.result.grid.n for r in results}
        if len(lengths) == 1:
            matrix = np.column_stack(
                [bar_returns(r.result.selection.equity, r.result.selection.equity_start) for r in results]
            )
            try:
                pbo = probability_of_backtest_overfitting(matrix, blocks)
            except ValueError as exc:
                pbo_error = str(exc)
        else:
            pbo_error = "variants trade different bar grids"
    best_result.statistics["dsr"] = dsr
    best_result.statistics["pbo"] = None if pbo is None else pbo.pbo
    best_result.statistics["variants"] = len(results)
    best_result.statistics["pbo_blocks"] = blocks
    return RuleSearch(results, best_index, best_result, dsr, pbo, pbo_error, variance)
