"""`algo-trade bots list|status|stop|prune|report|events`: the bots as the database knows them.

These commands read and write the ``bots`` table, so they work while a daemon runs elsewhere. Whether a
daemon is alive comes from the lock every daemon holds while it runs (see
:mod:`algo_trade_data._presence`); a bot row
alone cannot say it: rows keep ``running`` after their daemon is gone, and a bot writes its row only
when something changes (about once per bar).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from algo_trade_cli._common import (
    ConfigOption,
    JsonOption,
    console,
    err_console,
    fail,
    parse_time,
    resolve_config,
    run_async,
)
from algo_trade_cli._format import fmt_age, fmt_num, fmt_time
from algo_trade_core import AlgoTradeError, AppConfig

if TYPE_CHECKING:
    from algo_trade_data import BotEventRecord, BotRecord, DaemonPresence, FillRecord
    from algo_trade_tracking import BotReport

app = typer.Typer(help="Paper-trading bots as the database knows them.", no_args_is_help=True)

# States a daemon runs (and brings back after a restart); the others are final. The same as
# algo_trade_bot_orchestrator.LIVE_STATES (a test keeps them equal): that import would load the engine.
_LIVE = ("running", "paused", "stopping", "warming_up", "created")
_PRUNABLE = ("stopped", "error")


def _bot_json(record: BotRecord, now: datetime, daemons: int) -> dict[str, Any]:
    from algo_trade_bot_orchestrator import bot_json  # the one shape, shared with the dashboard

    return bot_json(record, now=now, daemon_running=daemons > 0)


async def _load(
    cfg: AppConfig, bot_id: str | None
) -> tuple[list[BotRecord], list[FillRecord], list[DaemonPresence]]:
    from algo_trade_data import DatabaseClient, live_daemons

    async with await DatabaseClient.connect(cfg.database) as db:
        daemons = await live_daemons(db)
        if bot_id is None:
            return list(await db.list_bots()), [], daemons
        record = await db.get_bot(bot_id)
        if record is None:
            return [], [], daemons
        return [record], list(await db.list_fills(bot_id=bot_id, limit=20)), daemons


def _daemon_line(daemons: list[DaemonPresence], live_bots: int) -> str:
    if not daemons:
        if not live_bots:
            return "daemon: none running"
        return (
            f"[yellow]daemon: none running[/]: the {live_bots} bot(s) marked running are idle (no process "
            "trades them); `algo-trade scheduled-backtest` resumes them, `algo-trade bots stop --all` "
            "stops them"
        )
    line = "daemon: running (" + "; ".join(d.describe() for d in daemons) + ")"
    if len(daemons) > 1:
        line += (
            f" [red]— {len(daemons)} daemons on one database trade the same bots twice: stop all but one[/]"
        )
    return line


def _position_text(p: dict[str, Any] | None) -> str:
    if p is None:
        return "flat"
    return f"{p['side']} {p['quantity']:.6g} @ {p['entry_price']:.6g}"


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include stopped bots.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every bot: state, whether a daemon trades it, position, equity, trades, when it last wrote.

    A daemon counts as alive while it holds its lock in PostgreSQL (released when its process ends,
    even on SIGKILL); a bot row alone cannot tell, it keeps "running" after its daemon is gone.
    """
    records, _, daemons = run_async(_load(resolve_config(config), None))
    now = datetime.now(UTC)
    if not all_:
        records = [r for r in records if r.state != "stopped"]
    rows = [_bot_json(r, now, len(daemons)) for r in records]
    if as_json:
        print(json.dumps(rows))
        return
    live = sum(1 for b in rows if b["state"] in _LIVE)
    shadows = sum(1 for b in rows if b.get("shadow"))
    if not rows:
        console.print("no bots: they start after a sweep approves tokens (`algo-trade scheduled-backtest`)")
        console.print(_daemon_line(daemons, 0))
        return
    title = f"{len(rows)} bot(s)" + (f", {shadows} of them shadow (token deselected)" if shadows else "")
    table = Table(title=title)
    for col in (
        "bot",
        "symbol",
        "state",
        "position",
        "equity",
        "realised",
        "trades",
        "last candle",
        "last seen",
    ):
        table.add_column(
            col, justify="right" if col in ("equity", "realised", "trades", "last seen") else "left"
        )
    for b in rows:
        state = b["state"]
        if b["error"]:
            state = f"[red]{state}: {b['error']}[/]"
        elif state in _LIVE and not daemons:
            state = f"[yellow]{state} (idle: no daemon)[/]"
        elif b.get("stop_reason"):
            state = f"{state}: {b['stop_reason']}"
        if b.get("shadow"):
            state = f"[dim]shadow[/] {state}"
        table.add_row(
            b["bot_id"],
            b["symbol"],
            state,
            _position_text(b["position"]),
            fmt_num(b["equity"]),
            fmt_num(b["realized_pnl"]),
            str(b["num_trades"]),
            fmt_time(
                None if b["last_candle_time"] is None else datetime.fromisoformat(b["last_candle_time"])
            ),
            f"{fmt_age(b['last_seen_seconds'])} ago",
        )
    console.print(table)
    console.print(_daemon_line(daemons, live))


