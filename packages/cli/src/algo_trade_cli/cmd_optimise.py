"""`algo-trade optimise`: every token x every parameter set of the spaces, the per-token choice with its
N and DSR, on threads or Dask."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from algo_trade_cli._common import (
    ConfigOption,
    IntervalOption,
    JsonOption,
    console,
    err_console,
    fail,
    parse_time,
    resolve_config,
    resolve_interval,
    run_async,
)
from algo_trade_cli._runtime import open_runtime
from algo_trade_core import (
    AlgoTradeError,
    AppConfig,
    ConfigError,
    MaCrossoverSpace,
    QuadMaSpace,
    build_config,
)

if TYPE_CHECKING:  # the optimisation imports numba, polars and dask: loaded when the command runs
    from algo_trade_optimisation import OptimisationSummary

__all__ = ["load_space_file", "optimise"]

_SPACES: dict[str, type[QuadMaSpace] | type[MaCrossoverSpace]] = {
    "quad_ma": QuadMaSpace,
    "ma_crossover": MaCrossoverSpace,
}


def load_space_file(path: Path, cfg: AppConfig) -> AppConfig:
    """Replace the spaces by a file's ``[quad_ma]`` / ``[ma_crossover]`` tables (or ``[optimisation.*]``);
    the strategies optimised are the ones the file names."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the space file: {exc}") from None
    data = data.get("optimisation", data)
    unknown = sorted(set(data) - set(_SPACES))
    if unknown or not data:
        raise ConfigError(
            f"{path}: expected [quad_ma] and/or [ma_crossover] tables, got {', '.join(unknown) or 'none'}"
        )
    spaces = {
        name: build_config(_SPACES[name], table, key_prefix=f"{path}: {name}") for name, table in data.items()
    }
    optimisation = replace(cfg.optimisation, strategies=tuple(spaces), **spaces)  # type: ignore[arg-type]
    return replace(cfg, optimisation=optimisation)


def _table(summary: OptimisationSummary) -> Table:
    table = Table(
        title=f"optimisation run {summary.run_id}: {summary.window.interval} bars "
        f"{summary.window.start:%Y-%m-%d %H:%M} → {summary.window.end:%Y-%m-%d %H:%M} UTC"
    )
    for col in (
        "symbol",
        "strategy",
        "parameters",
        "Sharpe",
        "win rate",
        "max dd",
        "trades",
        "score",
        "N",
        "E(max SR)",
        "DSR",
        "thresholds",
    ):
        table.add_column(
            col, justify="left" if col in ("symbol", "strategy", "parameters", "thresholds") else "right"
        )
    for t in summary.tokens:
        c = t.choice
        if c is None:
            table.add_row(t.symbol, "", "", "", "", "", "", "", "", "", "", f"[red]{t.error}[/]")
            continue
        m = c.metrics
        params = " ".join(f"{k}={v}" for k, v in c.parameters.items())
        dsr = "–" if c.dsr is None else f"{c.dsr:.3f}"
        table.add_row(
            t.symbol,
            c.strategy,
            params,
            f"{m['sharpe_ratio']:.2f}",
            f"{m['win_rate'] * 100:.1f} %",
            f"{m['max_drawdown'] * 100:.1f} %",
            str(int(m["num_trades"])),
            f"{c.score:.3f}",
            str(c.n_trials),
            f"{c.threshold_annual:.2f}",
            dsr,
            "[green]pass[/]" if c.passed_thresholds else "[yellow]none pass[/]",
        )
    return table


