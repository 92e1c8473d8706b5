"""Bots benchmark: 100 paper bots on one hub connection, the fake server streaming 100 coins.

The fake Hyperliquid runs in a child process (so the figures are the bots' process alone) and replays
random-walk candles for every coin at ``--rate`` messages per second each, ``--updates-per-bar``
pushes per bar (a bar closes when the next one starts), staggered across the coins. This process runs
the real stack of the daemon: ``MarketDataHub`` (one WebSocket, every closed bar recorded in the
store), ``BotRegistry`` with one bot per coin, fills and bot rows written to a temporary database on
the local PostgreSQL (`make db-up`).

Printed:

* latency from the server's send time of the message that closes a bar (``sent_at`` stamped by the
  fake) to the bot's decision on that bar (strategy stepped, fills computed): p50, p99, max; and the
  hub's part of it (push to the closed bar being handed to the bots);
* CPU of the bots' process over the streaming window (``time.process_time`` and ``getrusage``), as a
  share of one core and per 1,000 messages; the server's CPU apart;
* messages lost: closed bars the server pushed minus bars the bots handled (must be 0), and bars
  handled twice (must be 0).

``--protection on`` turns every ``[bots.protection]`` rule on in a way that never fires (max drawdown 99 %,
the Sharpe rule's counter, a divergence judge that reads the live Sharpe and drawdown, consulted every
``--judge-every`` bars: 60 by default, as ``divergence_every_bars``; 1 is the worst case), so each bar
pays the price of the checks; ``--protection both`` runs without and then with them and prints the CPU
per bar decision of both and their ratio (goal: < 5 % more).

Usage: ``python benchmarks/bench_bots.py [--duration 60] [--bots 100] [--rate 10] [--updates-per-bar 2]
[--strategy ma_crossover|quad_ma] [--no-record] [--protection off|on|both] [--judge-every 60]``; exits 1
when a message was lost or handled twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import polars as pl
from _figures import figure

from algo_trade_bot_orchestrator import Bot, BotRegistry, DivergenceVerdict, LiveStats, ProtectionMonitor
from algo_trade_core import BotsConfig, HyperliquidConfig, ProtectionConfig
from algo_trade_data import HyperliquidClient, MarketDataHub
from algo_trade_data.testing import FakeHyperliquid, fake_candles, temporary_client

STEP = 60_000
T0 = 1_753_000_000_000 - 1_753_000_000_000 % 3_600_000
WARM = 120  # stored bars per coin before the bots start (quad_ma needs 100)
PARAMETERS: dict[str, dict[str, Any]] = {
    "ma_crossover": {"fast": 5, "slow": 20},  # flips every few bars: a fill every few seconds per bot
    "quad_ma": {"volume_filter": False, "take_profit": 0.003, "stop_loss": 0.002},
}


async def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:  # noqa: ASYNC109
    """Poll ``predicate`` until true or ``timeout`` seconds have passed; return whether it held."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


def coin_names(n: int) -> list[str]:
    return [f"C{i:03d}" for i in range(n)]


def candles(i: int, bars: int) -> Any:
    return fake_candles(T0, bars, "1m", price=10.0 + i, seed=i)


# -- the server process ------------------------------------------------------------------------------


def serve(conn: Connection, coins: list[str], bars: int, updates: int, rate: float) -> None:
    """Child process: run the fake exchange until told to stop."""
    asyncio.run(_serve(conn, coins, bars, updates, rate))


