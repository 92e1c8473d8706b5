"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium.

Every page loads against the database filled by real sweeps on real candles, its charts draw (their
canvases hold non-background pixels, read back in the browser), the browser logs no JavaScript error
(a Content-Security-Policy violation is one), the nav bar and links lead where they say, and a token is
required on a non-loopback address. A screenshot of each page goes to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1440,1800",
)
# Counts the pixels of a chart's canvases that differ from the chart's background (#161d26).
COUNT_PIXELS = """
const el = arguments[0];
let drawn = 0, total = 0;
for (const canvas of el.querySelectorAll('canvas')) {
  if (!canvas.width || !canvas.height) continue;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < data.length; i += 4) {
    total++;
    if (data[i + 3] === 0) continue;
    if (Math.abs(data[i] - 0x16) + Math.abs(data[i + 1] - 0x1d) + Math.abs(data[i + 2] - 0x26) > 24) drawn++;
  }
}
return [drawn, total];
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(
            f"headless Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}): `make test` installs "
            "Debian's chromium and chromium-driver when it runs as root"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="algo-trade-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_until(driver: Any, condition: Any, timeout: float = 30.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def errors_in_console(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def charts_drawn(driver: Any) -> bool:
    charts = driver.find_elements("css selector", "[data-chart]")
    return all(c.get_attribute("data-rendered") for c in charts)


def open_page(driver: Any, url: str, name: str) -> dict[str, Any]:
    """Load ``url``, wait for every chart, check the console; save a screenshot; return the charts."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    wait_until(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    wait_until(driver, charts_drawn)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1440, max(900, min(int(height) + 40, 6000)))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.set_window_size(1440, 1800)
    errors = errors_in_console(driver)
    assert errors == [], f"{name}: JavaScript errors in the console: {errors}"
    charts = {}
    for chart in driver.find_elements("css selector", "[data-chart]"):
        state = chart.get_attribute("data-rendered")
        drawn, total = driver.execute_script(COUNT_PIXELS, chart)
        charts[chart.get_attribute("data-chart")] = {"state": state, "drawn": drawn, "total": total}
    return charts


def assert_drawn(charts: dict[str, Any], *kinds: str) -> None:
    for kind in kinds:
        chart = charts[kind]
        assert chart["state"] == "true", (kind, chart)
        # Candles, lines and axes cover thousands of pixels; an empty chart has only its grid lines.
        assert chart["drawn"] > 0.01 * chart["total"], (kind, chart)


