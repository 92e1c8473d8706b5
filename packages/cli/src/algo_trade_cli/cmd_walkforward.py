"""`algo-trade walkforward`: does selecting tokens by backtest pay out of sample?

``algo-trade walkforward [--from] [--to] ...`` runs a study on the stored candles and stores it;
``--optimise [--space FILE]`` chooses each token's strategy and parameters at every re-selection time on
its training window and compares with the fixed set; ``walkforward list`` and ``walkforward show RUN_ID``
read stored studies back.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from algo_trade_cli._common import (
    ConfigOption,
    IntervalOption,
    JsonOption,
    console,
    err_console,
    fail,
    parse_time,
    progress_bar,
    resolve_config,
    resolve_interval,
    run_async,
)
from algo_trade_core import AppConfig, ConfigError, interval_to_ms

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient
    from algo_trade_evaluation import OptimiseSpec, WalkForwardResult, WalkForwardSettings

__all__ = ["app", "parse_step"]

app = typer.Typer(
    help="Walk-forward evaluation: select on the past only, trade the next period, compare with baselines.",
    invoke_without_command=True,
)

_STEP = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_step(text: str, option: str = "--step") -> timedelta:
    """``7d``, ``12h``, ``2w``, ``30m`` as a duration; exit 2 naming the option otherwise."""
    match = _STEP.match(text)
    if match is None or int(match[1]) <= 0:
        fail(f"{option}: expected a positive duration like 7d, 12h, 2w or 30m, got {text!r}", 2)
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


@app.callback(invoke_without_command=True)
def walkforward(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First re-selection time (ISO, UTC). Default: the first time a full training window of "
            "stored bars exists.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="End of the study (ISO, exclusive). Default: after the last stored bar."),
    ] = None,
    step: Annotated[str, typer.Option("--step", help="Re-selection step: 7d, 12h, 2w.")] = "7d",
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days", min=1, help="Training window in days. Default: [scheduler] backtest_window_days."
        ),
    ] = None,
    interval: IntervalOption = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option(
            "--symbol", "-s", help="A token of the universe (repeatable). Default: the configured one."
        ),
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option(
            "--grid",
            help="TOML file of selection settings to try (lists of values per key): reports the best "
            "variant, its deflated Sharpe ratio and the probability of backtest overfitting.",
        ),
    ] = None,
    optimise: Annotated[
        bool,
        typer.Option(
            "--optimise",
            help="At every re-selection time choose each token's strategy and parameters on its training "
            "window ([optimisation] spaces, prefer, min_dsr) and trade the choices; reports in-sample vs "
            "out-of-sample Sharpe, the PBO of the choices and the fixed parameter set on the same periods.",
        ),
    ] = False,
    space: Annotated[
        Path | None,
        typer.Option(
            "--space",
            help="With --optimise: a TOML file with [quad_ma] / [ma_crossover] spaces, as in [optimisation].",
        ),
    ] = None,
    random_draws: Annotated[
        int, typer.Option("--random-draws", min=0, help="Draws of the random baseline.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random baseline.")] = 0,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Write a PNG: equity of selection vs baselines, drawdown, IC per period."
        ),
    ] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not store the study in the database.")
    ] = False,
    show_periods: Annotated[bool, typer.Option("--periods", help="Also print one row per period.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a walk-forward study of the token selection on the stored candles and store it.

    At each re-selection time the selection sees only bars that opened before it; the approved tokens
    trade the next period as paper bots would; universe, random and buy-and-hold baselines trade the
    same periods. Example: algo-trade walkforward --from 2025-01-01 --to 2025-07-01 --step 7d -i 1h
    """
    if ctx.invoked_subcommand is not None:
        return
    cfg = resolve_config(config)
    options: dict[str, Any] = {
        "start": parse_time(start, "--from"),
        "end": parse_time(end, "--to"),
        "step": parse_step(step),
        "window_days": window_days or cfg.scheduler.backtest_window_days,
        "interval": resolve_interval(interval, cfg),
        "symbols": tuple(dict.fromkeys(symbol)) if symbol else tuple(cfg.scheduler.token_universe),
        "random_draws": random_draws,
        "seed": seed,
    }
    if space is not None and not optimise:
        fail("--space: only with --optimise (the parameter spaces each token's choice is made in)", 2)
    if grid is not None and optimise:
        fail("--grid and --optimise: one at a time (a rule search, or a study of per-token choices)", 2)
    if grid is not None:
        from algo_trade_cli._walkforward_grid import read_grid

        variants = read_grid(grid, cfg)
    else:
        variants = None
    spec = _spec(cfg, space, options) if optimise else None
    code = run_async(_study(cfg, options, variants, not no_store, as_json, plot, show_periods, spec))
    raise typer.Exit(code)


