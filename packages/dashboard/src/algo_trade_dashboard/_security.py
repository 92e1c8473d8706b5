"""Who may read the dashboard, and what a response may do in the browser.

- On a loopback address with no token configured, anyone on this machine may read it.
- With a token (``[server] token`` / ``ALGO_TRADE__SERVER__TOKEN``) every request needs it: as
  ``Authorization: Bearer <token>``, or the session cookie the login form sets (HttpOnly,
  SameSite=Strict, derived from the token by HMAC so that the cookie never holds the token itself).
  Tokens are compared in constant time.
- Binding to any other address without a token is refused before anything listens.
- Only GET and HEAD are served, plus the login form's POST: no endpoint writes anything.
- Every response carries a strict Content-Security-Policy (scripts and styles from this server only, no
  inline script), ``nosniff``, no framing and no referrer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from algo_trade_core import ConfigError

__all__ = [
    "SESSION_COOKIE",
    "auth_middleware",
    "check_bind",
    "is_loopback",
    "safe_next",
    "security_headers",
    "session_value",
    "token_matches",
]

SESSION_COOKIE = "algo_trade_session"
SESSION_DAYS = 30
_SESSION_CONTEXT = b"algo-trade dashboard session v1"
_READ_METHODS = frozenset({"GET", "HEAD"})
_OPEN_PATHS = ("/login", "/static/")  # the login form and its stylesheet need no token

# The one inline stylesheet allowed: the one lightweight-charts 5.2.1 injects for its TradingView
# attribution logo (kept on, as its licence asks). Its hash changes with the library's version; the
# browser tests fail on any CSP violation, so a new version cannot slip in without updating it.
LWC_ATTRIBUTION_STYLE = "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"
CSP = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {LWC_ATTRIBUTION_STYLE}; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Return whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # any other name may resolve to anything: treat it as reachable from outside


def check_bind(host: str, token: str) -> None:
    """Refuse to serve on a non-loopback address without a token.

    Raises:
        ConfigError: ``host`` is not a loopback address and ``token`` is empty.
    """
    if not token and not is_loopback(host):
        raise ConfigError(
            f"server.host: the dashboard refuses to listen on {host!r} without a token: any address but "
            "a loopback one (127.0.0.1, ::1, localhost) is reachable from other machines. Set "
            "ALGO_TRADE__SERVER__TOKEN (16+ characters), or bind to 127.0.0.1."
        )


def session_value(token: str) -> str:
    """Return the session cookie's value for ``token`` (an HMAC of it, never the token itself)."""
    return hmac.new(token.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    """Compare a presented token with the configured one in constant time."""
    return hmac.compare_digest(given.encode(), token.encode())


def _authorised(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and token_matches(value.strip(), token):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def safe_next(target: str | None) -> str:
    """Return ``target`` when it is a path on this server, else ``/`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def auth_middleware(token: str) -> Middleware:
    """Return the middleware that allows only reads, and only with ``token`` when one is set."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        method = request.method.upper()
        if method not in _READ_METHODS and not (method == "POST" and request.path == "/login"):
            raise web.HTTPMethodNotAllowed(method, sorted(_READ_METHODS), text="the dashboard is read-only")
        if not token or request.path.startswith(_OPEN_PATHS) or _authorised(request, token):
            return await handler(request)
        if request.path.startswith("/api/"):
            raise web.HTTPUnauthorized(
                text='{"error": {"status": 401, "message": "this dashboard needs its token: send '
                '`Authorization: Bearer <token>` or log in at /login"}}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="algo-trade dashboard"'},
            )
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")

    return middleware


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the same strict headers on every response, errors and files included."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