def test_every_page_loads_with_its_charts_and_no_console_error(
    browser: Any, served: Any, market: Any
) -> None:
    base = served.url
    overview = open_page(browser, base + "/", "overview")
    assert overview == {}
    heading = browser.find_element("css selector", "section h2").text
    assert heading.startswith("Last sweep".upper()) or "Last sweep" in browser.page_source
    assert market.run_ids[-1][:8] in browser.page_source or "Last sweep" in browser.page_source

    selection = open_page(browser, base + "/selection", "selection")
    assert selection == {}
    rows = browser.find_elements("css selector", "table.audit tbody tr")
    assert len(rows) == len(market.tokens)
    assert browser.find_elements("css selector", "td.check.fail"), "no failed criterion is shown"
    assert browser.find_elements("css selector", "table.strip td.c.approved"), "the strip shows no approval"

    approved = browser.find_element("css selector", "table.audit tr.approved td a").text
    token = open_page(browser, f"{base}/token/{approved}", "token")
    assert_drawn(token, "token", "history")
    assert (
        "reproduces the stored result"
        in browser.find_element("css selector", '[data-chart-note="token"]').text
    )
    assert browser.find_elements("css selector", '[data-trades="token"] tbody tr')

    bots = open_page(browser, base + "/bots", "bots")
    assert bots == {}
    live = browser.find_element("css selector", "table[data-live-bots]")
    wait_until(browser, lambda d: live.get_attribute("data-live-updates"))  # the first server-sent event
    bot = open_page(browser, f"{base}/bots/{market.traded_bot}", "bot")
    assert_drawn(bot, "bot", "live")
    assert "live bar(s) from" in browser.find_element("css selector", '[data-chart-note="live"]').text
    reconciliation = browser.find_element("css selector", "table[data-reconciliation]").text
    assert "exact" in reconciliation  # a paper bot fed every bar is its backtest
    assert browser.find_element("css selector", "table[data-envelope] .badge").text in ("ok", "failed")
    assert not browser.find_element("css selector", '[data-chart-note="bot"]').text.startswith("0 fill")

    runs = open_page(browser, base + "/runs", "runs")
    assert runs == {}
    assert len(browser.find_elements("css selector", "table.grid tbody tr")) == len(market.run_ids)
    open_page(browser, f"{base}/runs/{market.run_ids[-1]}", "run")
    studies = open_page(browser, base + "/walkforward", "walkforwards")
    assert studies == {}
    assert len(browser.find_elements("css selector", "table.studies tbody tr a")) == 1
    study = open_page(browser, f"{base}/walkforward/{market.walkforward_id}", "walkforward")
    assert_drawn(study, "walkforward")
    assert (
        "period(s) with an IC" in browser.find_element("css selector", '[data-chart-note="walkforward"]').text
    )
    assert len(browser.find_elements("css selector", "table.periods tbody tr")) == 4

    browser.get(base + "/token/NOPE")
    assert "no token 'NOPE'" in browser.find_element("css selector", ".error-page").text
    browser.save_screenshot(str(ARTIFACTS / "not-found.png"))


def test_navigation_between_pages(browser: Any, served: Any, market: Any) -> None:
    base = served.url
    browser.get_log("browser")  # drop what earlier tests logged (their 404 page on purpose)
    browser.get(base + "/")
    wait_until(browser, charts_drawn)
    for label, path, title in (
        ("Selection audit", "/selection", "Selection audit"),
        ("Bots", "/bots", "Bots"),
        ("Runs", "/runs", "Backtest runs"),
        ("Walk-forward", "/walkforward", "Walk-forward studies"),
        ("Overview", "/", None),
    ):
        browser.find_element("link text", label).click()
        wait_until(browser, lambda d, p=path: d.current_url == base + p)
        assert browser.find_element("css selector", "nav a.on").text == label
        if title is not None:
            assert browser.find_element("tag name", "h1").text.startswith(title)
    # From the overview's approved list to the token, from there to one of its runs, and back.
    link = browser.find_element("css selector", "main table.grid tbody tr td:nth-child(2) a")
    symbol = link.text
    link.click()
    wait_until(browser, lambda d: d.current_url == f"{base}/token/{symbol}")
    wait_until(browser, charts_drawn)
    assert browser.find_element("tag name", "h1").text.startswith(symbol)
    browser.find_element("css selector", "a[href^='/runs/']").click()
    wait_until(browser, lambda d: "/runs/" in d.current_url)
    assert browser.find_element("tag name", "h1").text.startswith("Run ")
    browser.back()
    wait_until(browser, lambda d: d.current_url == f"{base}/token/{symbol}")
    # From the overview's "Last walk-forward" card to the study, and from the studies list to it.
    browser.get(base + "/")
    browser.find_element("css selector", "#last-walkforward a").click()
    wait_until(browser, lambda d: d.current_url == f"{base}/walkforward/{market.walkforward_id}")
    wait_until(browser, charts_drawn)
    assert (
        browser.find_element("css selector", "[data-chart=walkforward]").get_attribute("data-rendered")
        == "true"
    )
    assert browser.find_element("css selector", "nav a.on").text == "Walk-forward"
    browser.find_element("link text", "Walk-forward").click()
    wait_until(browser, lambda d: d.current_url == base + "/walkforward")
    browser.find_element("css selector", "table.studies tbody a").click()
    wait_until(browser, lambda d: d.current_url == f"{base}/walkforward/{market.walkforward_id}")
    assert errors_in_console(browser) == []


