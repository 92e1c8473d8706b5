"""`bots report --plot`: a bot's live path against its backtest and inside its envelope.

Three panels over the bot's live bars: equity (the bot's, rebuilt from its fills; the backtest's over
the same bars; the envelope's 5–95 % band of bootstrapped equity paths around the bot's capital),
drawdown (the bot's against the envelope's drawdown limit) and closed trades (the bot's, the
backtest's, and the envelope's trade-count band).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from algo_trade_cli._plots import pyplot

if TYPE_CHECKING:
    from algo_trade_tracking import BotReport

__all__ = ["plot_bot_report"]


def plot_bot_report(path: Path, report: BotReport) -> None:
    """Write the report's chart to ``path`` (PNG)."""
    from algo_trade_tracking import envelope_band

    rec = report.reconciliation
    plt = pyplot()
    fig, (ax_eq, ax_dd, ax_tr) = plt.subplots(
        3, 1, figsize=(13, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 1.2]}
    )
    t = [datetime.fromtimestamp(ms / 1000, UTC) for ms in rec.live_t.tolist()]
    capital = report.live.capital
    n = len(t)
    live = rec.live_equity / capital - 1
    backtest = rec.backtest_equity / capital - 1
    band = envelope_band(report.envelope, n) if report.envelope is not None and n else None
    if band is not None:
        ax_eq.fill_between(
            t, band["growth_low"] - 1, band["growth_high"] - 1, color="tab:gray", alpha=0.2,
            label="envelope 5–95 % (bootstrap of the backtest)",
        )  # fmt: skip
        ax_eq.plot(t, band["growth_mid"] - 1, color="tab:gray", linewidth=1.0, label="envelope median")
    # The bot under the backtest, dashed: a bot that reconciles exactly shows both lines on one path.
    ax_eq.plot(t, live, color="tab:green", linewidth=2.2, label="bot (from its fills)")
    ax_eq.plot(
        t, backtest, color="tab:blue", linewidth=1.0, linestyle="--", label="backtest over the bot's bars"
    )
    for gap in rec.gaps:
        start = datetime.fromtimestamp(gap.first_ms / 1000, UTC)
        end = datetime.fromtimestamp((gap.first_ms + gap.count * rec.step_ms) / 1000, UTC)
        for ax in (ax_eq, ax_dd, ax_tr):
            ax.axvspan(
                start, end, color="tab:orange", alpha=0.3, label="missing bars" if ax is ax_eq else None
            )
    if rec.diverges_at_ms is not None:
        at = datetime.fromtimestamp(rec.diverges_at_ms / 1000, UTC)
        for ax in (ax_eq, ax_dd, ax_tr):
            ax.axvline(
                at, color="tab:red", linestyle="--", linewidth=1.0, label="diverges" if ax is ax_eq else None
            )
    ax_eq.axhline(0.0, color="black", linewidth=0.6, linestyle=":")
    ax_eq.yaxis.set_major_formatter(lambda v, _: f"{v:+.1%}")
    ax_eq.set_ylabel("return on capital")
    ax_eq.legend(loc="lower left", fontsize=8)
    ax_eq.grid(alpha=0.3)

    wealth = np.concatenate(([capital], rec.live_equity))
    peaks = np.maximum.accumulate(wealth)
    ax_dd.fill_between(t, -(1 - wealth / peaks)[1:], 0, color="tab:green", alpha=0.4, label="bot drawdown")
    if band is not None and report.envelope is not None:
        q = report.envelope.settings.drawdown_quantile
        ax_dd.plot(
            t, -band["drawdown_limit"], color="tab:red", linewidth=1.0, label=f"envelope {q:.0%} drawdown"
        )
    ax_dd.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
    ax_dd.set_ylabel("drawdown")
    ax_dd.legend(loc="lower left", fontsize=8)
    ax_dd.grid(alpha=0.3)

    def closed_by_bar(times: list[int]) -> np.ndarray:
        return np.searchsorted(np.sort(np.asarray(times, dtype=np.int64)), rec.live_t, side="right")

    live_exits, exp_exits = rec.live_exits_ms.tolist(), rec.backtest_exits_ms.tolist()
    if band is not None:
        ax_tr.fill_between(
            t, band["trades_low"], band["trades_high"], color="tab:gray", alpha=0.2, label="envelope band"
        )
    ax_tr.step(t, closed_by_bar(live_exits), where="post", color="tab:green", linewidth=2.2, label="bot")
    ax_tr.step(
        t,
        closed_by_bar(exp_exits),
        where="post",
        color="tab:blue",
        linewidth=1.0,
        linestyle="--",
        label="backtest",
    )
    ax_tr.set_ylabel("closed trades")
    ax_tr.legend(loc="upper left", fontsize=8)
    ax_tr.grid(alpha=0.3)

    verdict = rec.status.replace("_", " ")
    if report.divergence is not None:
        verdict += ", envelope " + (
            "ok"
            if report.divergence.ok
            else "FAILED: " + ", ".join(r.kind for r in report.divergence.reasons)
        )
    cfg = report.history.config
    fig.suptitle(f"bot {cfg.bot_id} ({cfg.interval}): {verdict}", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
