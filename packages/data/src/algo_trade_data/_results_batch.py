"""Batched writes of backtest results: validation, the staging rows and the SQL.

:meth:`~algo_trade_data._db_results.ResultsMixin.insert_backtest_results_batch` copies the rows
(binary ``COPY``) into a temporary stage and moves them with one ``INSERT ... SELECT``. The stage
differs from ``backtest_results`` in two column kinds, both for the client's sake: ``parameters`` is
JSON text (asyncpg's text encoder is C code where a JSONB codec would call Python per row, and equal
parameter sets are serialised once) and the money columns are text (``str(Decimal)`` is exact, and
asyncpg's binary NUMERIC encoder costs 2.5x as much per value). The INSERT casts both back.

A sweep's results are new rows (their timestamp is the run's), so the INSERT runs without
``ON CONFLICT`` when a probe of the primary key finds no stored result at the batch's timestamps:
speculative insertion costs a fifth more server time per row. A result committed meanwhile by
another session fails that INSERT with a unique violation; it runs in a savepoint and the fallback
is the ``ON CONFLICT DO UPDATE`` statement, so the outcome is the same upsert either way.

Validation runs column by column over the whole batch; only when a column holds a bad value are the
records checked one by one, to name the first bad one exactly as a single insert would.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

import numpy as np

from algo_trade_core import DataError
from algo_trade_data._db_base import json_dumps
from algo_trade_data._records import BacktestResultRecord

__all__ = [
    "CREATE_STAGE",
    "INSERT_STAGED",
    "KEYS_STORED",
    "RESULT_COLUMNS",
    "RESULT_ROW",
    "UPSERT_STAGED",
    "checked_result",
    "stage_rows",
]

RESULT_COLUMNS = tuple(f.name for f in fields(BacktestResultRecord))
RESULT_ROW = operator.attrgetter(*RESULT_COLUMNS)
_KEY = ("timestamp", "symbol", "strategy_name", "params_hash")
_RATIO_FIELDS = ("sharpe_ratio", "sortino_ratio", "calmar_ratio", "win_rate", "exposure", "window_coverage")
_NULLABLE_RATIOS = ("calmar_ratio", "returns_skewness", "returns_kurtosis", "psr")
_REGIMES = (None, "low", "normal", "high")
_MONEY_FIELDS = ("total_return", "max_drawdown", "initial_capital", "final_capital", "buy_hold_return")
_TIME_FIELDS = ("timestamp", "backtest_window_start", "backtest_window_end")
_AT = {name: i for i, name in enumerate(RESULT_COLUMNS)}

_COLS = ", ".join(RESULT_COLUMNS)
_STAGED_COLS = ", ".join(
    "parameters::jsonb" if c == "parameters" else (f"{c}::numeric" if c in _MONEY_FIELDS else c)
    for c in RESULT_COLUMNS
)
CREATE_STAGE = (
    "CREATE TEMP TABLE _results_stage (LIKE backtest_results INCLUDING DEFAULTS) ON COMMIT DROP; "
    "ALTER TABLE _results_stage "
    + ", ".join(f"ALTER COLUMN {c} TYPE text" for c in ("parameters", *_MONEY_FIELDS))
)
INSERT_STAGED = f"INSERT INTO backtest_results ({_COLS}) SELECT {_STAGED_COLS} FROM _results_stage"  # noqa: S608 - identifiers are module constants
UPSERT_STAGED = f"{INSERT_STAGED} ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET " + ", ".join(
    f"{c} = EXCLUDED.{c}" for c in RESULT_COLUMNS if c not in _KEY
)
# Is any result stored at one of these run timestamps? (The primary key leads with timestamp.)
KEYS_STORED = "SELECT EXISTS (SELECT 1 FROM backtest_results WHERE timestamp = ANY($1::timestamptz[]))"


def checked_result(record: BacktestResultRecord, index: int, *, batch: bool = True) -> BacktestResultRecord:
    """Reject values the table cannot hold meaningfully, naming the record; inf profit factor → None."""

    def fail(problem: str) -> DataError:
        return DataError(
            f"backtest result {index + 1} ({record.symbol} {record.strategy_name} "
            f"params_hash={record.params_hash!r} at {record.timestamp.isoformat()}): {problem}"
            + ("; nothing of the batch was written" if batch else "")
        )

    for name in _TIME_FIELDS:
        value = getattr(record, name)
        if value.tzinfo is None:
            raise fail(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    for name in (*_RATIO_FIELDS, *_NULLABLE_RATIOS):
        value = getattr(record, name)
        if value is None and name in _NULLABLE_RATIOS:
            continue
        if not math.isfinite(value):
            raise fail(f"{name} is not a finite number ({value})")
    if record.regime not in _REGIMES:
        raise fail(f"regime must be one of low, normal, high or None, got {record.regime!r}")
    for name in _MONEY_FIELDS:
        value = getattr(record, name)
        if not _finite_number(value):
            raise fail(f"{name} is not a finite number ({value})")
    pf = record.profit_factor
    if pf is not None and math.isnan(pf):
        raise fail("profit_factor is NaN (use None for 'no losing trade')")
    if pf is not None and math.isinf(pf):
        return replace(record, profit_factor=None)  # DESIGN.md: infinite is stored as NULL
    return record


def _finite_number(value: object) -> bool:
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _columns_valid(columns: list[Sequence[Any]]) -> bool:
    """True when no record needs a closer look (no bad value, no infinite profit factor)."""
    if any(v.tzinfo is None for name in _TIME_FIELDS for v in columns[_AT[name]]):
        return False
    for name in (*_RATIO_FIELDS, *_NULLABLE_RATIOS, "profit_factor"):
        # None is valid for the nullable ratios and profit_factor; an infinite profit factor is replaced.
        values = [v for v in columns[_AT[name]] if v is not None]
        if not np.isfinite(np.asarray(values, dtype=np.float64)).all():
            return False
    if not set(columns[_AT["regime"]]) <= set(_REGIMES):
        return False
    return all(map(_finite_number, (v for name in _MONEY_FIELDS for v in columns[_AT[name]])))


def stage_rows(records: Sequence[BacktestResultRecord]) -> list[tuple[Any, ...]]:
    """Validate ``records`` and return the stage's row tuples, the last record of a repeated key winning.

    ON CONFLICT cannot touch one row twice in a statement, so a key appears once; it keeps the place
    of its last record.

    Raises:
        DataError: a record holds NaN/inf or a naive time (the message names the first such record).
    """
    if not records:
        return []
    columns: list[Sequence[Any]] = list(zip(*map(RESULT_ROW, records), strict=True))
    if not _columns_valid(columns):
        records = [checked_result(record, i) for i, record in enumerate(records)]
        columns = list(zip(*map(RESULT_ROW, records), strict=True))
    keys = list(zip(*(columns[_AT[name]] for name in _KEY), strict=True))
    if len(set(keys)) < len(keys):
        last = {key: i for i, key in enumerate(keys)}
        keep = sorted(last.values())
        columns = [[column[i] for i in keep] for column in columns]
    columns[_AT["parameters"]] = _parameter_texts(columns[_AT["params_hash"]], columns[_AT["parameters"]])
    for name in _MONEY_FIELDS:
        columns[_AT[name]] = [str(v) for v in columns[_AT[name]]]
    return list(zip(*columns, strict=True))


def _parameter_texts(hashes: Sequence[str], parameters: Sequence[Any]) -> list[str | None]:
    """JSON text of each record's parameters, serialised once per parameter set."""
    texts: dict[str, tuple[Any, str | None]] = {}
    out: list[str | None] = []
    for params_hash, params in zip(hashes, parameters, strict=True):
        cached = texts.get(params_hash)
        if cached is not None and (cached[0] is params or cached[0] == params):
            out.append(cached[1])
            continue
        text = None if params is None else json_dumps(params)
        texts[params_hash] = (params, text)
        out.append(text)
    return out