def test_turned_on_gates_show_as_failed_criteria(browser: Any, market: Any, threaded_server: Any) -> None:
    from dataclasses import replace

    gates = replace(market.config.token_selection, allowed_regimes=("normal", "high"), min_psr=0.4)
    with threaded_server(replace(market.config, token_selection=gates), clock=market.now) as server:
        open_page(browser, server.url + "/selection", "selection-gates")
        failed = [c.text for c in browser.find_elements("css selector", "table.audit td.check.fail")]
    assert "✗ low" in failed, failed
    header = browser.find_element("css selector", "table.audit thead").text
    assert any(text.startswith("✗ 0.") and "< 0.40" in text for text in failed), failed
    assert "regime ∈ normal, high" in header


def test_a_stopped_bot_shows_its_events_on_its_page_and_in_the_overviews_alerts(
    browser: Any, stopped: Any, threaded_server: Any
) -> None:
    with threaded_server(stopped.config, clock=stopped.now) as server:
        open_page(browser, server.url + "/", "overview-alerts")
        alerts = browser.find_element("css selector", "[data-alerts]").text
        assert "stop" in alerts
        assert stopped.bot_id in alerts
        bot = open_page(browser, f"{server.url}/bots/{stopped.bot_id}", "bot-stopped")
        assert_drawn(bot, "bot", "live")
        rows = browser.find_elements("css selector", "table[data-events] tbody tr")
        assert len(rows) == len(stopped.events)
        assert any("max_drawdown" in r.text for r in rows)


def own_address() -> str | None:
    """A non-loopback IPv4 address of this machine (``hostname -I``), or None."""
    hostname = shutil.which("hostname")
    if hostname is None:
        return None
    try:
        out = subprocess.run([hostname, "-I"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for address in out.split():
        if "." in address and not address.startswith("127."):
            try:
                with socket.socket() as s:  # can this machine bind it?
                    s.bind((address, 0))
            except OSError:
                continue
            return address
    return None


def test_a_non_loopback_bind_needs_the_token(
    browser: Any, market: Any, token_config: Any, threaded_server: Any
) -> None:
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to bind (hostname -I)")
    from algo_trade_core import ConfigError

    with pytest.raises(ConfigError, match="refuses to listen on"):
        threaded_server(market.config, host=address, clock=market.now)
    token = token_config.server.token
    with threaded_server(token_config, host=address, clock=market.now) as server:
        base = server.url
        assert base.startswith(f"http://{address}:")
        browser.delete_all_cookies()
        browser.get(base + "/selection")
        wait_until(browser, lambda d: "/login" in d.current_url)
        assert "needs its token" in browser.find_element("tag name", "h1").text
        field = browser.find_element("name", "token")
        field.send_keys("not-the-token-at-all-x")
        field.submit()
        wait_until(browser, lambda d: d.find_elements("css selector", ".login .warn"))
        assert "not the dashboard's token" in browser.find_element("css selector", ".login .warn").text
        assert browser.get_cookie("algo_trade_session") is None
        field = browser.find_element("name", "token")
        field.send_keys(token)
        field.submit()
        wait_until(browser, lambda d: d.current_url == base + "/selection")
        assert browser.find_element("tag name", "h1").text == "Selection audit"
        cookie = browser.get_cookie("algo_trade_session")
        assert cookie is not None
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
        assert token not in cookie["value"]
        browser.save_screenshot(str(ARTIFACTS / "after-login.png"))
        # The API answers with the session cookie too, and nothing without it.
        browser.get(base + "/api/overview")
        assert '"last_sweep"' in browser.page_source
        browser.delete_all_cookies()
        browser.get(base + "/api/overview")
        assert "needs its token" in browser.page_source
        browser.delete_all_cookies()