async def _serve(conn: Connection, coins: list[str], bars: int, updates: int, rate: float) -> None:
    loop = asyncio.get_running_loop()
    async with FakeHyperliquid(now_ms=T0 + WARM * STEP + 1_000, debug_timestamps=True) as fake:
        for i, coin in enumerate(coins):
            fake.add_candles(coin, "1m", candles(i, bars))
        conn.send((fake.url, fake.ws_url))
        await loop.run_in_executor(None, conn.recv)  # "go": every bot is subscribed
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for coin in coins:
            fake.ws.start_replay(
                coin, "1m", start_index=WARM, updates_per_bar=updates, bar_period_s=updates / rate
            )
            await asyncio.sleep(1.0 / rate / len(coins))  # spread the coins over one message period
        await wait_until(lambda: fake.ws.replays_done, timeout=24 * 3600.0, interval=0.05)
        conn.send(
            {
                "messages": fake.ws.candle_messages_sent,
                "seconds": time.perf_counter() - wall0,
                "cpu_s": time.process_time() - cpu0,
                "max_push_lag_s": fake.ws.max_push_lag_s,
                "connections": fake.ws.connections_opened,
            }
        )
        await loop.run_in_executor(None, conn.recv)  # "stop"


# -- the bots' process -------------------------------------------------------------------------------