def _spec(cfg: AppConfig, space: Path | None, options: dict[str, Any]) -> OptimiseSpec:
    """The spaces (``[optimisation]`` or ``--space``) planned for one training window; exit 2 naming the
    file or key when they are empty, contradictory or too large."""
    from algo_trade_cli.cmd_optimise import load_space_file
    from algo_trade_core import bars_per_year
    from algo_trade_evaluation import OptimiseSpec
    from algo_trade_optimisation import plan_space

    try:
        if space is not None:
            cfg = load_space_file(space, cfg)
        window_bars = int(options["window_days"] * bars_per_year(options["interval"]) / 365.0)
        planned = plan_space(cfg.optimisation, cfg.compute, max(window_bars, 1))
    except ConfigError as exc:
        fail(f"--space {space}: {exc}" if space is not None and str(space) not in str(exc) else str(exc), 2)
    return OptimiseSpec(planned, cfg.optimisation, workers=cfg.compute.threads or None)


async def _default_range(
    db: DatabaseClient, cfg: AppConfig, options: dict[str, Any]
) -> tuple[datetime, datetime]:
    """The study's range when not given: a full training window after the first stored bar of the
    universe, to the close of the last one."""
    interval, symbols = options["interval"], options["symbols"]
    series = [
        s
        for s in await db.candle_status(interval=interval)
        if s.symbol in symbols and s.exchange == cfg.scheduler.exchange
    ]
    if not series:
        fail(
            f"no {interval} candles stored for {', '.join(symbols)}: import history with "
            f"`algo-trade data import` or fetch it with `algo-trade data fetch -i {interval}`",
            2,
        )
    unknown = sorted(set(symbols) - {s.symbol for s in series})
    if unknown:
        fail(
            f"--symbol: no {interval} candles stored for {', '.join(unknown)} "
            f"(stored: {', '.join(sorted({s.symbol for s in series}))}); import or fetch them first",
            2,
        )
    first = min(s.first for s in series) + timedelta(days=options["window_days"])
    last = max(s.last for s in series) + timedelta(milliseconds=interval_to_ms(interval))
    return options["start"] or first, options["end"] or last


def _settings(cfg: AppConfig, options: dict[str, Any]) -> WalkForwardSettings:
    from algo_trade_evaluation import WalkForwardSettings

    try:
        return WalkForwardSettings.from_config(
            cfg,
            start=options["start"],
            end=options["end"],
            step=options["step"],
            window_days=options["window_days"],
            interval=options["interval"],
            symbols=options["symbols"],
            random_draws=options["random_draws"],
            seed=options["seed"],
        )
    except ConfigError as exc:
        fail(str(exc), 2)


