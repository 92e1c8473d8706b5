"""The vendored chart library is the pinned npm release, with its licence and the attribution it asks for."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from algo_trade_dashboard._security import CSP, LWC_ATTRIBUTION_STYLE

ROOT = Path(__file__).resolve().parents[3]
VENDOR = ROOT / "packages/dashboard/src/algo_trade_dashboard/static/vendor"
SCRIPT = ROOT / "scripts/vendor-js.sh"
JS = VENDOR / "lightweight-charts.standalone.production.js"


def recorded(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{SCRIPT} records no {name}"
    return match.group(1)


def test_the_committed_files_are_the_pinned_release() -> None:
    assert recorded("VERSION") == "5.2.1"
    assert hashlib.sha256(JS.read_bytes()).hexdigest() == recorded("SHA256_JS")
    assert hashlib.sha256((VENDOR / "LICENSE").read_bytes()).hexdigest() == recorded("SHA256_LICENSE")
    assert "TradingView Lightweight Charts™ v5.2.1" in JS.read_text()[:300]
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    notice = (VENDOR / "NOTICE").read_text()
    assert notice.startswith("TradingView Lightweight Charts\n")
    assert "https://www.tradingview.com/" in notice


def test_the_one_inline_style_allowed_is_the_librarys_attribution_stylesheet() -> None:
    match = re.search(r'createElement\("style"\),this\.\w+\.innerText="([^"]+)"', JS.read_text())
    assert match, "the attribution stylesheet moved: update LWC_ATTRIBUTION_STYLE"
    digest = base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()
    assert LWC_ATTRIBUTION_STYLE == f"'sha256-{digest}'"
    assert LWC_ATTRIBUTION_STYLE in CSP


def test_pages_keep_the_attribution_and_load_nothing_from_elsewhere() -> None:
    templates = ROOT / "packages/dashboard/src/algo_trade_dashboard/templates"
    base = (templates / "base.html").read_text()
    assert 'href="https://www.tradingview.com/"' in base
    for page in templates.glob("*.html"):
        for src in re.findall(r'(?:src|href)="(https?:[^"]+)"', page.read_text()):
            assert src == "https://www.tradingview.com/", f"{page.name} loads {src}: no CDN, works offline"
    assert "attributionLogo: true" in (JS.parent.parent / "dashboard.js").read_text()
