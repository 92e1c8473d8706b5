"""`optimise --plot`: the score over the two most influential parameters, and the trial Sharpe ratios
with the deflation threshold (the expected maximum Sharpe ratio of N skill-less trials)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from algo_trade_cli._plots import pyplot

if TYPE_CHECKING:
    from algo_trade_data import TrialRecord
    from algo_trade_optimisation import OptimisationSummary

__all__ = ["plot_optimisation"]


def _influence(values: list[Any], score: np.ndarray) -> float:
    """How much the mean score moves across a parameter's values (range of the group means)."""
    means = [score[[v == u for v in values]].mean() for u in sorted(set(values))]
    return float(max(means) - min(means)) if len(means) > 1 else 0.0


def plot_optimisation(path: Path, summary: OptimisationSummary, trials: Sequence[TrialRecord]) -> None:
    """Write the PNG: heat map of the mean score over the two most influential parameters of the most
    tried strategy (all tokens), and the histogram of every trial's Sharpe ratio with each token's
    deflation threshold marked."""
    plt = pyplot()
    weights = summary.tokens[0].choice if summary.tokens and summary.tokens[0].choice else None
    strategies = [t.strategy_name for t in trials]
    main = max(set(strategies), key=strategies.count) if trials else "quad_ma"
    rows = [t for t in trials if t.strategy_name == main]
    sharpe = np.array([t.sharpe_ratio for t in rows])
    score = (
        0.4 * sharpe
        + 0.3 * np.array([t.win_rate for t in rows])
        + 0.3 * (1 - np.array([t.max_drawdown for t in rows]))
    )
    names = [n for n in (rows[0].parameters if rows else {}) if len({str(t.parameters[n]) for t in rows}) > 1]
    ranked = sorted(names, key=lambda n: -_influence([t.parameters[n] for t in rows], score))
    fig, (heat, hist) = plt.subplots(1, 2, figsize=(14, 5.5))
    if len(ranked) >= 2:
        a, b = ranked[:2]
        xs, ys = sorted({t.parameters[a] for t in rows}), sorted({t.parameters[b] for t in rows})
        grid = np.full((len(ys), len(xs)), np.nan)
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                cell = score[[t.parameters[a] == x and t.parameters[b] == y for t in rows]]
                if cell.size:
                    grid[i, j] = cell.mean()
        image = heat.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        heat.set_xticks(range(len(xs)), [str(x) for x in xs])
        heat.set_yticks(range(len(ys)), [str(y) for y in ys])
        heat.set_xlabel(a)
        heat.set_ylabel(b)
        fig.colorbar(image, ax=heat, label="mean composite score (all tokens, other parameters averaged)")
    heat.set_title(f"{main}: score over its two most influential parameters")
    all_sharpe = np.array([t.sharpe_ratio for t in trials])
    hist.hist(all_sharpe, bins=40, color="#4c72b0", alpha=0.8)
    for token in summary.tokens:
        if token.choice is not None:
            hist.axvline(token.choice.threshold_annual, color="#c44e52", linestyle="--", linewidth=1)
    if any(t.choice is not None for t in summary.tokens):
        hist.plot(
            [], [], color="#c44e52", linestyle="--", label="E[max Sharpe] of N skill-less trials (per token)"
        )
        hist.legend(loc="upper left")
    hist.set_xlabel("annualised Sharpe ratio of a trial")
    hist.set_ylabel("trials")
    n = weights.n_trials if weights is not None else len(trials)
    hist.set_title(f"{len(trials)} trials ({n} per token): Sharpe ratios and the deflation threshold")
    fig.suptitle(
        f"optimisation run {summary.run_id} ({summary.window.interval}, {len(summary.tokens)} tokens)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
