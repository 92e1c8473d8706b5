"""`algo-trade config init|show|validate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from algo_trade_cli._common import ConfigOption, JsonOption, config_path, console, fail, resolve_config
from algo_trade_core import AppConfig, config_to_dict, dump_config, write_config

app = typer.Typer(help="Create, show and check the configuration file.", no_args_is_help=True)


@app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path("config/Config.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a configuration file holding every key at its default."""
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_config(AppConfig(), path)
    console.print(f"wrote {path}")


@app.command("show")
def show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective configuration (file plus environment overrides)."""
    cfg = resolve_config(config)
    if as_json:
        print(json.dumps(config_to_dict(cfg), indent=2))
    else:
        source = config_path(config) or "built-in defaults"
        console.print(f"[dim]# effective configuration from {source}[/]")
        console.print(dump_config(cfg), highlight=False, markup=False)


@app.command("validate")
def validate(config: ConfigOption = None) -> None:
    """Check the configuration; exit 2 with the file, key and expectation when it is invalid."""
    cfg = resolve_config(config)
    source = config_path(config) or "built-in defaults"
    console.print(
        f"[green]ok[/] {source}: cron '{cfg.scheduler.cron_expression}', "
        f"{len(cfg.scheduler.token_universe)} tokens, interval {cfg.scheduler.interval}"
    )
