"""The walk-forward pages over /api/ and as HTML, on the market's stored study of real candles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape

from algo_trade_dashboard import create_app
from algo_trade_dashboard._walkforward import walkforward_chart
from algo_trade_data import DatabaseClient
from algo_trade_data.testing import temporary_database
from algo_trade_evaluation import stored_json

WEEKS = 4  # conftest.WALKFORWARD_WEEKS: the study's periods


@pytest.fixture
async def client(market: Any) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(market.config, clock=market.now))) as c:
        yield c


async def get_json(client: TestClient[Any, Any], path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, (path, response.status, await response.text())
    return await response.json()


async def stored(market: Any) -> tuple[Any, list[Any]]:
    db = await DatabaseClient.connect(market.config.database, migrate=False)
    try:
        found = await db.get_walkforward_run(market.walkforward_id)
    finally:
        await db.close()
    assert found is not None
    return found


async def test_the_list_and_one_study_are_the_stored_study_as_the_cli_shows_it(
    client: TestClient[Any, Any], market: Any
) -> None:
    run, periods = await stored(market)
    (row,) = (await get_json(client, "/api/walkforward"))["runs"]
    assert row["run_id"] == market.walkforward_id
    assert (row["periods"], row["universe_size"], row["interval"]) == (WEEKS, len(market.tokens), "1h")
    selection = run.summary["selection"]["total_return"]
    universe = run.summary["universe"]["total_return"]
    assert row["verdict_line"].startswith(f"selection {selection:+.2%} vs universe {universe:+.2%}")
    assert row["verdict"] == run.verdict
    # A unique prefix finds it, as `walkforward show` does; the payload is `show --json` plus the text.
    data = await get_json(client, f"/api/walkforward/{market.walkforward_id[:10]}")
    cli_keys = stored_json(run, periods)
    assert {k: data[k] for k in cli_keys} == cli_keys
    assert [p["start"][:10] for p in data["periods"]] == [
        "2025-06-28",
        "2025-07-05",
        "2025-07-12",
        "2025-07-19",
    ]
    assert data["header"].startswith("walk-forward quad_ma 1h: 2025-06-28 → 2025-07-26")
    text = " | ".join(data["statistics_text"])
    if run.statistics["psr"] is not None:  # every ratio says what it was computed on
        assert f"PSR {run.statistics['psr']:.3f}" in text
        assert f"on {WEEKS * 7 * 24} out-of-sample 1h bars" in text
    assert f"percentile (one-sided p = {run.statistics['random_p_value']:.3f})" in text


async def test_the_chart_draws_each_curve_as_a_return_on_its_own_capital(
    client: TestClient[Any, Any], market: Any
) -> None:
    run, periods = await stored(market)
    chart = await get_json(client, f"/api/walkforward/{market.walkforward_id}/chart")
    for name in ("selection", "universe", "buy_hold"):
        series = chart[name]
        assert len(series["t"]) == len(series["v"]) == len(run.curves["t"])
        assert series["t"] == sorted(set(series["t"])), name
        # The curve ends at the study's total return (the summary's figure, computed on its own).
        assert series["v"][-1] == pytest.approx(run.summary[name]["total_return"], abs=1e-9), name
    assert chart["selection"]["t"][-1] == round(run.range_end.timestamp())  # the close of the last bar
    band = chart["random"]
    assert band["random_median"]["t"] == [round(p.period_start.timestamp()) for p in periods] + [
        round(run.range_end.timestamp())
    ]
    for low, mid, high in zip(
        *(band[k]["v"] for k in ("random_p05", "random_median", "random_p95")), strict=True
    ):
        assert low <= mid <= high
    assert band["random_median"]["v"][0] == pytest.approx(0.0)  # every draw starts with its capital
    with_ic = [p for p in periods if p.ic is not None]
    assert [(p["t"], p["v"]) for p in chart["ic"]] == [
        (round(p.period_start.timestamp()), p.ic) for p in with_ic
    ]
    assert chart["ic_missing"] == len(periods) - len(with_ic)
    assert chart["downsampled"] == {"selection": None, "universe": None, "buy_hold": None}


async def test_long_curves_are_downsampled_and_say_so(market: Any) -> None:
    run, periods = await stored(market)
    chart = walkforward_chart(run.curves, [(p.period_start, p.ic) for p in periods], max_points=60)
    n = len(run.curves["t"])
    for name in ("selection", "universe", "buy_hold"):
        assert chart["downsampled"][name]["source_points"] == n
        assert chart["downsampled"][name]["points"] == len(chart[name]["t"]) <= 60
        # The extremes and the end survive the reduction.
        full = walkforward_chart(run.curves, [])[name]["v"]
        assert max(chart[name]["v"]) == max(full)
        assert min(chart[name]["v"]) == min(full)
        assert chart[name]["v"][-1] == full[-1]


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/walkforward/feedfacecafe", 404, "no walk-forward study 'feedfacecafe' is stored"),
        ("/api/walkforward/feedfacecafe/chart", 404, "no walk-forward study 'feedfacecafe'"),
        ("/api/walkforward/..%2F..", 400, "not a run id"),
        ("/api/walkforward?limit=0", 400, "limit: expected a whole number from 1 to 1000, got 0"),
    ],
)
async def test_an_unknown_or_bad_study_id_is_named(
    client: TestClient[Any, Any], path: str, status: int, says: str
) -> None:
    data = await get_json(client, path, status)
    assert says in data["error"]["message"], data


async def test_the_pages_show_the_study_and_the_overview_links_to_it(
    client: TestClient[Any, Any], market: Any
) -> None:
    run, periods = await stored(market)
    page = await client.get(f"/walkforward/{market.walkforward_id}")
    assert page.status == 200
    html = await page.text()
    assert str(escape(run.verdict)) in html
    assert html.count("<tr>") >= len(periods) + 2  # summary rows and one row per period
    assert f'data-src="/api/walkforward/{market.walkforward_id}/chart"' in html
    listing = await (await client.get("/walkforward")).text()
    assert f'href="/walkforward/{market.walkforward_id}"' in listing
    overview = await get_json(client, "/api/overview")
    assert overview["last_walkforward"]["run_id"] == market.walkforward_id
    home = await (await client.get("/")).text()
    assert f'<a href="/walkforward/{market.walkforward_id}">' in home
    missing = await client.get("/walkforward/feedfacecafe")
    assert missing.status == 404
    assert "no walk-forward study &#39;feedfacecafe&#39; is stored" in await missing.text()


async def test_without_a_study_the_pages_say_so(market: Any, tmp_path: Any) -> None:
    from dataclasses import replace

    async with temporary_database() as url:
        config = replace(market.config, database=replace(market.config.database, url=url))
        await (await DatabaseClient.connect(config.database)).close()  # the schema, no row
        app = create_app(config, clock=lambda: datetime.fromisoformat("2025-07-26T05:00:00+00:00"))
        async with TestClient(TestServer(app)) as client:
            assert (await get_json(client, "/api/overview"))["last_walkforward"] is None
            assert (await get_json(client, "/api/walkforward"))["runs"] == []
            for path in ("/", "/walkforward"):
                page = await client.get(path)
                assert page.status == 200, path
                assert "No walk-forward study stored yet" in await page.text(), path