def _status_panel(info: dict[str, Any], daemons: list[DaemonPresence]) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    state = info["state"] + (f" — {info['error']}" if info["error"] else "")
    if info["state"] in _LIVE:
        state += " (traded by the daemon)" if daemons else " (idle: no daemon runs it)"
    if info.get("stop_reason"):
        state += f"; stopped by {info['stop_reason']}"
    if info.get("shadow"):
        state = f"shadow (token deselected; counted as no live bot), {state}"
    p = info["position"]
    position = "flat"
    if p is not None:
        position = (
            f"{p['side']} {p['quantity']:.6g} @ {p['entry_price']:.6g} since "
            f"{fmt_time(datetime.fromisoformat(p['entry_time']))}; mark {p['mark_price']:.6g}, "
            f"unrealised {fmt_num(p['unrealized_pnl'])}"
        )
        if p.get("take_profit") is not None or p.get("stop_loss") is not None:
            tp = "–" if p.get("take_profit") is None else f"{p['take_profit']:.6g}"
            sl = "–" if p.get("stop_loss") is None else f"{p['stop_loss']:.6g}"
            position += f"; take-profit {tp}, stop-loss {sl}"
    last = info["last_candle_time"]
    params = " ".join(f"{k}={v}" for k, v in sorted(info["parameters"].items())) or "defaults"
    for key, value in (
        ("symbol", f"{info['symbol']} ({info['interval']} bars)"),
        ("strategy", f"{info['strategy']}: {params}"),
        ("state", state),
        ("position", position),
        ("equity", fmt_num(info["equity"])),
        ("realised PnL", fmt_num(info["realized_pnl"])),
        ("trades / fills", f"{info['num_trades']} / {info['num_fills']}"),
        ("last candle", "–" if last is None else fmt_time(datetime.fromisoformat(last))),
        (
            "last seen",
            f"{fmt_age(info['last_seen_seconds'])} ago "
            f"(row written {fmt_time(datetime.fromisoformat(info['updated_at']))} UTC)",
        ),
        ("created", fmt_time(datetime.fromisoformat(info["created_at"]))),
    ):
        grid.add_row(key, value)
    return Panel(grid, title=f"bot {info['bot_id']}", title_align="left")


