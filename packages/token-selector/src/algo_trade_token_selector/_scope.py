"""Which stored results a selection ranks: a strategy and, normally, one parameter set, interval, universe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algo_trade_data import BacktestResultRecord

__all__ = ["SelectionScope"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SelectionScope:
    """The results a selection takes each token's latest from.

    The product's rule (the parameter set the bots trade, at the sweep's interval, over the configured
    universe) is built from configuration by ``algo_trade_pipeline.selection_scope``; a ``None`` field
    widens the scope to every stored value of it.

    Attributes:
        strategy: the strategy whose results are ranked.
        params_hash: only this parameter set; None for the latest result of any set.
        interval: only results on this bar interval; None for any interval.
        symbols: only these tokens; None for every token with a stored result.
    """

    strategy: str
    params_hash: str | None = None
    interval: str | None = None
    symbols: tuple[str, ...] | None = None

    def contains(self, record: BacktestResultRecord) -> bool:
        """Return whether ``record`` is one of the results this scope ranks."""
        return (
            record.strategy_name == self.strategy
            and (self.params_hash is None or record.params_hash == self.params_hash)
            and (self.interval is None or record.interval == self.interval)
            and (self.symbols is None or record.symbol in self.symbols)
        )

    def describe(self) -> str:
        """Return e.g. ``"quad_ma, parameter set 1a2b3c4d, 1m bars, 20 tokens"``."""
        params = (
            "every parameter set" if self.params_hash is None else f"parameter set {self.params_hash[:8]}"
        )
        if self.strategy == "optimised":  # token_selector.OPTIMISED: each token's own choice
            params = "each token's chosen strategy and parameter set (latest optimisation)"
        interval = "every interval" if self.interval is None else f"{self.interval} bars"
        if self.symbols is None:
            symbols = "every stored token"
        else:
            symbols = f"{len(self.symbols)} token{'' if len(self.symbols) == 1 else 's'}"
        if self.strategy == "optimised":
            return f"{params}, {interval}, {symbols}"
        return f"{self.strategy}, {params}, {interval}, {symbols}"

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "params_hash": self.params_hash,
            "interval": self.interval,
            "symbols": None if self.symbols is None else list(self.symbols),
        }