def _json(summary: OptimisationSummary) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "status": summary.status,
        "executor": summary.executor,
        "dashboard": summary.dashboard,
        "resumed": summary.resumed,
        "tasks_total": summary.tasks_total,
        "tasks_run": summary.tasks_run,
        "seconds": summary.seconds,
        "window": {
            "start": summary.window.start.isoformat(),
            "end": summary.window.end.isoformat(),
            "interval": summary.window.interval,
        },
        "space": {
            "sets": len(summary.space),
            "combinations": summary.space.combinations,
            "dropped": summary.space.dropped,
        },
        "tokens": [
            {
                "symbol": t.symbol,
                "num_bars": t.num_bars,
                "computed": t.computed,
                "reused": t.reused,
                "error": t.error,
                "choice": None if t.choice is None else t.choice.to_json(),
            }
            for t in summary.tokens
        ],
    }


async def _run(
    cfg: AppConfig,
    symbols: list[str],
    as_of: datetime | None,
    interval: str,
    scheduler: str | None,
    as_json: bool,
    plot: Path | None,
) -> OptimisationSummary:
    from algo_trade_optimisation import run_optimisation

    out = err_console if as_json else console
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=True,
    ) as progress:
        bar = progress.add_task("optimising", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total, description=f"tasks ({len(symbols)} tokens)")

        def on_executor(name: str, dashboard: str | None) -> None:
            out.print(f"executor: {name}" + (f"; Dask dashboard: {dashboard}" if dashboard else ""))

        async with open_runtime(cfg, exchange=False) as rt:
            summary = await run_optimisation(
                cfg,
                rt.db,
                symbols,
                as_of=as_of,
                interval=interval,
                scheduler_address=scheduler,
                progress=on_progress,
                on_executor=on_executor,
            )
            if plot is not None:
                from algo_trade_cli._plots_optimise import plot_optimisation

                trials = await rt.db.query_trials(summary.run_id)
                plot_optimisation(plot, summary, trials)
    return summary


def optimise(
    symbol: Annotated[
        list[str] | None,
        typer.Option(
            "--symbol",
            "-s",
            help="Optimise only this token (repeatable; default: the universe).",
            show_default=False,
            metavar="<symbol>",
        ),
    ] = None,
    interval: IntervalOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="End of the window (UTC, ISO; default now).", metavar="<time>"),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option(
            "--space",
            help="A TOML file with [quad_ma] / [ma_crossover] spaces, as in [optimisation].",
            metavar="<file>",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Run on this Dask scheduler (tcp://host:8786), whatever the work size.",
            metavar="<address>",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write the score heat map and the trial Sharpe distribution as a PNG."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Backtest every parameter set of the spaces on every token and choose each token's, with N and DSR.

    Every trial is stored; an interrupted run with the same inputs resumes. Small sweeps run on threads
    here, large ones (above [compute] dask_min_work) on Dask.
    """
    cfg = resolve_config(config)
    try:
        if space is not None:
            cfg = load_space_file(space, cfg)
    except AlgoTradeError as exc:
        fail(str(exc), 2)
    symbols = list(dict.fromkeys(symbol)) if symbol else list(cfg.scheduler.token_universe)
    chosen = resolve_interval(interval, cfg)
    try:
        summary = run_async(
            _run(cfg, symbols, parse_time(as_of, "--as-of"), chosen, scheduler, as_json, plot)
        )
    except typer.Exit:
        raise
    if as_json:
        print(json.dumps(_json(summary)))
    else:
        console.print(_table(summary))
        s = summary.space
        dropped = ", ".join(f"{k} {v}" for k, v in s.dropped.items())
        console.print(
            f"{len(s)} parameter sets per token ({dropped} dropped by the constraints); "
            f"{summary.tasks_run} of {summary.tasks_total} tasks run"
            f"{' (resumed)' if summary.resumed else ''} "
            f"on {summary.executor} "
            f"in {summary.seconds:.1f} s; E(max SR) = the annualised Sharpe the best of N skill-less trials "
            "reaches; DSR = P(true Sharpe > it)",
            highlight=False,
        )
    if plot is not None:
        (err_console if as_json else console).print(f"wrote {plot}")
    raise typer.Exit(0 if summary.status != "failed" else 1)