class Meter:
    """The bots' observer: latency samples, bars handled per bot, duplicates."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.all_handled = asyncio.Event()
        self.decision: list[float] = []
        self.hub: list[float] = []
        self.handled: Counter[str] = Counter()
        self.seen: set[tuple[str, int]] = set()
        self.duplicates = 0
        self.total = 0
        self.recording = False

    def __call__(self, bot: Bot, bar: Any) -> None:
        now = time.time()
        key = (bar.symbol, bar.t)
        if key in self.seen:
            self.duplicates += 1
        self.seen.add(key)
        self.handled[bar.symbol] += 1
        self.total += 1
        if self.total >= self.expected:
            self.all_handled.set()
        pushed = getattr(bar, "pushed_at", None)
        if self.recording and pushed is not None and getattr(bar, "source", "ws") == "ws":
            self.decision.append(now - pushed)
            self.hub.append(bar.received_at - pushed)


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# Every rule on, none able to fire: the cost of the checks without the cost of stopping.
ALL_CHECKS = ProtectionConfig(
    max_drawdown=0.99,
    min_sharpe=-10.0,
    min_sharpe_after_trades=10**9,
    divergence_evaluations=10**9,
    divergence_every_bars=1,
)


def judge(stats: LiveStats) -> DivergenceVerdict:
    """A divergence check that reads what a real one would (the live Sharpe and drawdown) and passes."""
    return DivergenceVerdict(ok=stats.drawdown < 1.0 or stats.sharpe is None)


async def run(args: argparse.Namespace, *, protection: bool = False) -> tuple[int, float]:
    coins = coin_names(args.bots)
    closed_per_coin = int(args.duration * args.rate / args.updates_per_bar) - 1
    bars = WARM + closed_per_coin + 1  # +1: the bar whose first push closes the last one
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(
        target=serve, args=(child, coins, bars, args.updates_per_bar, args.rate), daemon=True
    )
    server.start()
    loop = asyncio.get_running_loop()
    api_url, ws_url = await loop.run_in_executor(None, parent.recv)
    meter = Meter(closed_per_coin * len(coins))
    try:
        async with temporary_client(max_connections=10) as db:  # the daemon's default pool size
            for i, coin in enumerate(coins):  # the history a running system has in its store
                frame = candles(i, WARM).with_columns(symbol=pl.lit(coin), interval=pl.lit("1m"))
                await db.upsert_candles(frame)
            config = HyperliquidConfig(api_url=api_url, ws_url=ws_url)
            recorder = db if args.record else None
            async with (
                HyperliquidClient(config) as rest,
                MarketDataHub(config, rest=rest, store=recorder) as hub,
            ):
                registry = BotRegistry(
                    db,
                    hub,
                    candles=rest,
                    clock_ms=lambda: T0 + WARM * STEP + 1_000,
                    strategy_parameters=PARAMETERS,
                    observer=meter,
                    bots=BotsConfig(protection=replace(ALL_CHECKS, divergence_every_bars=args.judge_every))
                    if protection
                    else BotsConfig(),
                    divergence_judge=judge if protection else None,
                )
                t = time.perf_counter()
                started, _ = await registry.sync_bots_with_approved_tokens(coins, args.strategy)
                spawn_s = time.perf_counter() - t
                if not await wait_until(lambda: all(hub.is_subscribed(c, "1m") for c in coins), 30.0):
                    raise RuntimeError("the hub did not subscribe every coin within 30 s")
                meter.recording = True
                ru0 = resource.getrusage(resource.RUSAGE_SELF)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                parent.send("go")
                stats: dict[str, Any] = await loop.run_in_executor(None, parent.recv)
                with contextlib.suppress(TimeoutError):  # what is missing then is reported as lost
                    async with asyncio.timeout(30):
                        await meter.all_handled.wait()
                wall = time.perf_counter() - wall0
                cpu = time.process_time() - cpu0
                ru1 = resource.getrusage(resource.RUSAGE_SELF)
                meter.recording = False
                fills = len(await db.list_fills())
                statuses = registry.statuses()
                await registry.shutdown_all()
                hub_stats = hub.stats
    finally:
        parent.send("stop")
        server.join(timeout=10)

    expected = closed_per_coin * len(coins)
    handled = sum(meter.handled.values())
    lost = sum(max(0, closed_per_coin - meter.handled[c]) for c in coins)
    errors = [s.bot_id for s in statuses if s.error]
    ms = 1_000.0
    recording = "closed bars recorded in the store" if args.record else "no candle recording"
    checks = f"every protection, judge every {args.judge_every} bars" if protection else "no protections"
    print(
        f"bots: {len(started)} ({args.strategy}), one per coin; spawned and warmed up in {spawn_s:.2f} s; "
        f"{recording}; {checks}"
    )
    print(
        f"feed: {stats['messages']:,} candle messages in {stats['seconds']:.1f} s "
        f"({stats['messages'] / stats['seconds']:,.0f}/s; target {args.rate * len(coins):,.0f}/s), "
        f"{args.updates_per_bar} per bar; server max push lag {stats['max_push_lag_s'] * ms:.1f} ms"
    )
    print(f"connections: hub opened {hub_stats.connections_opened}, server saw {stats['connections']}")
    print(
        f"latency push -> bot decision: p50 {quantile(meter.decision, 0.5) * ms:.2f} ms, "
        f"p99 {quantile(meter.decision, 0.99) * ms:.2f} ms, "
        f"max {max(meter.decision, default=0) * ms:.2f} ms "
        f"({len(meter.decision):,} bars)"
    )
    print(
        f"  of which push -> hub: p50 {quantile(meter.hub, 0.5) * ms:.2f} ms, "
        f"p99 {quantile(meter.hub, 0.99) * ms:.2f} ms"
    )
    user = ru1.ru_utime - ru0.ru_utime
    system = ru1.ru_stime - ru0.ru_stime
    print(
        f"CPU (bots' process): {cpu:.2f} s over {wall:.1f} s = {100 * cpu / wall:.1f}% of one core "
        f"(user {user:.2f} s, system {system:.2f} s); {cpu / max(stats['messages'], 1) * 1e6:.0f} us "
        f"per message, {cpu / max(handled, 1) * 1e6:.0f} us per bar decision"
    )
    server_share = 100 * stats["cpu_s"] / stats["seconds"]
    print(f"CPU (fake server process): {stats['cpu_s']:.2f} s = {server_share:.1f}% of one core")
    print(
        f"bars: pushed closed {expected:,}, handled {handled:,}; lost {lost}, handled twice "
        f"{meter.duplicates}; fills recorded {fills:,}; bots in error {len(errors)}"
    )
    if statuses:
        print(f"trades per bot: mean {statistics.fmean(s.num_trades for s in statuses):.1f}")
    return (1 if lost or meter.duplicates or errors else 0), cpu / max(handled, 1)


def monitor_cost_s(rules: ProtectionConfig, bars: int = 200_000) -> float:
    """CPU seconds one bar's checks cost in isolation (the monitor and, when on, the judge)."""
    monitor = ProtectionMonitor(rules, interval="1m", initial_capital=10_000.0, judge=judge)

    def stats() -> LiveStats:
        return LiveStats(
            bot_id="b",
            symbol="X",
            strategy="ma_crossover",
            interval="1m",
            bar_t=0,
            bars=1,
            num_trades=1,
            equity=1.0,
            initial_capital=1.0,
            peak_equity=1.0,
            drawdown=monitor.drawdown,
            sharpe=monitor.sharpe,
        )

    rng = np.random.default_rng(1)
    equity = (10_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, bars)))).tolist()
    t = time.process_time()
    for e in equity:
        monitor.on_bar(e, 5, stats)
    return (time.process_time() - t) / bars