@app.command("status")
def status(
    bot_id: Annotated[str, typer.Argument(help="Bot id, e.g. quad_ma:BTC (see `bots list`).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One bot in detail, with its latest paper fills."""
    records, fills, daemons = run_async(_load(resolve_config(config), bot_id))
    if not records:
        fail(f"no bot {bot_id!r} in the database (see `algo-trade bots list --all`)")
    info = _bot_json(records[0], datetime.now(UTC), len(daemons))
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
    parts: list[Any] = [_status_panel(info, daemons)]
    if fills:
        ft = Table(title=f"latest {len(fills)} paper fill(s)")
        for col in ("time", "side", "qty", "price", "fee", "reason"):
            ft.add_column(col, justify="right" if col in ("qty", "price", "fee") else "left")
        for f in fills:
            ft.add_row(
                fmt_time(f.timestamp),
                f.side,
                f"{f.quantity:.6g}",
                f"{f.price:.6g}",
                fmt_num(f.fee, 4),
                f.reason,
            )
        parts.append(ft)
    console.print(Group(*parts))


async def _stop(cfg: AppConfig, bot_ids: list[str], all_: bool) -> int:
    from algo_trade_bot_orchestrator import read_saved
    from algo_trade_data import DatabaseClient, live_daemons

    async with await DatabaseClient.connect(cfg.database) as db:
        daemons = await live_daemons(db)
        if daemons:
            who = "; ".join(d.describe() for d in daemons)
            fail(
                f"a daemon runs the bots ({who}). It keeps them in memory and writes them back as running, "
                "so marking them stopped here would not stop them. Stop the daemon first (Ctrl+C, or "
                "`kill -TERM <pid>` on its host; it keeps positions for a restart), then run this again; "
                "or remove the token from [scheduler] token_universe and the next sweep stops its bot"
            )
        records = {r.bot_id: r for r in await db.list_bots()}
        unknown = [b for b in bot_ids if b not in records]
        if unknown:
            fail(f"no bot {', '.join(map(repr, unknown))} in the database (see `algo-trade bots list --all`)")
        targets = (
            [r for r in records.values() if r.state != "stopped"] if all_ else [records[b] for b in bot_ids]
        )
        to_stop = [r for r in targets if r.state != "stopped"]
        for r in targets:
            if r.state == "stopped":
                console.print(f"{r.bot_id}: already stopped")
        if not to_stop:
            if all_:
                console.print("no bot to stop")
            return 0
        await db.set_bots_state([r.bot_id for r in to_stop], "stopped")
        for r in to_stop:
            p = read_saved(r).open_position
            held = (
                ""
                if p is None
                else f"; its open paper position ({p.side} {p.quantity:.6g} @ {p.entry_price:.6g}, "
                f"unrealised {fmt_num(p.unrealized_pnl)} at the last close) is left as it was: no closing "
                "fill is recorded"
            )
            console.print(f"{r.bot_id}: {r.state} → stopped (a restarted daemon will not resume it){held}")
    return 0


@app.command("stop")
def stop(
    bot_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Bot ids, e.g. quad_ma:BTC (see `bots list`).", show_default=False),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Stop every bot that is not stopped yet.")] = False,
    config: ConfigOption = None,
) -> None:
    """Mark bots stopped in the database, so that a restarted daemon does not bring them back.

    Refused while a daemon runs (it holds the bots in memory): stop the daemon first.
    """
    if bool(bot_ids) == all_:
        fail("name the bots to stop (BOT_ID ...) or pass --all", 2)
    raise typer.Exit(run_async(_stop(resolve_config(config), list(bot_ids or []), all_)))


async def _prune(cfg: AppConfig, days: float, dry_run: bool, as_json: bool) -> None:
    from algo_trade_data import DatabaseClient

    now = datetime.now(UTC)
    cutoff = now - timedelta(days=days)
    async with await DatabaseClient.connect(cfg.database) as db:
        old = [r for r in await db.list_bots() if r.state in _PRUNABLE and r.updated_at < cutoff]
        deleted = 0 if dry_run or not old else await db.delete_bots([r.bot_id for r in old])
    if as_json:
        print(json.dumps({"dry_run": dry_run, "bots": [r.bot_id for r in old], "deleted": deleted}))
        return
    if not old:
        console.print(
            f"nothing to prune: no stopped or failed bot was last written more than {days:g} days ago"
        )
        return
    table = Table(title=f"{'would remove' if dry_run else 'removed'} {len(old)} bot(s) (their fills stay)")
    for col in ("bot", "state", "last written", "age"):
        table.add_column(col)
    for r in old:
        table.add_row(
            r.bot_id, r.state, fmt_time(r.updated_at), fmt_age((now - r.updated_at).total_seconds())
        )
    console.print(table)
    if dry_run:
        console.print("dry run: nothing was removed (run without --dry-run to remove them)")


@app.command("prune")
def prune(
    older_than_days: Annotated[
        float,
        typer.Option(
            "--older-than-days", min=0, help="Remove bots last written more than this many days ago."
        ),
    ] = 7.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove stopped and failed bots from the database (their paper fills are kept)."""
    run_async(_prune(resolve_config(config), older_than_days, dry_run, as_json))


_AGO = {"m": 60.0, "h": 3600.0, "d": 86400.0}


def _since(text: str | None, now: datetime) -> datetime | None:
    """``--since``: an ISO date or date-time (UTC), or an age such as ``90m``, ``24h``, ``7d``."""
    if text is not None and len(text) > 1 and text[-1] in _AGO:
        try:
            amount = float(text[:-1])
        except ValueError:
            amount = -1.0
        if amount >= 0:
            return now - timedelta(seconds=amount * _AGO[text[-1]])
    return parse_time(text, "--since")


async def _events(
    cfg: AppConfig, since: datetime | None, bot_id: str | None, kind: str | None, limit: int
) -> list[BotEventRecord]:
    from algo_trade_data import DatabaseClient

    async with await DatabaseClient.connect(cfg.database) as db:
        return await db.list_bot_events(since=since, bot_id=bot_id, kind=kind, limit=limit)


@app.command("events")
def events(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only events from this time on: an ISO date or date-time (UTC), or an age (90m, 24h, 7d).",
        ),
    ] = None,
    bot_id: Annotated[str | None, typer.Option("--bot", help="Only this bot's events.")] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Only this kind: stop, alert, shadow_started or shadow_ended."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show the newest this many.")] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """What happened to bots besides trading: protection stops, alerts, shadow bots started and ended.

    Oldest first. Every stop and alert is also in the daemon's log and sent to [bots.alerts].
    """
    start = _since(since, datetime.now(UTC))
    rows = run_async(_events(resolve_config(config), start, bot_id, kind, limit))
    if as_json:
        print(json.dumps([e.to_json_dict() for e in rows]))
        return
    if not rows:
        console.print("no bot events" + (f" since {fmt_time(start)}" if start is not None else ""))
        return
    table = Table(title=f"{len(rows)} bot event(s)")
    for col in ("time", "bot", "kind", "reason"):
        table.add_column(col)
    for e in rows:
        kind_text = (
            f"[red]{e.kind}[/]"
            if e.kind == "stop"
            else f"[yellow]{e.kind}[/]"
            if e.kind == "alert"
            else e.kind
        )
        table.add_row(fmt_time(e.time), e.bot_id, kind_text, str(e.details.get("reason", "")))
    console.print(table)


async def _reports(cfg: AppConfig, bot_id: str | None) -> list[BotReport]:
    from algo_trade_data import DatabaseClient
    from algo_trade_tracking import report_bot

    async with await DatabaseClient.connect(cfg.database) as db:
        if bot_id is not None:
            return [await report_bot(db, bot_id, cfg.bots.tracking)]
        reports = []
        for record in await db.list_bots():
            if not record.position:
                continue
            try:
                reports.append(await report_bot(db, record.bot_id, cfg.bots.tracking))
            except (AlgoTradeError, ValueError) as exc:  # one unreadable bot must not hide the others
                err_console.print(f"[yellow]bot {record.bot_id}: no report: {exc}[/]", highlight=False)
        return reports


@app.command("report")
def report(
    bot_id: Annotated[
        str | None,
        typer.Argument(help="Bot id, e.g. quad_ma:BTC (see `bots list --all`); every bot when omitted."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Write a PNG of one bot: its equity, drawdown and trades against the backtest and inside "
            "the envelope.",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each bot measured against its own backtest: reconciliation and the divergence envelope.

    Reconciliation re-runs the backtest over exactly the bars the bot has seen, with its strategy,
    parameters, fee and slippage, and compares trade by trade (missed or extra trades, entry/exit lag in
    bars, price per fill, fees, PnL gap); a paper bot reconciles exactly, and missing bars in the store
    are reported as such. The envelope comes from the bot's selection-time result (the latest result of
    its symbol, strategy and parameters before it started): block-bootstrapped drawdown and trade-count
    bands for the bot's elapsed bars, PSR of its returns, a CUSUM of live minus expected returns
    ([bots.tracking]).

    --json prints a list with one object per bot: bot_id, symbol, strategy, interval, state, live_from,
    live_from_note, reconciliation (status exact|diverged|missing_bars|no_bars, message, bars_expected,
    bars_in_store, bars_seen_by_bot, missing_bars, first_missing_bar, gaps, compared_until, diverges_at,
    expected_trades, live_trades, trade_count_ratio, matched, missed, extra, max_entry_lag_bars,
    max_exit_lag_bars, slippage_modelled_bps, slippage_paid_bps, fee_rate_modelled, fee_rate_paid,
    fees_live, fees_backtest, pnl_live, pnl_backtest, pnl_gap, equity_live, equity_backtest, trades),
    basis, envelope and divergence (ok, bars, reasons [{kind, value, limit, message}], figures, skipped).
    """
    if plot is not None and bot_id is None:
        fail("--plot draws one bot: name it (BOT_ID)", 2)
    reports = run_async(_reports(resolve_config(config), bot_id))
    shapes = [r.to_json() for r in reports]
    if plot is not None:
        from algo_trade_cli._plots_tracking import plot_bot_report

        plot_bot_report(plot, reports[0])
    if as_json:
        print(json.dumps(shapes))
        return
    from algo_trade_cli._tracking_view import report_panel, reports_table

    if not shapes:
        console.print("no bots to report on: they start after a sweep approves tokens")
    elif bot_id is None:
        console.print(reports_table(shapes))
    else:
        console.print(report_panel(shapes[0]))
    if plot is not None:
        console.print(f"wrote {plot}")
