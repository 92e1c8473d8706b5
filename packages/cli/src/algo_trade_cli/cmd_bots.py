"""`algo-trade bots list|status`: read from the database, so they work while a daemon runs elsewhere."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from algo_trade_bot_orchestrator import read_saved
from algo_trade_cli._common import ConfigOption, JsonOption, console, fail, resolve_config, run_async
from algo_trade_cli._format import fmt_num, fmt_time
from algo_trade_core import AppConfig
from algo_trade_data import BotRecord, FillRecord

app = typer.Typer(help="Paper-trading bots as the database knows them.", no_args_is_help=True)


def _bot_json(record: BotRecord) -> dict[str, Any]:
    saved = read_saved(record)
    return {
        "bot_id": record.bot_id,
        "symbol": record.symbol,
        "strategy": record.strategy_name,
        "interval": record.interval,
        "state": record.state,
        "error": record.error,
        "equity": None if record.equity is None else float(record.equity),
        "position": None if saved.open_position is None else saved.open_position.to_json_dict(),
        "num_trades": saved.num_trades,
        "num_fills": saved.num_fills,
        "realized_pnl": saved.realized_pnl,
        "last_candle_time": None if record.last_candle_time is None else record.last_candle_time.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


async def _load(cfg: AppConfig, bot_id: str | None) -> tuple[list[BotRecord], list[FillRecord]]:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        if bot_id is None:
            return list(await db.list_bots()), []
        record = await db.get_bot(bot_id)
        if record is None:
            return [], []
        return [record], list(await db.list_fills(bot_id=bot_id, limit=20))


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include stopped bots.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every bot: state, open paper position, equity, trades, last candle."""
    records, _ = run_async(_load(resolve_config(config), None))
    if not all_:
        records = [r for r in records if r.state != "stopped"]
    rows = [_bot_json(r) for r in records]
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        console.print("no bots: they start after a sweep approves tokens (`algo-trade scheduled-backtest`)")
        return
    table = Table(title=f"{len(rows)} bot(s)")
    for col in (
        "bot",
        "symbol",
        "state",
        "position",
        "equity",
        "realised",
        "trades",
        "last candle",
        "updated",
    ):
        table.add_column(col, justify="right" if col in ("equity", "realised", "trades") else "left")
    for b in rows:
        p = b["position"]
        pos = "flat" if p is None else f"{p['side']} {p['quantity']:.6g} @ {p['entry_price']:.6g}"
        state = b["state"] if not b["error"] else f"[red]{b['state']}: {b['error']}[/]"
        table.add_row(
            b["bot_id"],
            b["symbol"],
            state,
            pos,
            fmt_num(b["equity"]),
            fmt_num(b["realized_pnl"]),
            str(b["num_trades"]),
            (b["last_candle_time"] or "–")[:16],
            b["updated_at"][:19],
        )
    console.print(table)


@app.command("status")
def status(
    bot_id: Annotated[str, typer.Argument(help="Bot id, e.g. quad_ma:BTC (see `bots list`).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One bot in detail, with its latest paper fills."""
    records, fills = run_async(_load(resolve_config(config), bot_id))
    if not records:
        fail(f"no bot {bot_id!r} in the database (see `algo-trade bots list --all`)")
    info = _bot_json(records[0])
    if as_json:
        info["fills"] = [
            {
                "fill_id": f.fill_id,
                "side": f.side,
                "quantity": float(f.quantity),
                "price": float(f.price),
                "fee": float(f.fee),
                "timestamp": f.timestamp.isoformat(),
                "reason": f.reason,
            }
            for f in fills
        ]
        print(json.dumps(info))
        return
    table = Table(title=f"bot {bot_id}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in info.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)
    if fills:
        ft = Table(title="latest fills")
        for col in ("time", "side", "qty", "price", "fee", "reason"):
            ft.add_column(col)
        for f in fills:
            ft.add_row(
                fmt_time(f.timestamp), f.side, f"{f.quantity:.6g}", f"{f.price:.6g}", f"{f.fee:.4f}", f.reason
            )
        console.print(ft)
