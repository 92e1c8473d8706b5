"""`walkforward --grid FILE`: the grid file, its variants, the search with a progress bar, its table.

The file is TOML; each key lists the values to try (every combination runs)::

    min_sharpe_ratio = [0.5, 1.0, 1.5]   # any [token_selection] key but `strategy`
    top_n = [3, 5, 10]
    window_days = [14, 30]                # the training window
    step = ["7d", "14d"]                  # the re-selection step
"""

from __future__ import annotations

import asyncio
import difflib
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from algo_trade_cli._common import fail, progress_bar
from algo_trade_core import AppConfig, ConfigError

if TYPE_CHECKING:
    from algo_trade_evaluation import WalkForwardSettings
    from algo_trade_evaluation._search import RuleSearch, Variant

__all__ = ["grid_table", "read_grid", "run_grid_with_progress"]


def _values(path: Path, key: str, raw: Any, example: Any) -> list[Any]:
    from algo_trade_cli.cmd_walkforward import parse_step

    if not isinstance(raw, list):
        raw = [raw]
    out = []
    for i, value in enumerate(raw):
        where = f"{path}: key '{key}' value {i + 1}"
        if key == "step":
            if not isinstance(value, str):
                fail(f'{where}: expected a duration like "7d", got {value!r}', 2)
            out.append(parse_step(value, f"{path}: key 'step'"))
        elif isinstance(example, bool) or isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"{where}: expected a number, got {type(value).__name__} {value!r}", 2)
        elif isinstance(example, int) and not float(value).is_integer():
            fail(f"{where}: expected an integer, got {value!r}", 2)
        else:
            out.append(type(example)(value))
    return out


def read_grid(path: Path, cfg: AppConfig) -> list[Variant]:
    """The variants a grid file asks for; exit 2 naming the file, key and value on any problem."""
    from algo_trade_evaluation._search import SEARCH_KEYS, variants_from_grid

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"--grid {path}: no such file", 2)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"--grid {path}: not a readable TOML file: {exc}", 2)
    problems = []
    for key in data:
        if key not in SEARCH_KEYS:
            close = difflib.get_close_matches(key, SEARCH_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"unknown key '{key}'{hint}")
    if problems:
        fail(f"--grid {path}: {'; '.join(problems)}; expected some of {', '.join(SEARCH_KEYS)}", 2)
    examples: dict[str, Any] = {"window_days": 1, "step": None}
    grid = {}
    for key, raw in data.items():
        example = examples.get(key, getattr(cfg.token_selection, key, 0.0))
        grid[key] = _values(path, key, raw, example)
    try:
        variants = variants_from_grid(grid)
    except ConfigError as exc:
        fail(f"--grid {path}: {exc}", 2)
    if not variants:
        fail(f"--grid {path}: lists no values", 2)
    return variants


async def run_grid_with_progress(
    bars: dict[str, Any], settings: WalkForwardSettings, variants: list[Variant], quiet: bool
) -> RuleSearch:
    from algo_trade_evaluation._search import run_search

    for variant in variants:  # every variant is checked before any runs: nothing half done
        try:
            variant.apply(settings)
        except ConfigError as exc:
            fail(str(exc), 2)
    if quiet:
        return await asyncio.to_thread(run_search, bars, settings, variants)
    with progress_bar() as progress:
        task = progress.add_task(f"rule search: {len(variants)} variant(s)", total=len(variants))

        def on_step(phase: str, done: int, total: int) -> None:
            progress.update(task, completed=done)

        return await asyncio.to_thread(run_search, bars, settings, variants, progress=on_step)


def grid_table(search: RuleSearch, shown: int = 15) -> Table:
    """The variants by out-of-sample Sharpe, best first (the first ``shown``)."""
    order = sorted(range(len(search.variants)), key=lambda i: -search.variants[i].sharpe)
    table = Table(title=f"rule search: {len(search.variants)} variants by out-of-sample Sharpe (best first)")
    for col in ("variant", "return", "Sharpe", "max drawdown", "trades", "mean IC"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for i in order[:shown]:
        v = search.variants[i]
        s = v.result.stats["selection"]
        ic = v.result.ic.mean
        table.add_row(
            v.variant.label,
            f"{s.total_return:+.2%}",
            f"{s.sharpe:.2f}",
            f"{s.max_drawdown:.2%}",
            str(s.trades),
            "–" if ic is None else f"{ic:+.3f}",
        )
    if len(order) > shown:
        table.caption = f"{len(order) - shown} more in --json"
    return table
