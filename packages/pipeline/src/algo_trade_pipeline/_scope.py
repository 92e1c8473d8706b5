"""The selection rule, defined once: rank the results of the parameter set the bots trade, at the sweep's
interval, over the configured universe.

The daemon, ``algo-trade sweep``, ``token-selection``, ``results latest`` and ``demo`` all build their
scope here, so with several parameter sets configured they rank the same results and approve the same
tokens. Options widen one part of the scope at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from algo_trade_core import AppConfig, parameter_set_hash, strategy_params
from algo_trade_token_selector import SelectionScope

if TYPE_CHECKING:
    from algo_trade_data import DatabaseClient

__all__ = ["optimised_scope", "selection_scope", "traded_parameter_set", "universe_of_latest_sweep"]


def traded_parameter_set(config: AppConfig, strategy: str | None = None) -> tuple[str, dict[str, Any]]:
    """Return ``(params_hash, parameters)`` of the parameter set the bots trade for ``strategy``.

    It is the first set configured for the strategy (``[scheduler] parameter_sets`` in order, else
    ``[scheduler] strategies`` with the ``[strategy.<name>]`` section); when the sweep does not run the
    strategy at all, the ``[strategy.<name>]`` section.

    Raises:
        ConfigError: a configured parameter set is invalid.
    """
    # The jobs module is pure (no engine): commands that only read results start without numba.
    from algo_trade_backtest_scheduler import jobs_from_config

    name = strategy or config.token_selection.strategy
    for job in jobs_from_config(config.scheduler, config.strategy):
        if job.strategy == name:
            return job.params_hash, job.params_dict()
    params = strategy_params(config, name)
    return parameter_set_hash(name, params), params


def selection_scope(
    config: AppConfig,
    *,
    strategy: str | None = None,
    params_hash: str | None = None,
    all_params: bool = False,
    interval: str | None = None,
    all_intervals: bool = False,
    symbols: Sequence[str] | None = None,
    all_symbols: bool = False,
) -> SelectionScope:
    """Return the results a selection ranks: the product's rule, widened where asked.

    Args:
        config: the configuration.
        strategy: default ``[token_selection] strategy``.
        params_hash: rank this parameter set instead of the one the bots trade.
        all_params: rank each token's latest result of any parameter set.
        interval: rank this interval instead of ``[scheduler] interval``.
        all_intervals: rank each token's latest result of any interval.
        symbols: the universe (default: ``[scheduler] token_universe`` in static mode; in top-volume
            mode the caller passes the sweep's universe, see :func:`universe_of_latest_sweep`).
        all_symbols: rank every token with a stored result.
    """
    name = strategy or config.token_selection.strategy
    if all_params:
        chosen_hash = None
    elif params_hash is not None:
        chosen_hash = params_hash
    else:
        chosen_hash = traded_parameter_set(config, name)[0]
    chosen_interval = None if all_intervals else (interval or config.scheduler.interval)
    universe: tuple[str, ...] | None
    if all_symbols:
        universe = None
    elif symbols is not None:
        universe = tuple(symbols)
    elif config.scheduler.universe_mode == "static":
        universe = tuple(config.scheduler.token_universe)
    else:  # top_volume without a known universe: every stored token
        universe = None
    return SelectionScope(strategy=name, params_hash=chosen_hash, interval=chosen_interval, symbols=universe)


def optimised_scope(
    config: AppConfig, *, interval: str | None = None, symbols: Sequence[str] | None = None
) -> SelectionScope:
    """The scope of a selection among per-token choices (``[optimisation] enabled``): each token's
    chosen strategy and parameter set from the latest optimisation, at the sweep's interval, over the
    universe (as :func:`selection_scope` takes it)."""
    from algo_trade_token_selector import OPTIMISED

    universe = selection_scope(config, symbols=symbols).symbols
    return SelectionScope(
        strategy=OPTIMISED, interval=interval or config.scheduler.interval, symbols=universe
    )


async def universe_of_latest_sweep(db: DatabaseClient) -> tuple[str, ...] | None:
    """Return the tokens of the newest finished sweep (its results and failures), or None without one.

    In top-volume mode the universe changes with the market; the daemon selects over the universe of
    the sweep it just ran, and a manual selection over the universe of the newest sweep, the same one.
    """
    for run in await db.list_runs(limit=10):
        if run.status == "running":
            continue
        symbols = {r.symbol for r in await db.query_run_results(run.run_id)}
        symbols |= {s for s in run.errors if s != "*"}
        return tuple(sorted(symbols))
    return None
