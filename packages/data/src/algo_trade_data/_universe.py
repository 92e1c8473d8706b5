"""The perp universe: ``meta`` / ``metaAndAssetCtxs`` answers parsed into typed assets, and name checks.

Names are exact and case-sensitive (``kPEPE``, not ``PEPE``); delisted coins stay in ``meta`` with
``isDelisted``. :func:`symbol_problems` explains unknown and delisted names and suggests the current
one (POL for MATIC, S for FTM, kPEPE for PEPE, a case fix for "btc").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from algo_trade_core import ExchangeError

__all__ = [
    "KNOWN_RENAMES",
    "PerpAsset",
    "PerpMarket",
    "parse_market",
    "parse_universe",
    "snippet",
    "symbol_problems",
]

# Coins Hyperliquid delisted in favour of a new ticker (HYPERLIQUID-API.md section 6).
KNOWN_RENAMES: dict[str, str] = {"MATIC": "POL", "FTM": "S", "RNDR": "RENDER"}

_SNIPPET = 300


def snippet(raw: bytes | str) -> str:
    """Return ``raw`` as one short line of text for an error message."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"


@dataclass(frozen=True, kw_only=True, slots=True)
class PerpAsset:
    """One entry of ``meta.universe``; ``index`` is the asset id (its position in the list)."""

    name: str
    index: int
    sz_decimals: int
    max_leverage: int
    is_delisted: bool = False
    only_isolated: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class PerpMarket:
    """A perp asset with its current context from ``metaAndAssetCtxs`` (all values exact decimals).

    ``day_ntl_vlm`` is the rolling 24 h notional volume in USDC; ``funding`` the current hourly rate.
    Fields the exchange sent as null (or did not send) are None.
    """

    asset: PerpAsset
    day_ntl_vlm: Decimal
    mark_px: Decimal | None = None
    mid_px: Decimal | None = None
    oracle_px: Decimal | None = None
    prev_day_px: Decimal | None = None
    funding: Decimal | None = None
    open_interest: Decimal | None = None
    premium: Decimal | None = None
    day_base_vlm: Decimal | None = None

    @property
    def name(self) -> str:
        return self.asset.name


def symbol_problems(symbols: Iterable[str], universe: Iterable[PerpAsset]) -> dict[str, str]:
    """Pure part of :meth:`HyperliquidClient.check_symbols`."""
    listed = {a.name for a in universe if not a.is_delisted}
    delisted = {a.name for a in universe if a.is_delisted} - listed
    by_lower = {name.lower(): name for name in listed}
    problems: dict[str, str] = {}
    for symbol in symbols:
        if symbol in listed:
            continue
        suggestion = _suggest(symbol, listed, by_lower)
        hint = f"; use {suggestion}" if suggestion else ""
        if symbol in delisted:
            problems[symbol] = f"{symbol} is delisted on Hyperliquid (isDelisted in meta){hint}"
        else:
            problems[symbol] = (
                f"{symbol} is not a Hyperliquid perp (names are exact and case-sensitive){hint}"
            )
    return problems


def _suggest(symbol: str, listed: set[str], by_lower: dict[str, str]) -> str | None:
    renamed = KNOWN_RENAMES.get(symbol.upper())
    if renamed in listed:
        return f"{renamed} (the successor of {symbol.upper()})"
    base = symbol[4:] if symbol.startswith("1000") else symbol
    for candidate in (f"k{base}", f"k{base.upper()}"):
        if candidate in listed:
            return f"{candidate} (quoted per 1000 tokens)"
    if symbol.lower() in by_lower:
        return by_lower[symbol.lower()]
    return None


def parse_universe(payload: Any, *, context: str) -> list[PerpAsset]:
    if not isinstance(payload, dict) or not isinstance(payload.get("universe"), list):
        raise ExchangeError(
            f"{context}: expected an object with a 'universe' array, got {snippet(repr(payload))}"
        )
    assets: list[PerpAsset] = []
    for index, entry in enumerate(payload["universe"]):
        if not isinstance(entry, dict):
            raise ExchangeError(f"{context}: universe[{index}] should be an object, got {entry!r}")
        name = entry.get("name")
        sz = entry.get("szDecimals")
        lev = entry.get("maxLeverage")
        if not isinstance(name, str) or not name:
            raise ExchangeError(
                f"{context}: universe[{index}].name should be a non-empty string, got {name!r}"
            )
        for key, value in (("szDecimals", sz), ("maxLeverage", lev)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ExchangeError(
                    f"{context}: universe[{index}] ({name}).{key} should be an int, got {value!r}"
                )
        assets.append(
            PerpAsset(
                name=name,
                index=index,
                sz_decimals=int(sz),  # type: ignore[arg-type]  # checked above
                max_leverage=int(lev),  # type: ignore[arg-type]
                is_delisted=entry.get("isDelisted") is True,
                only_isolated=entry.get("onlyIsolated") is True,
            )
        )
    return assets


def _ctx_decimal(ctx: dict[str, Any], key: str, *, where: str, required: bool = False) -> Decimal | None:
    raw = ctx.get(key)
    if raw is None:
        if required:
            raise ExchangeError(f"{where}: missing {key!r} (expected a decimal string)")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ExchangeError(f"{where}: {key!r} should be a decimal string, got {raw!r}")
    try:
        value = Decimal(raw if isinstance(raw, str) else repr(raw))
    except InvalidOperation:
        raise ExchangeError(f"{where}: {key!r} is not a number: {raw!r}") from None
    if not value.is_finite():
        raise ExchangeError(f"{where}: {key!r} is not a finite number: {raw!r}")
    return value


def parse_market(asset: PerpAsset, ctx: Any, *, context: str) -> PerpMarket:
    where = f"{context}: context of {asset.name} (#{asset.index})"
    if not isinstance(ctx, dict):
        raise ExchangeError(f"{where}: expected an object, got {ctx!r}")
    volume = _ctx_decimal(ctx, "dayNtlVlm", where=where, required=True)
    assert volume is not None  # required=True raised otherwise
    return PerpMarket(
        asset=asset,
        day_ntl_vlm=volume,
        mark_px=_ctx_decimal(ctx, "markPx", where=where),
        mid_px=_ctx_decimal(ctx, "midPx", where=where),
        oracle_px=_ctx_decimal(ctx, "oraclePx", where=where),
        prev_day_px=_ctx_decimal(ctx, "prevDayPx", where=where),
        funding=_ctx_decimal(ctx, "funding", where=where),
        open_interest=_ctx_decimal(ctx, "openInterest", where=where),
        premium=_ctx_decimal(ctx, "premium", where=where),
        day_base_vlm=_ctx_decimal(ctx, "dayBaseVlm", where=where),
    )