async def _study(
    cfg: AppConfig,
    options: dict[str, Any],
    variants: list[Any] | None,
    store: bool,
    as_json: bool,
    plot: Path | None,
    show_periods: bool,
    spec: OptimiseSpec | None = None,
) -> int:
    from algo_trade_bot_orchestrator import strategy_warmup_bars
    from algo_trade_cli._runtime import open_runtime
    from algo_trade_core import DataError
    from algo_trade_evaluation import load_bars, store_walkforward

    async with open_runtime(cfg, exchange=False) as rt:
        options["start"], options["end"] = await _default_range(rt.db, cfg, options)
        settings = _settings(cfg, options)
        warmup = max(settings.warmup_bars, strategy_warmup_bars(settings.strategy, settings.params))
        if spec is not None:  # a bot of any chosen set warms up on the bars before its period
            warmup = max(warmup, *(strategy_warmup_bars(s.strategy, s.params) for s in spec.space.sets))
        with console.status(f"loading {settings.interval} candles of {len(settings.symbols)} token(s) …"):
            bars = await load_bars(rt.db, settings, warmup)
        try:
            if spec is not None:
                result = await _run_with_progress(bars, settings, as_json, spec)
                search = None
            elif variants is None:
                result = await _run_with_progress(bars, settings, as_json)
                search = None
            else:
                from algo_trade_cli._walkforward_grid import run_grid_with_progress

                search = await run_grid_with_progress(bars, settings, variants, as_json)
                result = search.best_result
        except DataError as exc:
            fail(str(exc), 2)
        run_id = await store_walkforward(rt.db, result) if store else None
    from algo_trade_cli._walkforward_view import print_study, study_json, write_plot

    if as_json:
        print(json.dumps(study_json(result, run_id, search)))
    else:
        print_study(result, run_id, search, show_periods=show_periods)
    if plot is not None:
        write_plot(plot, result)
        (err_console if as_json else console).print(f"wrote {plot}")
    return 0


async def _run_with_progress(
    bars: dict[str, Any], settings: WalkForwardSettings, quiet: bool, spec: OptimiseSpec | None = None
) -> WalkForwardResult:
    from functools import partial

    from algo_trade_evaluation import run_optimised_walkforward, run_walkforward

    times = settings.times()
    run = run_walkforward if spec is None else partial(run_optimised_walkforward, spec=spec)
    if quiet:
        return await asyncio.to_thread(run, bars, settings)
    extra = 0 if spec is None else 1  # the fixed parameter set on the same periods
    with progress_bar() as progress:
        what = "walk-forward" if spec is None else f"walk-forward, {len(spec.space)} sets per token"
        task = progress.add_task(f"{what}: {len(times)} period(s)", total=len(times) + 3 + extra)

        def on_step(phase: str, done: int, total: int) -> None:
            offset = {"selecting": 0, "trading": len(times)}.get(phase, len(times) + 3)
            progress.update(task, completed=offset + done, description=f"walk-forward: {phase}")

        return await asyncio.to_thread(run, bars, settings, progress=on_step)


@app.command("list")
def list_studies(
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest N studies.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The stored walk-forward studies, newest first, with their verdict."""
    cfg = resolve_config(config)
    from algo_trade_cli._walkforward_view import list_json, print_list

    runs = run_async(_list(cfg, limit))
    if as_json:
        print(json.dumps(list_json(runs)))
    else:
        print_list(runs)


async def _list(cfg: AppConfig, limit: int) -> list[Any]:
    from algo_trade_cli._runtime import open_runtime

    async with open_runtime(cfg, exchange=False) as rt:
        return await rt.db.list_walkforward_runs(limit)


@app.command("show")
def show(
    run_id: Annotated[
        str, typer.Argument(help="The study's id (or a unique prefix), from `walkforward list`.")
    ],
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Write a PNG: equity of selection vs baselines, drawdown, IC per period."
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One stored study: its settings, summary, statistics, verdict and periods."""
    cfg = resolve_config(config)
    found = run_async(_show(cfg, run_id))
    if found is None:
        fail(f"no walk-forward study {run_id!r}: `algo-trade walkforward list` shows the stored ones", 2)
    from algo_trade_cli._walkforward_view import print_stored, stored_json, write_stored_plot

    run, periods = found
    if as_json:
        print(json.dumps(stored_json(run, periods)))
    else:
        print_stored(run, periods)
    if plot is not None:
        write_stored_plot(plot, run, periods)
        (err_console if as_json else console).print(f"wrote {plot}")


async def _show(cfg: AppConfig, run_id: str) -> Any:
    from algo_trade_cli._runtime import open_runtime

    async with open_runtime(cfg, exchange=False) as rt:
        return await rt.db.get_walkforward_run(run_id)
