"""A bot's fills as the server packs them into one binary value, read into numpy columns (the wire
format is ``_numeric_wire``'s)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["PG_EPOCH_US", "FillColumns", "fill_columns", "pg_time_to_ms"]

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in microseconds since the Unix epoch


@dataclass(frozen=True, slots=True)
class FillColumns:
    """A bot's fills as columns, oldest first: ``t`` (epoch ms), ``buy`` (True for a buy), ``price``,
    ``quantity``, ``fee`` (the stored decimals as their nearest float64) and ``reason`` (indices into
    ``reasons``, the distinct reasons present)."""

    t: npt.NDArray[np.int64]
    buy: npt.NDArray[np.bool_]
    price: npt.NDArray[np.float64]
    quantity: npt.NDArray[np.float64]
    fee: npt.NDArray[np.float64]
    reason: npt.NDArray[np.int64]
    reasons: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.t.shape[0])


def pg_time_to_ms(us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``timestamptz_send`` values (microseconds since 2000-01-01) as epoch milliseconds (floored)."""
    return (us.astype(np.int64) + PG_EPOCH_US) // 1000


def fill_columns(reasons: list[str], raw: bytes | None) -> FillColumns:
    """The fills of ``query_fill_columns`` from the query's reasons and packed rows.

    Raises:
        ValueError: a buffer that ends inside a row, or a reason index outside ``reasons``.
    """
    from algo_trade_data._numeric_wire import decode_rows  # numba: loaded by the reads that need it

    rows = decode_rows(raw, "tnnnii")  # time, price, quantity, fee, buy, reason
    index = rows.ints[:, 2] - 1
    if index.size and (index.min() < 0 or index.max() >= len(reasons)):
        raise ValueError(f"fills: reason index outside the {len(reasons)} reasons sent")
    return FillColumns(
        t=pg_time_to_ms(rows.ints[:, 0]),
        buy=rows.ints[:, 1] == 1,
        price=np.ascontiguousarray(rows.floats[:, 0]),
        quantity=np.ascontiguousarray(rows.floats[:, 1]),
        fee=np.ascontiguousarray(rows.floats[:, 2]),
        reason=index,
        reasons=tuple(reasons),
    )
