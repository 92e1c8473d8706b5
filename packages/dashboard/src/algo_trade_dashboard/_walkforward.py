"""The walk-forward pages: stored studies listed, one study with its chart, the overview's card.

The JSON is the CLI's (``walkforward list --json`` rows, ``walkforward show --json``; both from
:mod:`algo_trade_evaluation._shapes`) plus what a page shows besides: the header, the statistics in
sentences, a one-line verdict. The chart is drawn from the study's stored curves, as ``walkforward
show --plot`` draws it: every curve as a return on its own capital (the selection's ``top_n`` sleeves,
the universe's one sleeve per token), so they compare directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from algo_trade_dashboard._charts import line
from algo_trade_dashboard._context import Context, NotFound
from algo_trade_dashboard._downsample import MAX_POINTS
from algo_trade_data import WalkForwardRunRecord
from algo_trade_evaluation._shapes import (
    list_json,
    statistics_lines,
    stored_json,
    study_header,
    verdict_line,
)

__all__ = [
    "last_walkforward",
    "walkforward_chart",
    "walkforward_chart_view",
    "walkforward_list_view",
    "walkforward_run_view",
]


def _extras(run: WalkForwardRunRecord) -> dict[str, Any]:
    symbols = run.settings.get("symbols") or []
    return {
        "universe_size": len(symbols),
        "verdict_line": verdict_line(run.summary, run.statistics),
    }


def _row(run: WalkForwardRunRecord, cli_row: dict[str, Any]) -> dict[str, Any]:
    return {**cli_row, "periods": run.periods, **_extras(run)}


async def walkforward_list_view(ctx: Context, limit: int = 50) -> dict[str, Any]:
    """``walkforward list --json`` rows under ``runs``, each with its periods, universe size, verdict line."""
    runs = await ctx.db.list_walkforward_runs(limit, curves=False)
    return {"runs": [_row(r, row) for r, row in zip(runs, list_json(runs), strict=True)]}


async def last_walkforward(ctx: Context) -> dict[str, Any] | None:
    """The newest study as a row of :func:`walkforward_list_view`, or None when none is stored."""
    runs = await ctx.db.list_walkforward_runs(1, curves=False)
    return _row(runs[0], list_json(runs)[0]) if runs else None


async def _find(ctx: Context, run_id: str) -> tuple[WalkForwardRunRecord, list[Any]]:
    found = await ctx.db.get_walkforward_run(run_id)
    if found is None:
        raise NotFound(
            f"no walk-forward study {run_id!r} is stored (or that prefix names more than one); "
            "the walk-forward page lists them"
        )
    return found


async def walkforward_run_view(ctx: Context, run_id: str) -> dict[str, Any]:
    """``walkforward show --json`` of one study, with its header, statistics text and verdict line."""
    run, periods = await _find(ctx, run_id)
    return {
        **stored_json(run, periods),
        "header": study_header(run.settings, run.summary),
        "statistics_text": statistics_lines(run.summary, run.statistics, run.interval),
        **_extras(run),
    }


async def walkforward_chart_view(ctx: Context, run_id: str) -> dict[str, Any]:
    """The chart of one study: :func:`walkforward_chart` of its stored curves and periods."""
    run, periods = await _find(ctx, run_id)
    ics = [(p.period_start, p.ic) for p in periods]
    return {"run_id": run.run_id, **walkforward_chart(run.curves, ics)}


def _returns(values: Any, capital: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    array = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.asarray(array / capital - 1.0, dtype=np.float64)


def walkforward_chart(
    curves: dict[str, Any], ics: list[tuple[Any, float | None]], max_points: int = MAX_POINTS
) -> dict[str, Any]:
    """Lines of returns (selection, universe, buy & hold at each bar close; the random baseline's 5 %,
    median and 95 % at each period boundary) and the IC of each period, times in epoch seconds.

    Args:
        curves: a study's stored curves (:func:`algo_trade_evaluation.curves_of`).
        ics: (start, IC or None) of each period.
        max_points: the most points of one line (longer ones keep each bucket's minimum and maximum).
    """
    times = np.asarray(curves.get("t") or [], dtype=np.int64)
    sel_cap, uni_cap = float(curves["selection_capital"]), float(curves["universe_capital"])
    lines: dict[str, Any] = {}
    reductions: dict[str, Any] = {}
    for name, capital in (("selection", sel_cap), ("universe", uni_cap), ("buy_hold", uni_cap)):
        values = _returns(curves.get(name) or [], capital)
        lines[name], reduced = line(times, values, max_points, name=name)
        reductions[name] = None if reduced is None else reduced.to_json()
    bounds = np.asarray(curves.get("boundaries") or [], dtype=np.int64)
    band: dict[str, Any] | None = None
    if curves.get("random_median") is not None and bounds.shape[0]:
        band = {
            key: {
                "name": key,
                "t": (bounds // 1000).tolist(),
                "v": [None if v != v else v for v in _returns(curves[key], sel_cap).tolist()],
            }
            for key in ("random_p05", "random_median", "random_p95")
        }
    stored_from = curves.get("reduced_from")
    return {
        **lines,
        "boundaries": (bounds // 1000).tolist(),
        "random": band,
        "ic": [
            {"t": round(start.timestamp()), "v": ic}
            for start, ic in ics
            if ic is not None and ic == ic  # a period without an IC (too few tokens) has no bar
        ],
        "ic_missing": sum(1 for _, ic in ics if ic is None or ic != ic),
        "downsampled": reductions,
        "stored": {
            "points": int(times.shape[0]),
            "source_points": stored_from,
            "method": "the study stored each curve at the last bar close of each bucket of bars",
        }
        if stored_from is not None and stored_from > times.shape[0]
        else None,
    }
