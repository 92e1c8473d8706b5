"""The dashboard's /api/ payloads are the CLI's --json shapes, on databases filled by real sweeps and bots."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from algo_trade_backtest_scheduler import BacktestScheduler
from algo_trade_bot_orchestrator import BotRegistry, MemoryFeed, bars_from_frame, strategy_warmup_bars
from algo_trade_cli.app import app as cli_app
from algo_trade_core import AppConfig, datetime_to_ms, load_config
from algo_trade_dashboard import create_app
from algo_trade_data import BotRecord, DatabaseClient, announce_daemon
from algo_trade_data.testing import real_candles, temporary_database, wait_for
from algo_trade_evaluation import WalkForwardSettings, load_bars, run_walkforward, store_walkforward
from algo_trade_pipeline import Pipeline, traded_parameter_set

TOKENS = ("BTC", "ETH", "SOL")
END = datetime(2025, 7, 26, 4, tzinfo=UTC)


def settled(bots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bots without ``last_seen_seconds``: each side measures it to its own "now"."""
    return [{k: v for k, v in b.items() if k != "last_seen_seconds"} for b in bots]


def cli_json(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli_app, [*args, "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def _walkforward(db: DatabaseClient, config: AppConfig) -> str:
    """A small stored walk-forward study (two weekly periods) of the three tokens."""
    settings = WalkForwardSettings.from_config(
        config,
        start=END - timedelta(weeks=2),
        end=END,
        step=timedelta(days=7),
        window_days=config.scheduler.backtest_window_days,
        interval="1h",
        symbols=TOKENS,
        random_draws=20,
        seed=0,
    )
    warmup = max(settings.warmup_bars, strategy_warmup_bars(settings.strategy, settings.params))
    bars = await load_bars(db, settings, warmup)
    return await store_walkforward(db, await asyncio.to_thread(run_walkforward, bars, settings))


async def test_api_payloads_are_the_cli_json_shapes() -> None:
    async with temporary_database() as url:
        env = {
            "ALGO_TRADE__DATABASE__URL": url,
            "ALGO_TRADE__SCHEDULER__INTERVAL": "1h",
            "ALGO_TRADE__SCHEDULER__TOKEN_UNIVERSE": json.dumps(list(TOKENS)),
            "ALGO_TRADE__SCHEDULER__REFRESH_DATA": "false",
            "ALGO_TRADE__TOKEN_SELECTION__MIN_NUM_TRADES": "3",
            "COLUMNS": "200",
        }
        config = load_config(None, env=env)
        db = await DatabaseClient.connect(config.database)
        try:
            for symbol in TOKENS:
                await db.upsert_candles(real_candles(symbol, "1h"))
            scheduler = BacktestScheduler.from_app_config(config, db, None)
            try:
                for as_of in (END - timedelta(days=1), END):
                    summary = await scheduler.run_once(as_of, refresh=False)
                    await Pipeline(config, db, clock=lambda at=as_of: at).after_sweep(summary)
            finally:
                await scheduler.shutdown()
            walkforward_id = await _walkforward(db, config)
            await db.upsert_bot(
                BotRecord(
                    bot_id="quad_ma:SOL",
                    symbol="SOL",
                    strategy_name="quad_ma",
                    parameters={},
                    interval="1h",
                    state="running",
                    created_at=END,
                    updated_at=END,
                )
            )
        finally:
            await db.close()
        as_of = END + timedelta(hours=1)
        cli_selection = await asyncio.to_thread(
            cli_json, env, "token-selection", "--as-of", as_of.isoformat()
        )
        cli_runs, cli_bots, cli_history, cli_latest, cli_studies, cli_study = [
            await asyncio.to_thread(cli_json, env, *args)
            for args in (
                ("runs", "list", "--limit", "50"),
                ("bots", "list", "--all"),
                ("selection", "history", "--limit", "50"),
                ("results", "latest"),
                ("walkforward", "list"),
                ("walkforward", "show", walkforward_id),
            )
        ]
        app = create_app(config, clock=lambda: as_of)
        async with TestClient(TestServer(app)) as client:

            async def api(path: str) -> Any:
                response = await client.get(path)
                assert response.status == 200, path
                return await response.json()

            assert (await api("/api/runs?limit=50"))["runs"] == cli_runs
            api_bots = (await api("/api/bots"))["bots"]
            assert settled(api_bots) == settled(cli_bots)
            assert cli_bots[0]["trading"] is False  # no daemon holds the presence lock
            # Both measure the time since the row's last write to the wall clock (bots are live).
            assert abs(api_bots[0]["last_seen_seconds"] - cli_bots[0]["last_seen_seconds"]) < 120
            async with await DatabaseClient.connect(config.database) as daemon_db, announce_daemon(daemon_db):
                trading_cli = await asyncio.to_thread(cli_json, env, "bots", "list", "--all")
                trading_api = (await api("/api/bots"))["bots"]
            assert trading_cli[0]["trading"] is True
            assert settled(trading_api) == settled(trading_cli)
            selection = await api("/api/selection?limit=50")
            assert selection["stored"] is False
            assert cli_selection.pop("stored") is True
            assert {k: selection[k] for k in cli_selection} == cli_selection
            assert selection["history"] == cli_history
            assert len(cli_history["selections"]) == 3  # two sweeps and the CLI's own selection
            run = await api(f"/api/runs/{cli_runs[0]['run_id']}")
            assert sorted(run["results"], key=lambda r: r["symbol"]) == cli_latest
            # Walk-forward: the CLI's rows and study, with what the pages show besides.
            studies = (await api("/api/walkforward"))["runs"]
            assert [{k: s[k] for k in c} for s, c in zip(studies, cli_studies, strict=True)] == cli_studies
            assert studies[0]["periods"] == len(cli_study["periods"]) == 2
            study = await api(f"/api/walkforward/{walkforward_id}")
            assert {k: study[k] for k in cli_study} == cli_study
            # A bot row without the configuration it ran (written by hand here) has no report: the
            # API says why with 422, the bot page shows the reason instead of the panel.
            response = await client.get("/api/bots/quad_ma:SOL/report")
            assert response.status == 422
            message = (await response.json())["error"]["message"]
            assert message.startswith("bot 'quad_ma:SOL': no report against its backtest: ")
            bot = await api("/api/bots/quad_ma:SOL")
            assert bot["live_vs_backtest"] == {"available": False, "reason": message}


async def test_bot_report_and_events_are_the_cli_json_shapes() -> None:
    """A paper bot approved by a real sweep, trading SOL's real bars until a drawdown protection stops
    it: /api/bots/{id}/report is `bots report ID --json`'s object, /api/events is `bots events --json`."""

    start = END - timedelta(days=20)
    async with temporary_database() as url:
        env = {
            "ALGO_TRADE__DATABASE__URL": url,
            "ALGO_TRADE__SCHEDULER__INTERVAL": "1h",
            "ALGO_TRADE__SCHEDULER__TOKEN_UNIVERSE": json.dumps(["SOL"]),
            "ALGO_TRADE__SCHEDULER__REFRESH_DATA": "false",
            "ALGO_TRADE__BOTS__INTERVAL": "1h",
            "ALGO_TRADE__BOTS__SHADOW_DAYS": "0",
            "ALGO_TRADE__BOTS__PROTECTION__MAX_DRAWDOWN": "0.004",
            "COLUMNS": "200",
        }
        config = load_config(None, env=env)
        frame = real_candles("SOL", "1h")
        db = await DatabaseClient.connect(config.database)
        try:
            await db.upsert_candles(frame)
            scheduler = BacktestScheduler.from_app_config(config, db, None)
            try:
                summary = await scheduler.run_once(start, refresh=False)  # the result the bot is judged by
            finally:
                await scheduler.shutdown()
            assert summary.status == "ok", summary.errors
            clock = {"ms": datetime_to_ms(start)}
            feed = MemoryFeed()
            registry = BotRegistry.from_app_config(
                config, db, feed, clock_ms=lambda: clock["ms"], checkpoint_s=0.0
            )
            try:
                started, _ = await registry.sync_bots_with_approved_tokens(
                    ["SOL"], "quad_ma", traded_parameter_set(config)[1]
                )
                assert started == ["SOL"]
                later = frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < END))
                for bar in bars_from_frame(later, symbol="SOL", interval="1h"):
                    clock["ms"] = bar.t + 3_600_000 + 1_000
                    feed.publish(bar)

                async def stopped() -> bool:
                    return bool(await db.list_bot_events(kind="stop"))

                await wait_for(stopped, timeout=60, what="the drawdown stop", interval=0.05)
            finally:
                await registry.shutdown_all()
        finally:
            await db.close()
        (cli_report,) = await asyncio.to_thread(cli_json, env, "bots", "report", "quad_ma:SOL")
        cli_events = await asyncio.to_thread(cli_json, env, "bots", "events")
        app = create_app(config, clock=lambda: END)
        async with TestClient(TestServer(app)) as client:

            async def api(path: str) -> Any:
                response = await client.get(path)
                assert response.status == 200, path
                return await response.json()

            report = await api("/api/bots/quad_ma:SOL/report")
            assert report == cli_report
            assert report["envelope"] is not None  # judged by the sweep's stored result
            assert report["reconciliation"]["status"] == "exact"
            assert (await api("/api/events"))["events"] == cli_events
            assert [e["kind"] for e in cli_events] == ["stop"]
            page = await api("/api/bots/quad_ma:SOL")
            assert page["live_vs_backtest"] == {"available": True, "report": cli_report}
            assert page["events"] == cli_events
