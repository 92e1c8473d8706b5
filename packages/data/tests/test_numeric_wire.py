"""The binary row decoder against what the real PostgreSQL sends: every NUMERIC becomes the float64
nearest to its decimal (``float(Decimal(text))``, Python's correctly rounded parser), on the fast path
and off it; int8 and int4 fields keep their sign; a cut buffer is an error naming the row."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from algo_trade_data._binary_rows import pg_time_to_ms
from algo_trade_data._database import DatabaseClient
from algo_trade_data._numeric_wire import decode_rows

ROWS = """
SELECT string_agg(timestamptz_send(t) || numeric_send(a) || int4send(i) || numeric_send(b),
                  ''::bytea ORDER BY k)
FROM unnest($1::timestamptz[], $2::numeric[], $3::int4[], $4::numeric[]) WITH ORDINALITY AS r(t, a, i, b, k)
"""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def decimals(seed: int, n: int) -> list[str]:
    """Edge cases, then random decimals from 1 to 30 significant digits at exponents from -40 to 40."""
    rng = random.Random(seed)
    edge = [
        "0", "0.00000000", "1", "-2.5", "0.1", "0.3", "100.0691", "96543", "0.00012345", "1e-8",
        "9007199254740992", "9007199254740993", "90071992547409.93",  # 2**53 and just past it
        "1e22", "1e23", "1.5e-22", "1.5e-23",  # the edges of the exact powers of ten
        "0.30000000000000004", "100.08737614974763", "123456789012345678901234.5",
        "1.7976931348623157e308", "2.2250738585072014e-308", "5e-324", "1e-400", "NaN",
    ]  # fmt: skip
    out = list(edge)
    while len(out) < n:
        digits = rng.randint(1, 30)
        value = Decimal(rng.randrange(10**digits)).scaleb(rng.randint(-40, 40))
        out.append(str(-value if rng.random() < 0.1 else value))
    return out


async def test_numerics_decode_to_the_nearest_float_and_integers_keep_their_sign(db: DatabaseClient) -> None:
    a = decimals(1, 3_000)
    b = list(reversed(a))
    rng = random.Random(2)
    times = [EPOCH + timedelta(milliseconds=rng.randint(-(10**12), 4 * 10**12)) for _ in a]  # before 2000 too
    ints = [rng.randint(-(2**31), 2**31 - 1) for _ in a]
    async with db.pool.acquire() as conn:
        raw = await conn.fetchval(ROWS, times, [Decimal(x) for x in a], ints, [Decimal(x) for x in b])
    rows = decode_rows(raw, "tnin")
    expected = np.array([[float(Decimal(x)), float(Decimal(y))] for x, y in zip(a, b, strict=True)])
    same = (rows.floats == expected) | (np.isnan(rows.floats) & np.isnan(expected))
    bad = [
        (a[i], b[i], rows.floats[i].tolist(), expected[i].tolist()) for i in np.flatnonzero(~same.all(axis=1))
    ]
    assert not bad, bad[:5]
    assert pg_time_to_ms(rows.ints[:, 0]).tolist() == [
        (t - EPOCH) // timedelta(milliseconds=1) for t in times
    ]
    assert rows.ints[:, 1].tolist() == ints


async def test_a_cut_buffer_names_the_row_and_an_empty_one_has_no_rows(db: DatabaseClient) -> None:
    values = [Decimal("100.5"), Decimal("0.25"), Decimal("3")]
    async with db.pool.acquire() as conn:
        raw = await conn.fetchval(ROWS, [EPOCH] * 3, values, [1, 2, 3], values)
    assert decode_rows(raw, "tnin").floats[:, 0].tolist() == [100.5, 0.25, 3.0]
    for cut in (1, 5, len(raw) // 3 + 2):
        with pytest.raises(ValueError, match=r"ends inside row \d"):
            decode_rows(raw[:-cut], "tnin")
    with pytest.raises(ValueError, match="ends inside row 1"):
        decode_rows(raw[:10], "tnin")
    for empty in (None, b""):
        assert decode_rows(empty, "tnin").floats.shape == (0, 2)
    bad_sign = raw[:8] + raw[8:12] + b"\x12\x34" + raw[14:]  # the first NUMERIC's sign word
    with pytest.raises(ValueError, match="row 1 holds a NUMERIC with an unknown sign word"):
        decode_rows(bad_sign, "tnin")
