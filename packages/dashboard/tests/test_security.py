"""Who may read the dashboard, what it refuses, and what every response carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from algo_trade_core import ConfigError
from algo_trade_dashboard import check_bind, create_app, is_loopback
from algo_trade_dashboard._security import SESSION_COOKIE, safe_next, session_value

TOKEN = "a-token-of-24-characters"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - the point: every interface is not loopback
        ("::", False),
        ("192.0.2.10", False),
        ("dashboard.example", False),
        ("", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_non_loopback_bind_without_a_token_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"refuses to listen on '0\.0\.0\.0' without a token"):
        check_bind("0.0.0.0", "")  # noqa: S104
    with pytest.raises(ConfigError, match="ALGO_TRADE__SERVER__TOKEN"):
        check_bind("192.0.2.10", "")
    check_bind("192.0.2.10", TOKEN)
    check_bind("127.0.0.1", "")
    check_bind("localhost", "")


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/selection?limit=5", "/selection?limit=5"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
        ("selection", "/"),
    ],
)
def test_login_redirects_only_to_this_server(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


@pytest.fixture
async def guarded(token_config: Any, market: Any) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(token_config, clock=market.now)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_the_api_needs_the_token_as_bearer_or_session_cookie(guarded: TestClient[Any, Any]) -> None:
    response = await guarded.get("/api/overview")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "needs its token" in (await response.json())["error"]["message"]
    wrong = await guarded.get("/api/overview", headers={"Authorization": "Bearer a-token-of-24-characterX"})
    assert wrong.status == 401
    right = await guarded.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status == 200
    assert "last_sweep" in await right.json()
    raw = await guarded.get("/api/overview", cookies={SESSION_COOKIE: TOKEN})  # the token is not a session
    assert raw.status == 401
    session = await guarded.get("/api/overview", cookies={SESSION_COOKIE: session_value(TOKEN)})
    assert session.status == 200


async def test_pages_send_to_the_login_form_which_sets_a_strict_http_only_cookie(
    guarded: TestClient[Any, Any],
) -> None:
    response = await guarded.get("/selection?limit=5", allow_redirects=False)
    assert response.status == 303
    location = URL(response.headers["Location"])
    assert (location.path, location.query["next"]) == ("/login", "/selection?limit=5")
    form = await guarded.get("/login?next=/selection")
    assert form.status == 200
    assert 'name="token"' in await form.text()
    refused = await guarded.post("/login", data={"token": "not-the-token", "next": "/selection"})
    assert refused.status == 401
    assert "not the dashboard&#39;s token" in await refused.text()
    assert SESSION_COOKIE not in refused.cookies
    foreign = await guarded.post(
        "/login", data={"token": TOKEN}, headers={"Origin": "http://evil.example"}, allow_redirects=False
    )
    assert foreign.status == 403
    login = await guarded.post(
        "/login", data={"token": TOKEN, "next": "//evil.example/"}, allow_redirects=False
    )
    assert login.status == 303
    assert login.headers["Location"] == "/"  # never off this server
    cookie = login.headers["Set-Cookie"]
    assert f"{SESSION_COOKIE}={session_value(TOKEN)}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    page = await guarded.get("/selection", cookies={SESSION_COOKIE: session_value(TOKEN)})
    assert page.status == 200
    assert "Selection audit" in await page.text()


async def test_nothing_but_reads_is_served(guarded: TestClient[Any, Any]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/", "/api/overview", "/api/bots", "/selection"):
            response = await guarded.request(method, path, headers=auth)
            assert response.status == 405, (method, path)
            assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD"}
    head = await guarded.head("/api/overview", headers=auth)
    assert head.status == 200


async def test_every_response_carries_the_security_headers(guarded: TestClient[Any, Any]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/", "/api/overview", "/token/NOPE", "/api/token/NOPE", "/login", "/no/such/page"):
        response = await guarded.get(path, headers=auth)
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp, path
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
    static = await guarded.get("/static/app.css")
    assert static.status == 200  # the login page's stylesheet needs no token
    assert static.headers["X-Content-Type-Options"] == "nosniff"


async def test_html_in_stored_values_is_escaped(market: Any) -> None:
    from algo_trade_data import BacktestRunRecord
    from algo_trade_data.testing import temporary_client

    evil = "<script>alert(1)</script>"
    async with temporary_client() as db:
        at = datetime(2025, 7, 1, tzinfo=UTC)
        await db.record_run(
            BacktestRunRecord(
                run_id="evil-run",
                started_at=at,
                finished_at=at,
                status="failed",
                tokens_failed=1,
                errors={evil: f"<img src=x onerror=alert(2)> {evil}"},
            )
        )
        app = create_app(market.config, db=db, clock=market.now)
        async with TestClient(TestServer(app)) as client:
            for path in ("/runs", "/runs/evil-run"):
                text = await (await client.get(path)).text()
                assert "<script>alert" not in text, path
                assert "<img src=x" not in text, path
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path
            bad = await client.get("/token/%3Cb%3Ex%3C%2Fb%3E")
            assert bad.status == 400
            body = await bad.text()
            assert "<b>x</b>" not in body
            assert "&lt;b&gt;x&lt;/b&gt;" in body
