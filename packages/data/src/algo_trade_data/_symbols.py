"""The exchange's naming of coins, checked before a name reaches the store, a file or a request.

Hyperliquid's names (HYPERLIQUID-API.md section 1; the recorded ``meta`` answers in
``hyperliquid-recorded/`` list only letters and digits, ``kPEPE`` style):

* perps: letters and digits, case-sensitive, with the ``k`` prefix for per-1000 quotes
  (``BTC``, ``kPEPE``, ``0G``); builder-deployed (HIP-3) perps carry their dex: ``xyz:TSLA``;
* spot: ``@107`` (by index) or ``PURR/USDC``.

Imported candles of other venues (``BTCUSDT``, ``1000PEPE``) follow the same letters-and-digits rule.
Anything else (spaces, quotes, semicolons, ``BTC'; DROP TABLE ohlcv;--``) is not a coin: it is
rejected with a message that names it, at import, fetch and every command that takes a symbol.
"""

from __future__ import annotations

import re

from algo_trade_core import DataError

__all__ = ["EXCHANGE", "MAX_SYMBOL_LENGTH", "SYMBOL_PATTERN", "check_symbol", "symbol_problem"]

# The ``exchange`` column of Hyperliquid's candles (here, not in ._candles, so that the store's
# modules can name it without importing polars).
EXCHANGE = "hyperliquid"

MAX_SYMBOL_LENGTH = 32
_NAME = r"[A-Za-z0-9]{1,24}"
# Also used by polars (Rust regex) to check whole columns at once.
SYMBOL_PATTERN = rf"^(?:(?:[a-z][a-z0-9]{{0,7}}:)?{_NAME}|@[0-9]{{1,6}}|{_NAME}/{_NAME})$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def symbol_problem(symbol: object) -> str | None:
    """Return why ``symbol`` is not a coin name in the exchange's naming, or None when it is."""
    if not isinstance(symbol, str):
        return f"expected a coin name (text), got {type(symbol).__name__} {symbol!r}"
    if len(symbol) > MAX_SYMBOL_LENGTH or not _SYMBOL_RE.fullmatch(symbol):
        shown = symbol if len(symbol) <= 60 else symbol[:60] + "…"
        return (
            f"{shown!r} is not a coin name: expected letters and digits as Hyperliquid names coins "
            "(BTC, kPEPE; a HIP-3 dex prefix like xyz:TSLA; spot @107 or PURR/USDC), "
            f"at most {MAX_SYMBOL_LENGTH} characters"
        )
    return None


def check_symbol(symbol: str, *, where: str = "symbol") -> str:
    """Return ``symbol`` when it follows the exchange's naming.

    Raises:
        DataError: it does not; the message names ``where`` (a file, an option) and the symbol.
    """
    problem = symbol_problem(symbol)
    if problem is not None:
        raise DataError(f"{where}: {problem}")
    return symbol
