"""`algo-trade config init|show|validate|reference`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from algo_trade_cli._common import ConfigOption, JsonOption, config_path, console, err_console, fail
from algo_trade_core import (
    AppConfig,
    ConfigError,
    ConfigProblem,
    config_reference,
    config_to_dict,
    config_toml,
    dump_config,
    load_config,
    next_fire_times,
    redact_config,
)

app = typer.Typer(help="Create, show and check the configuration file.", no_args_is_help=True)

FIRES = 3


def _say(text: str, *, err: bool = False) -> None:
    # Plain text: user values may hold brackets (never rich markup), and lines are never re-wrapped.
    (err_console if err else console).print(text, markup=False, highlight=False, soft_wrap=True)


def _load(config: Path | None) -> tuple[AppConfig, str]:
    """Load the configuration; on problems print every one of them (file:line: key: ...) and exit 2."""
    path = config_path(config)
    source = str(path) if path is not None else "built-in defaults"
    try:
        return load_config(path), source
    except ConfigError as exc:
        problems = exc.problems or (ConfigProblem("", str(exc), source),)
        noun = "problem" if len(problems) == 1 else "problems"
        _say(f"error: {len(problems)} configuration {noun} ({source}):", err=True)
        for problem in problems:
            _say(f"  {problem}", err=True)
        raise typer.Exit(2) from None


def _fires(cfg: AppConfig) -> str:
    fires = next_fire_times(cfg.scheduler.cron_expression, datetime.now(UTC), FIRES)
    return ", ".join(f.strftime("%Y-%m-%d %H:%M:%S") for f in fires) + " (UTC)"


@app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path("config/Config.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the file instead of writing it.")] = False,
) -> None:
    """Write a configuration file holding every key at its default, each with a comment explaining it.

    Example: algo-trade config init --stdout > config/Config.toml
    """
    text = config_toml()
    if stdout:
        print(text, end="")
        return
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    _say(f"wrote {path}")


@app.command("show")
def show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective configuration (file plus environment overrides) and the next fire times.

    Secrets are shown as *** ([server] token, the password of [database] url): the output is safe to
    paste into an issue, and is not a working configuration.
    """
    cfg, source = _load(config)
    shown = redact_config(cfg)
    if as_json:
        print(json.dumps(config_to_dict(shown), indent=2))
        return
    print(f"# effective configuration from {source}")
    print(f"# next sweeps: {_fires(cfg)}")
    print("# secrets are shown as *** ([server] token, the password of [database] url)")
    print(dump_config(shown), end="")


@app.command("validate")
def validate(config: ConfigOption = None) -> None:
    """Check the configuration: list every problem (file, line, key, what was expected) and exit 2,
    else print a summary and the next fire times of the schedule.

    Example: algo-trade config validate --config config/Config.toml
    """
    cfg, source = _load(config)
    s = cfg.scheduler
    universe = f"{len(s.token_universe)} tokens" if s.universe_mode == "static" else f"top {s.top_volume_n}"
    _say(f"ok {source}: cron '{s.cron_expression}', {universe}, interval {s.interval}")
    _say(f"next sweeps: {_fires(cfg)}")


@app.command("reference")
def reference() -> None:
    """Print the Markdown reference of every key: type, default, allowed values, meaning.

    Example: algo-trade config reference > docs/configuration.md
    """
    print(config_reference(), end="")