async def compare(args: argparse.Namespace) -> int:
    """Runs without and with the protections, alternating, each in a fresh process (a run leaves its
    process slower for the next one); the CPU per bar decision of each (median) and the ratio; then the
    checks' own cost per bar measured in isolation, as a share of a bar decision."""
    off: list[float] = []
    on: list[float] = []
    rc = 0
    for i in range(args.repeat):
        for protection, out in ((False, off), (True, on)) if i % 2 == 0 else ((True, on), (False, off)):
            what = (
                f"with every protection (judge every {args.judge_every} bars)"
                if protection
                else "without protections"
            )
            print(f"== run {i + 1}: {what}", flush=True)
            command = [
                sys.executable,
                __file__,
                *("--duration", str(args.duration), "--bots", str(args.bots), "--rate", str(args.rate)),
                *("--updates-per-bar", str(args.updates_per_bar), "--strategy", args.strategy),
                *("--protection", "on" if protection else "off", "--judge-every", str(args.judge_every)),
                *(() if args.record else ("--no-record",)),
            ]
            child = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
            output, _ = await child.communicate()
            text = output.decode()
            print(text, end="")
            rc = rc or (child.returncode or 0)
            out.append(float(text.rsplit("CPU_PER_BAR_S ", 1)[1].split()[0]))
    off_s, on_s = statistics.median(off), statistics.median(on)
    ratio = on_s / off_s
    runs = ", ".join(f"{a * 1e6:.0f}/{b * 1e6:.0f}" for a, b in zip(off, on, strict=True))
    print(f"CPU per bar decision without/with protections, per run (us): {runs}")
    figure(
        f"protection checks: extra CPU of the 100-bot load (end to end, judge every {args.judge_every} bars)",
        f"{100 * (ratio - 1):+.1f} % (median {off_s * 1e6:.0f} -> {on_s * 1e6:.0f} us/bar)",
        "< 5 %",
        ratio < 1.05,
    )
    for name, rules in (
        ("every rule, judge every bar", ALL_CHECKS),
        ("drawdown + Sharpe + judge every 60 bars", replace(ALL_CHECKS, divergence_every_bars=60)),
    ):
        cost = monitor_cost_s(rules)
        figure(
            f"protection checks in isolation ({name})",
            f"{cost * 1e6:.2f} us/bar = {100 * cost / off_s:.2f} % of a bar decision",
            "< 5 %",
            cost / off_s < 0.05,
        )
    return rc


async def one(args: argparse.Namespace) -> int:
    rc, per_bar = await run(args, protection=args.protection == "on")
    print(f"CPU_PER_BAR_S {per_bar:.9f}")
    return rc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of streaming (default 60)")
    parser.add_argument("--bots", type=int, default=100, help="bots, one coin each (default 100)")
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second per coin (default 10)")
    parser.add_argument("--updates-per-bar", type=int, default=2, help="pushes per bar (default 2)")
    parser.add_argument("--strategy", choices=sorted(PARAMETERS), default="ma_crossover")
    parser.add_argument(
        "--no-record",
        dest="record",
        action="store_false",
        help="do not record closed bars in the store (isolates the hub's recorder)",
    )
    parser.add_argument(
        "--protection",
        choices=("off", "on", "both"),
        default="off",
        help="check every [bots.protection] rule on every bar; both: compare without and with",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="with --protection both: runs of each (default 2)"
    )
    parser.add_argument(
        "--judge-every",
        type=int,
        default=60,
        help="bars between divergence evaluations with --protection on/both (default 60, the config's)",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(compare(args) if args.protection == "both" else one(args)))


if __name__ == "__main__":
    main()
