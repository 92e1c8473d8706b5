"""`walkforward --plot`: out-of-sample equity against the baselines, drawdown, IC per period.

Drawn from the stored shape of a study (its curves and periods), so a fresh study and
`walkforward show --plot` give the same picture. Every curve is shown as a return on its own capital,
so the selection (``top_n`` sleeves) and the universe (one sleeve per token) compare directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from algo_trade_cli._plots import pyplot

__all__ = ["plot_walkforward"]


def _times(ms: list[int]) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1000, UTC) for t in ms]


def plot_walkforward(
    path: Path, curves: dict[str, Any], periods: list[dict[str, Any]], title: str, verdict: str
) -> None:
    plt = pyplot()
    fig, (ax_eq, ax_dd, ax_ic) = plt.subplots(
        3, 1, figsize=(13, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 1.2]}
    )
    t = _times(curves["t"])
    sel_cap, uni_cap = curves["selection_capital"], curves["universe_capital"]
    selection = np.asarray(curves["selection"], dtype=float) / sel_cap - 1
    universe = np.asarray(curves["universe"], dtype=float) / uni_cap - 1
    buy_hold = np.asarray(curves["buy_hold"], dtype=float) / uni_cap - 1
    bounds = _times(curves["boundaries"])
    if curves.get("random_median") is not None:
        low = np.asarray(curves["random_p05"], dtype=float) / sel_cap - 1
        mid = np.asarray(curves["random_median"], dtype=float) / sel_cap - 1
        high = np.asarray(curves["random_p95"], dtype=float) / sel_cap - 1
        ax_eq.fill_between(
            bounds, low, high, step="post", color="tab:gray", alpha=0.18, label="random 5–95 %"
        )
        ax_eq.step(bounds, mid, where="post", color="tab:gray", linewidth=1.2, label="random median")
    # Buy & hold moves tens of times more than the strategies: its own scale, on the right.
    ax_bh = ax_eq.twinx()
    ax_bh.plot(
        t, buy_hold, color="tab:orange", linewidth=0.8, alpha=0.55, label="buy & hold, equal weight (right)"
    )
    ax_bh.yaxis.set_major_formatter(lambda v, _: f"{v:+.0%}")
    ax_bh.set_ylabel("buy & hold return", color="tab:orange")
    ax_bh.tick_params(axis="y", colors="tab:orange")
    ax_eq.set_zorder(ax_bh.get_zorder() + 1)  # the strategies drawn over the buy & hold line
    ax_eq.patch.set_visible(False)
    ax_eq.plot(t, universe, color="tab:blue", linewidth=1.1, label="universe (every token)")
    ax_eq.plot(t, selection, color="tab:green", linewidth=1.8, label="selection")
    ax_eq.axhline(0.0, color="black", linewidth=0.6, linestyle=":")
    for b in bounds[1:-1]:
        for ax in (ax_eq, ax_dd):
            ax.axvline(b, color="black", linewidth=0.3, alpha=0.25)
    ax_eq.yaxis.set_major_formatter(lambda v, _: f"{v:+.1%}")
    ax_eq.set_ylabel("return (out of sample)")
    handles, labels = ax_eq.get_legend_handles_labels()
    more_handles, more_labels = ax_bh.get_legend_handles_labels()
    ax_eq.legend(handles + more_handles, labels + more_labels, loc="lower left", fontsize=8, ncol=2)
    ax_eq.grid(alpha=0.3)

    for values, colour, label in ((selection, "tab:green", "selection"), (universe, "tab:blue", "universe")):
        wealth = 1 + values
        peak = np.maximum.accumulate(np.concatenate(([1.0], wealth)))[1:]
        ax_dd.fill_between(t, -(peak - wealth) / peak, 0, color=colour, alpha=0.35, label=label)
    ax_dd.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
    ax_dd.set_ylabel("drawdown")
    ax_dd.legend(loc="lower left", fontsize=8)
    ax_dd.grid(alpha=0.3)

    starts = [datetime.fromisoformat(p["start"]) for p in periods]
    ends = [datetime.fromisoformat(p["end"]) for p in periods]
    widths = [(e - s).total_seconds() / 86_400 * 0.8 for s, e in zip(starts, ends, strict=True)]
    ics = [p.get("ic") for p in periods]
    colours = ["tab:green" if (v or 0) > 0 else "tab:red" for v in ics]
    ax_ic.bar(starts, [v if v is not None else 0.0 for v in ics], width=widths, align="edge", color=colours)
    for s, v in zip(starts, ics, strict=True):
        if v is None:
            ax_ic.annotate("n/a", (s, 0), fontsize=6, color="gray", xytext=(2, 2), textcoords="offset points")
    ax_ic.axhline(0.0, color="black", linewidth=0.6)
    ax_ic.set_ylim(-1.05, 1.05)
    ax_ic.set_ylabel("IC (Spearman)")
    ax_ic.grid(alpha=0.3)
    fig.suptitle(f"{title}\n{verdict}", fontsize=9, wrap=True)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
