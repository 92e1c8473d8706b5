"""Every page's data over /api/, on a database filled by real sweeps on real candles; bad input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape

from algo_trade_dashboard import create_app
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import real_candles
from algo_trade_token_selector import CRITERIA
from algo_trade_tracking import report_bot


@pytest.fixture
async def client(market: Any) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(market.config, clock=market.now)
    async with TestClient(TestServer(app)) as c:
        yield c


async def get_json(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, (path, response.status, await response.text())
    assert response.content_type == "application/json"
    return await response.json()


async def test_overview_shows_the_last_sweep_the_selection_the_schedule_and_the_bots(
    client: TestClient[Any, Any], market: Any
) -> None:
    data = await get_json(client, "/api/overview")
    sweep = data["last_sweep"]
    assert sweep["run_id"] == market.run_ids[-1]
    assert (sweep["status"], sweep["tokens_ok"], sweep["tokens_failed"]) == ("ok", len(market.tokens), 0)
    assert sweep["window_end"] == market.end.isoformat()
    selection = data["selection"]
    assert selection["stored"] is False
    assert selection["approved"], "the market's last sweep approves at least one token"
    assert data["last_stored_selection"]["approved"] == selection["approved"]  # same rule, same time
    # The next runs come from the configured cron (daily 03:00 UTC) after "now".
    assert data["schedule"]["next_runs"][0] == "2025-07-27T03:00:00+00:00"
    assert {b["bot_id"] for b in data["bots"]} == set(market.bot_ids)
    assert data["alerts"] == {"events": []}  # no protection is on: no bot event (test_bot_events has them)
    assert len(data["history"]["selections"]) == 14


async def test_overview_does_not_record_a_selection(client: TestClient[Any, Any], market: Any) -> None:
    db = await DatabaseClient.connect(market.config.database, migrate=False)
    try:
        before = len(await db.list_selections(limit=1000))
        for path in ("/api/overview", "/api/selection", "/", "/selection", "/token/BTC"):
            assert (await client.get(path)).status == 200
        assert len(await db.list_selections(limit=1000)) == before
    finally:
        await db.close()


async def test_selection_audit_shows_every_criterion_from_the_stored_reasons(
    client: TestClient[Any, Any], market: Any
) -> None:
    data = await get_json(client, "/api/selection")
    assert {t["symbol"] for t in data["tokens"]} == set(market.tokens)
    for token in data["tokens"]:
        checks = data["checks"][token["symbol"]]
        # the regime, PSR and DSR gates are off by default: only the criteria that decide are shown
        gates = {"allowed_regimes", "min_psr", "min_dsr"}
        assert [c["criterion"] for c in checks] == [c for c in CRITERIA if c not in gates]
        failed = {f["criterion"]: f for f in token["failed"]}
        assert {c["criterion"] for c in checks if not c["passed"]} == set(failed)
        for c in checks:
            if not c["passed"]:  # the selector's own sentence and numbers, not a re-decision
                assert (c["text"], c["value"]) == (
                    failed[c["criterion"]]["text"],
                    failed[c["criterion"]]["value"],
                )
        assert token["approved"] == (token["status"] in ("approved", "fallback"))
    history = data["history"]
    assert len(history["selections"]) == 14
    column = history["selections"][-1]
    assert [s for s in history["symbols"] if column["tokens"][s]["status"] == "approved"] == column[
        "approved"
    ]
    limited = await get_json(client, "/api/selection?limit=3")
    assert len(limited["history"]["selections"]) == 3
    # Regime, PSR and DSR are shown for every token (the gates are off here: values, not criteria).
    assert [c["label"] for c in data["columns"]][-3:] == ["regime", "PSR", "DSR"]
    for token in data["tokens"]:
        regime, psr, dsr = data["cells"][token["symbol"]][-3:]
        assert regime["passed"] is psr["passed"] is dsr["passed"] is None
        assert regime["short"] == (token["regime"] or "–")
        assert psr["short"] == ("–" if token["psr"] is None else f"{token['psr']:.2f}")
        assert dsr["short"] == ("–" if token["dsr"] is None else f"{token['dsr']:.2f}")
    assert any(t["regime"] for t in data["tokens"])
    assert any(t["psr"] is not None for t in data["tokens"])


async def test_turned_on_gates_render_as_criteria_failed_with_the_selectors_reason(market: Any) -> None:
    from dataclasses import replace

    before = await get_json_of(market.config, "/api/selection", market)
    regimes = {t["regime"] for t in before["tokens"]}
    allowed = tuple(r for r in ("low", "normal", "high") if r != "low")  # low is the common one here
    assert "low" in regimes, regimes
    psr_floor = sorted(t["psr"] for t in before["tokens"])[len(before["tokens"]) // 2]
    selection = replace(market.config.token_selection, allowed_regimes=allowed, min_psr=psr_floor)
    config = replace(market.config, token_selection=selection)
    async with TestClient(TestServer(create_app(config, clock=market.now))) as client:
        data = await get_json(client, "/api/selection")
        page = await (await client.get("/selection")).text()
    failed_any = {"allowed_regimes": 0, "min_psr": 0}
    for token in data["tokens"]:
        cells = {c["criterion"]: c for c in data["cells"][token["symbol"]]}
        reasons = {f["criterion"]: f for f in token["failed"]}
        for gate in failed_any:
            assert cells[gate]["passed"] is (gate not in reasons), (token["symbol"], gate, cells[gate])
            if gate in reasons:  # the selector's sentence, shown as a failed criterion
                failed_any[gate] += 1
                assert cells[gate]["text"] == reasons[gate]["text"]
                assert str(escape(f"✗ {cells[gate]['short']}")) in page
        assert ("allowed_regimes" in reasons) == (token["regime"] == "low")
        assert ("min_psr" in reasons) == (token["psr"] < psr_floor)
        assert cells["min_dsr"]["passed"] is None  # still off
        if token["regime"] == "low" or token["psr"] < psr_floor:
            assert not token["approved"]
    assert failed_any["allowed_regimes"] > 0, failed_any
    assert failed_any["min_psr"] > 0, failed_any
    assert "regime low not in allowed normal, high" in page


async def get_json_of(config: Any, path: str, market: Any) -> Any:
    async with TestClient(TestServer(create_app(config, clock=market.now))) as client:
        return await get_json(client, path)


async def test_token_chart_reruns_the_stored_backtest_and_reproduces_it(
    client: TestClient[Any, Any], market: Any
) -> None:
    for symbol in market.tokens:
        data = await get_json(client, f"/api/token/{symbol}/chart")
        assert data["available"], data
        rerun = data["rerun"]
        assert rerun["matches_stored"], (symbol, rerun)
        assert rerun["rerun"]["num_trades"] == len(data["trades"]) == rerun["stored"]["num_trades"]
        assert "re-run with the backtest engine" in rerun["note"]
        assert len(data["candles"]["t"]) == 720  # 30 days of 1h bars: no reduction needed
        assert data["downsampled"]["candles"] is None
        assert [a["name"].split(" (")[1] for a in data["averages"]] == [
            "short_1)",
            "short_2)",
            "long_1)",
            "long_2)",
            "trend)",
        ]
        entries = [m for m in data["markers"] if m["kind"] == "entry"]
        assert len(entries) >= len(data["trades"])
        assert data["equity"]["v"][0] == pytest.approx(10_000, rel=1e-3)
    token = await get_json(client, "/api/token/SOL")
    assert token["latest"]["run_id"] == market.run_ids[-1]
    assert len(token["history"]) == 14
    assert [h["window_end"] for h in token["history"]] == sorted(h["window_end"] for h in token["history"])


async def test_huge_ranges_are_downsampled_and_say_so(client: TestClient[Any, Any]) -> None:
    source = real_candles("BTC", "1h")
    data = await get_json(
        client, "/api/candles/BTC?interval=1h&start=2024-09-01T00:00:00Z&end=2025-07-27T00:00:00Z"
    )
    assert data["bars"] == source.height > 5000
    candles = data["candles"]
    reduction = data["downsampled"]["candles"]
    assert len(candles["t"]) == reduction["points"] <= 5000
    assert reduction["source_points"] == source.height
    assert "merged" in reduction["method"]
    # No high or low is lost by merging: the extremes of the year are the same.
    assert max(candles["h"]) == pytest.approx(source["high"].max())
    assert min(candles["l"]) == pytest.approx(source["low"].min())
    assert candles["o"][0] == pytest.approx(source["open"][0])
    assert candles["c"][-1] == pytest.approx(source["close"][-1])
    small = await get_json(client, "/api/candles/BTC?interval=1h&start=2025-07-01&end=2025-07-02")
    assert (small["bars"], small["downsampled"]["candles"]) == (24, None)


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/token/XYZ", 404, "no token 'XYZ': no backtest result, candle or bot is stored"),
        ("/api/token/XYZ/chart", 404, "no token 'XYZ'"),
        ("/api/candles/XYZ?interval=1h", 404, "no token 'XYZ'"),
        ("/api/runs/0123456789abcdef", 404, "no backtest run '0123456789abcdef'"),
        ("/api/bots/quad_ma:XYZ", 404, "no bot 'quad_ma:XYZ'"),
        ("/api/bots/quad_ma:XYZ/chart", 404, "no bot 'quad_ma:XYZ'"),
        ("/api/bots/quad_ma:XYZ/report", 404, "no bot 'quad_ma:XYZ'"),
        ("/api/bots/quad_ma:XYZ/report/chart", 404, "no bot 'quad_ma:XYZ'"),
        ("/api/token/BTC;DROP", 400, "not a token name: 'BTC;DROP'"),
        ("/api/runs/..%2F..", 400, "not a run id"),
        ("/api/selection?limit=0", 400, "limit: expected a whole number from 1 to 400, got 0"),
        ("/api/selection?limit=ten", 400, "limit: expected a whole number from 1 to 400, got 'ten'"),
        ("/api/candles/BTC?interval=7m", 400, "interval: expected one of"),
        ("/api/candles/BTC?interval=1h&start=yesterday", 400, "start: expected an ISO-8601 time"),
        ("/api/candles/BTC?interval=1h&start=2025-07-02&end=2025-07-01", 400, "must be after start"),
        ("/api/candles/BTC?interval=1h&start=2023-01-01&end=2025-07-01", 400, "at most 400 days"),
        ("/api/nothing-here", 404, "There is no page at /api/nothing-here"),
    ],
)
async def test_bad_input_gets_an_error_that_names_it(
    client: TestClient[Any, Any], path: str, status: int, says: str
) -> None:
    data = await get_json(client, path, status)
    assert data["error"]["status"] == status
    assert says in data["error"]["message"], data


async def test_error_pages_say_what_was_not_found(client: TestClient[Any, Any]) -> None:
    response = await client.get("/token/XYZ")
    assert response.status == 404
    text = await response.text()
    assert "no token &#39;XYZ&#39;" in text
    assert "Overview" in text  # the nav bar stays: the user can go on from here
    run = await client.get("/runs/feedfacecafe")
    assert run.status == 404
    assert "no backtest run &#39;feedfacecafe&#39;" in await run.text()


async def test_runs_and_bots(client: TestClient[Any, Any], market: Any) -> None:
    runs = (await get_json(client, "/api/runs"))["runs"]
    assert [r["run_id"] for r in runs] == list(reversed(market.run_ids))
    run = await get_json(client, f"/api/runs/{market.run_ids[0]}")
    assert {r["symbol"] for r in run["results"]} == set(market.tokens)
    bots = await get_json(client, "/api/bots")
    assert {b["bot_id"] for b in bots["bots"]} == set(market.bot_ids)
    assert "live_vs_backtest" not in bots  # each bot's page has it (below)
    bot = await get_json(client, f"/api/bots/{market.traded_bot}")
    assert bot["fills_total"] == len(bot["fills"]) > 0
    chart = await get_json(client, f"/api/bots/{market.traded_bot}/chart")
    assert chart["available"]
    assert chart["fills_in_range"] == bot["fills_total"]
    # The equity rebuilt from the fills ends where the bot's own bookkeeping is.
    assert chart["equity"]["v"][-1] == pytest.approx(bot["equity"], abs=0.01)


async def test_a_bot_against_its_backtest_is_the_report_of_bots_report(
    client: TestClient[Any, Any], market: Any
) -> None:
    bot_id = market.traded_bot
    report = await get_json(client, f"/api/bots/{bot_id}/report")
    # The very object `bots report BOT_ID --json` prints (its list's one element), by the same call.
    async with await DatabaseClient.connect(market.config.database) as db:
        expected = (await report_bot(db, bot_id, market.config.bots.tracking)).to_json()
        fills = await db.list_fills(bot_id=bot_id)
    assert report == json.loads(json.dumps(expected))
    rec = report["reconciliation"]
    # A paper bot fed every bar is its backtest: same trades, same equity, nothing missing.
    assert (rec["status"], rec["missed"], rec["extra"], rec["missing_bars"]) == ("exact", 0, 0, 0)
    assert rec["live_trades"] == rec["expected_trades"] == sum(f.reason != "entry" for f in fills)
    assert report["envelope"] is not None  # the bots started on a stored sweep's result
    assert report["divergence"]["bars"] == rec["bars_seen_by_bot"]

    page = await get_json(client, f"/api/bots/{bot_id}")
    assert page["live_vs_backtest"] == {"available": True, "report": report}

    chart = await get_json(client, f"/api/bots/{bot_id}/report/chart")
    assert chart["available"]
    series = chart["series"]
    assert chart["bars"] == len(series["live"]["t"]) == rec["bars_in_store"]
    # The live curve ends at the bot's equity; it is the backtest's, bar for bar (exact reconciliation).
    assert chart["capital"] * (1 + series["live"]["v"][-1]) == pytest.approx(rec["equity_live"], rel=1e-9)
    assert series["live"]["v"] == pytest.approx(series["backtest"]["v"], abs=1e-9)
    assert all(
        lo <= mid <= hi
        for lo, mid, hi in zip(*(series[k]["v"] for k in ("band_low", "band_mid", "band_high")), strict=True)
    )
    assert max(series["drawdown"]["v"]) == pytest.approx(
        report["divergence"]["figures"]["live_drawdown"], abs=1e-9
    )
    assert series["live"]["t"][0] == series["band_low"]["t"][0] > 0


async def test_the_bot_page_shows_the_reconciliation_and_the_envelope(
    client: TestClient[Any, Any], market: Any
) -> None:
    response = await client.get(f"/bots/{market.traded_bot}")
    assert response.status == 200
    text = await response.text()
    assert "data-reconciliation" in text
    assert 'data-chart="live"' in text
    assert "trades matched / missed / extra" in text
    missing = await client.get("/bots/quad_ma:NOPE")
    assert missing.status == 404
    assert "no bot &#39;quad_ma:NOPE&#39;" in await missing.text()
