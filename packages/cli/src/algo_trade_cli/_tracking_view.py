"""`bots report`: a bot's live numbers beside its backtest's, its reconciliation and its envelope check,
as rich tables (drawn from the report's JSON shape, so the table and ``--json`` cannot disagree)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from algo_trade_cli._format import fmt_num, fmt_pct

__all__ = ["report_panel", "reports_table"]

_STATUS_STYLE = {"exact": "green", "diverged": "red", "missing_bars": "yellow", "no_bars": "dim"}


def _time(value: str | None) -> str:
    return "–" if value is None else datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")


def _bps(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} bps"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 10_000:.2f} bps"


def _envelope_text(report: dict[str, Any]) -> str:
    check = report["divergence"]
    if check is None:
        return "[dim]no stored backtest result to judge by[/]"
    if check["ok"]:
        return "[green]inside the envelope[/]"
    return "[red]outside: " + ", ".join(r["kind"] for r in check["reasons"]) + "[/]"


def report_panel(report: dict[str, Any]) -> Group:
    """One bot in detail: live vs backtest side by side, the reconciliation, the envelope checks."""
    rec = report["reconciliation"]
    style = _STATUS_STYLE.get(rec["status"], "white")
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("bot", f"{report['bot_id']} ({report['symbol']} {report['interval']}, {report['state']})")
    head.add_row("live since", f"{_time(report['live_from'])} UTC ({report['live_from_note']})")
    head.add_row(
        "bars",
        f"{rec['bars_seen_by_bot']} seen by the bot, {rec['bars_in_store']} of {rec['bars_expected']} "
        f"in the store up to {_time(rec['last_bar'])}",
    )
    head.add_row("reconciliation", f"[{style}]{rec['status'].replace('_', ' ')}[/]: {rec['message']}")
    for gap in rec["gaps"][:5]:
        head.add_row("missing bars", f"{gap['count']} from {_time(gap['first_missing'])}")
    if len(rec["gaps"]) > 5:
        head.add_row("", f"… {len(rec['gaps']) - 5} more gaps ({rec['missing_bars']} bars in all)")
    head.add_row("envelope", _envelope_text(report))
    if report["basis"] is not None:
        head.add_row("judged by", report["basis"])

    side = Table(title="live vs backtest over the bot's bars", title_justify="left")
    for col in ("", "bot", "backtest", "difference"):
        side.add_column(col, justify="left" if not col else "right")
    ratio = rec["trade_count_ratio"]
    side.add_row(
        "trades",
        str(rec["live_trades"]),
        str(rec["expected_trades"]),
        f"{rec['matched']} matched, {rec['missed']} missed, {rec['extra']} extra"
        + ("" if ratio is None else f" (ratio {ratio:.2f})"),
    )
    side.add_row(
        "realised PnL", fmt_num(rec["pnl_live"]), fmt_num(rec["pnl_backtest"]), fmt_num(rec["pnl_gap"])
    )
    eq_live, eq_bt = rec["equity_live"], rec["equity_backtest"]
    side.add_row(
        "equity",
        fmt_num(eq_live),
        fmt_num(eq_bt),
        "–" if eq_live is None or eq_bt is None else fmt_num(eq_live - eq_bt),
    )
    side.add_row(
        "fees",
        fmt_num(rec["fees_live"]),
        fmt_num(rec["fees_backtest"]),
        fmt_num(rec["fees_live"] - rec["fees_backtest"]),
    )
    side.add_row("fee rate", _rate(rec["fee_rate_paid"]), _rate(rec["fee_rate_modelled"]), "")
    side.add_row("slippage per fill", _bps(rec["slippage_paid_bps"]), _bps(rec["slippage_modelled_bps"]), "")
    lag_e, lag_x = rec["max_entry_lag_bars"], rec["max_exit_lag_bars"]
    side.add_row("largest lag (bars)", f"entry {lag_e or 0:g}, exit {lag_x or 0:g}", "", "")
    parts: list[Any] = [head, side]

    check = report["divergence"]
    if check is not None:
        fig = check["figures"]
        env = Table(title=f"envelope after {check['bars']} bars", title_justify="left")
        for col in ("check", "live", "envelope", "verdict"):
            env.add_column(col)
        failed = {r["kind"]: r for r in check["reasons"]}

        def verdict(kind: str) -> str:
            if kind in check["skipped"]:
                return f"[dim]{check['skipped'][kind]}[/]"
            return f"[red]{failed[kind]['message']}[/]" if kind in failed else "[green]ok[/]"

        env.add_row(
            "drawdown",
            fmt_pct(fig.get("live_drawdown")),
            f"≤ {fmt_pct(fig.get('drawdown_limit'))}",
            verdict("drawdown"),
        )
        env.add_row(
            "closed trades",
            f"{fig.get('live_trades'):g}",
            f"{fig.get('trades_low'):.1f}–{fig.get('trades_high'):.1f}",
            verdict("trade_rate"),
        )
        psr = fig.get("psr")
        env.add_row("PSR (Sharpe > 0)", "–" if psr is None else f"{psr:.3f}", "", verdict("psr"))
        cusum = fig.get("cusum")
        env.add_row("CUSUM (σ)", "–" if cusum is None else f"{cusum:.1f}", "", verdict("cusum"))
        parts.append(env)
    return Group(Panel(Group(*parts), title=f"bot {report['bot_id']}", title_align="left"))


def reports_table(reports: list[dict[str, Any]]) -> Table:
    """Every bot on one line: reconciliation, trades, PnL gap, slippage paid, envelope."""
    table = Table(title=f"{len(reports)} bot(s) against their backtests")
    for col in ("bot", "reconciliation", "trades bot/backtest", "PnL gap", "slippage paid", "envelope"):
        table.add_column(col, justify="right" if col in ("PnL gap", "slippage paid") else "left")
    for report in reports:
        rec = report["reconciliation"]
        style = _STATUS_STYLE.get(rec["status"], "white")
        table.add_row(
            report["bot_id"],
            f"[{style}]{rec['status'].replace('_', ' ')}[/]",
            f"{rec['live_trades']}/{rec['expected_trades']}",
            fmt_num(rec["pnl_gap"]),
            _bps(rec["slippage_paid_bps"]),
            _envelope_text(report),
        )
    return table
