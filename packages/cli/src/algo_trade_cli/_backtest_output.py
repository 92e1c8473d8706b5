"""The output side of `algo-trade backtest`: the report tables, `--json`, `--plot`, `--trades-csv`.

Every figure is printed with what it was computed on (bars, days, trades), as freqtrade's backtesting
report would show it, so a ratio from 4.6 days of 1m bars cannot pass for a year's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
from rich.table import Table

from algo_trade_backtest import BacktestReport, BacktestResult, TradeExtreme, backtest_report
from algo_trade_backtest_scheduler import Window
from algo_trade_cli._common import console, err_console
from algo_trade_cli._format import fmt_duration, fmt_num, fmt_pct, fmt_time
from algo_trade_cli._notes import backtest_notes
from algo_trade_core import bars_per_year

__all__ = ["show_backtest"]

SHORT_DAYS = 30.0  # below this, annualised figures are extrapolations of a few weeks


def _signed_pct(value: float) -> str:
    return ("+" if value > 0 else "") + fmt_pct(value)


def _big_pct(value: float | None) -> str:
    """A percentage that may be huge (an annualised few days): thousands separated, no decimals."""
    if value is None:
        return "n/a"
    return f"{value * 100:,.0f}%" if abs(value) >= 10 else fmt_pct(value)


def _signed(value: float) -> str:
    return ("+" if value > 0.005 else "") + fmt_num(value)


def _extreme(extreme: TradeExtreme | None) -> tuple[str, str]:
    if extreme is None:
        return "–", "no closed trade"
    t = extreme.trade
    return (
        f"{_signed_pct(extreme.ret)} ({_signed(t.pnl)})",
        f"{t.side} {fmt_time(t.entry_time)} → {fmt_time(t.exit_time)}, {t.exit_reason}",
    )


def report_table(result: BacktestResult, report: BacktestReport, symbol: str, source: str) -> Table:
    """The metrics with the basis of each: what it was computed on."""
    m = result.metrics
    n = report.num_trades
    days = f"{report.days:,.1f} days"
    short = "; too short a window to mean much" if report.days < SHORT_DAYS else ""
    returns = max(m.num_bars - 1, 0)
    annualise = f"×√{bars_per_year(result.interval):,.0f}"
    cagr = _big_pct(report.cagr)
    open_note = " (+1 open)" if result.open_position is not None else ""
    fee_share = report.fees_paid / report.initial_capital if report.initial_capital else 0.0
    rows = [
        (
            "period",
            f"{fmt_time(report.start)} → {fmt_time(report.end)}",
            f"{m.num_bars:,} {result.interval} bars, {days}",
        ),
        (
            "capital",
            f"{fmt_num(m.initial_capital)} → {fmt_num(report.final_equity)}",
            "USDC; an open position valued at the last close",
        ),
        ("total return", fmt_pct(m.total_return), f"over {days}"),
        ("CAGR", cagr, f"from {days}, compounded to 365 days{short}"),
        ("buy & hold return", fmt_pct(m.buy_hold_return), "first open to last close"),
        ("max drawdown", fmt_pct(m.max_drawdown), "of the equity at each bar close, from its peak"),
        ("exposure", fmt_pct(m.exposure, 1), f"share of {m.num_bars:,} bar closes in a position"),
        (
            "Sharpe",
            fmt_num(m.sharpe_ratio),
            f"{returns:,} per-bar returns over {days}, annualised {annualise}{short}",
        ),
        ("Sortino", fmt_num(m.sortino_ratio), f"same returns, downside deviation, {annualise}"),
        ("Calmar", fmt_num(m.calmar_ratio), "annualised return / max drawdown"),
        ("trades", f"{n}{open_note}", "closed round trips; an open position is not a trade"),
        ("win rate", fmt_pct(m.win_rate, 1), f"{report.winners} of {n} closed trades won"),
        ("profit factor", fmt_num(m.profit_factor), f"gross profit / gross loss of {n} trades"),
        (
            "expectancy",
            f"{_signed(report.expectancy)} per trade"
            + ("" if report.expectancy_ratio is None else f" (ratio {report.expectancy_ratio:.2f})"),
            f"over {n} closed trades: avg win {fmt_num(report.avg_win)}, avg loss {fmt_num(report.avg_loss)}"
            + ("; no losing trade, ratio undefined" if n and report.expectancy_ratio is None else ""),
        ),
        (
            "avg trade duration",
            fmt_duration(report.avg_duration),
            f"min {fmt_duration(report.min_duration)}, max {fmt_duration(report.max_duration)}, "
            f"over {n} trades",
        ),
        ("best trade", *_extreme(report.best_trade)),
        ("worst trade", *_extreme(report.worst_trade)),
        (
            "fees paid",
            fmt_num(report.fees_paid),
            f"{report.fills} fills at {fmt_pct(result.execution.fee_rate, 3)} "
            f"({fmt_pct(fee_share)} of initial capital)",
        ),
    ]
    rows.extend(
        (
            f"{side.side} trades",
            f"{side.num_trades}, PnL {_signed(side.pnl)}",
            f"win rate {fmt_pct(side.win_rate, 1)} ({side.winners} of {side.num_trades})",
        )
        for side in (report.long, report.short)
    )
    table = Table(title=f"{result.strategy} on {symbol} {result.interval} ({source})")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_column("computed on", style="dim")
    for row in rows:
        table.add_row(*row)
    if result.open_position is not None:
        p = result.open_position
        table.add_row(
            "open position",
            f"{p.side} {p.qty:.6g} @ {p.entry_price:.6g}",
            f"since {fmt_time(p.entry_time)}, unrealised {fmt_num(p.unrealized_pnl)} after the entry fee",
        )
    return table


def monthly_table(report: BacktestReport) -> Table:
    """Month x return (UTC calendar months; the first and last may be partial)."""
    table = Table(title="monthly returns (UTC; equity at the month's last bar close over the previous)")
    for col in ("month", "bars from → to", "return", "trades closed", "PnL", "equity at end"):
        table.add_column(col, justify="left" if col in ("month", "bars from → to") else "right")
    for month in report.monthly:
        style = "green" if month.ret > 0 else "red" if month.ret < 0 else ""
        ret = _signed_pct(month.ret)
        table.add_row(
            month.month,
            f"{month.first_bar:%m-%d %H:%M} → {month.last_bar:%m-%d %H:%M}",
            f"[{style}]{ret}[/]" if style else ret,
            str(month.num_trades),
            _signed(month.pnl),
            fmt_num(month.end_equity),
        )
    return table


def trades_table(result: BacktestResult) -> Table:
    table = Table(title="trades")
    for col in ("entry", "exit", "side", "entry px", "exit px", "qty", "pnl", "reason"):
        table.add_column(col, justify="right" if col not in ("side", "reason") else "left")
    for t in result.trades:
        table.add_row(
            fmt_time(t.entry_time),
            fmt_time(t.exit_time),
            t.side,
            f"{t.entry_price:.6g}",
            f"{t.exit_price:.6g}",
            f"{t.qty:.6g}",
            fmt_num(t.pnl),
            t.exit_reason,
        )
    return table


def _print_report(
    result: BacktestResult,
    report: BacktestReport,
    symbol: str,
    source: str,
    show_trades: bool,
    window: Window,
) -> None:
    console.print(report_table(result, report, symbol, source))
    if report.monthly:
        console.print(monthly_table(report))
    m = result.metrics
    for note in backtest_notes(result, window):
        console.print(note)
    if m.num_trades == 0:
        console.print(
            "[yellow]warning:[/] no trade was made in this window "
            "(too few bars for the warm-up, or no setup passed the filters)"
        )
    if show_trades and result.trades:
        console.print(trades_table(result))


def show_backtest(
    result: BacktestResult,
    frame: pl.DataFrame,
    *,
    symbol: str,
    source: str,
    as_json: bool,
    show_trades: bool,
    plot: Path | None,
    trades_csv: Path | None,
    window: Window,
) -> None:
    """Print the report (or JSON) and write the requested files; notes go to stderr under --json."""
    timestamps = frame["timestamp"].dt.epoch("ms").to_numpy().astype(np.int64)
    report = backtest_report(result, timestamps)
    if as_json:
        print(json.dumps({**result.to_json_dict(), "report": _finite(report.to_json_dict())}))
    else:
        _print_report(result, report, symbol, source, show_trades, window)
    notes = err_console if as_json else console
    if trades_csv is not None:
        from algo_trade_cli._export import write_trades_csv

        rows = write_trades_csv(
            trades_csv, result.trades, symbol=symbol, strategy=result.strategy, interval=result.interval
        )
        notes.print(f"wrote {rows} trade(s) to {trades_csv}")
    if plot is not None:
        from algo_trade_cli._plots import backtest_chart, plot_backtest

        chart = backtest_chart(
            result,
            report,
            symbol=symbol,
            timestamps_ms=timestamps,
            first_open=float(frame["open"][0]),
            close=frame["close"].cast(pl.Float64).to_numpy(),
        )
        plot_backtest(plot, chart)
        notes.print(f"wrote {plot}")


def _finite(value: object) -> object:
    """JSON has no infinity: an unbounded figure becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
