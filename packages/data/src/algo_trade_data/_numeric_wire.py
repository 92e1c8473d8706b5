"""Rows in PostgreSQL's binary wire format (int8, int4 and NUMERIC fields), decoded in one jitted pass.

A query concatenates per row the ``*send`` output of its fields and aggregates the rows into one
``bytea`` (``string_agg(... , ''::bytea)``); :func:`decode_rows` reads it back given the row's layout.
``timestamptz_send`` and ``int8send`` write a big-endian int8, ``int4send`` an int4, and
``numeric_send`` a NUMERIC as four big-endian int16 (``ndigits``, ``weight``, ``sign``, ``dscale``)
followed by ``ndigits`` base-10000 digits: the value is ``sum(digit[i] * 10000 ** (weight - i))``.
Sending NUMERICs this way costs the server less than printing them as text (no per-value formatting)
or casting them to float8 (which PostgreSQL 15 does by printing and re-parsing text), and the client
reads them without a text parser.

Exactness: each NUMERIC becomes the float64 nearest to its decimal, as a correctly rounded text parser
would give. A value whose digits form an integer ``M <= 2**53`` with a decimal exponent ``|E| <= 22``
(every exchange quote: Hyperliquid prices have at most 5 significant figures; fills are stored at 8
decimal places) is ``M * 10**E`` or ``M / 10**-E``, one IEEE operation on two exact operands, hence
correctly rounded (Clinger's fast path). Any other value is written out as decimal text and parsed by
polars' float parser, the one the candle read path uses, so both give the same float for every decimal.

Used for a bot's fills (8 decimal places: always the fast path). Candle windows stay on the CSV text
path (``_candle_read``): generated and imported candles often carry 17-digit floats, for which the
text fallback here is slower than polars' CSV parse of the whole window (40 ms against 11 ms for
43,200 bars of ``synthetic_candles``), while for exchange quotes the server time is the same.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import polars as pl
from numba import njit

__all__ = ["Rows", "decode_rows"]

F = TypeVar("F")


def _jit(fn: F) -> F:
    return cast(F, njit(cache=True, nogil=True, error_model="numpy")(fn))


_POW10 = np.array([float(10**k) for k in range(23)])  # exact doubles
_FAST_MAX = 2**53
_NUMERIC_POS, _NUMERIC_NEG, _NUMERIC_NAN = 0x0000, 0x4000, 0xC000
_NUMERIC_PINF, _NUMERIC_NINF = 0xD000, 0xF000
_INT8, _INT4, _NUMERIC = 0, 1, 2
_KINDS = {"t": _INT8, "i": _INT4, "n": _NUMERIC}
_SIZE = {_INT8: 8, _INT4: 4, _NUMERIC: 8}  # a NUMERIC's header; its digits come on top

# Error codes of the kernel (the row where it stopped is returned alongside).
_OK, _TRUNCATED, _BAD_SIGN = 0, 1, 2


@_jit
def _u16(buf: Any, pos: int) -> int:
    return (int(buf[pos]) << 8) | int(buf[pos + 1])


@_jit
def _decode_nb(
    buf: Any, layout: Any, ints: Any, floats: Any, slow_row: Any, slow_col: Any, text: Any, pow10: Any
) -> tuple[int, int, int, int]:
    """Rows of ``layout`` (field kinds) into ``ints`` (int8 and int4 fields, in order) and ``floats``
    (NUMERIC fields); NUMERICs off the fast path go to ``text`` as ``<digits>e<exp>\\n`` lines with
    their (row, column) in ``slow_row``/``slow_col``.

    Returns (error code, rows decoded, slow values, bytes of text).
    """
    n = buf.shape[0]
    pos, row, slow, tlen = 0, 0, 0, 0
    while pos < n:
        icol, col = 0, 0
        for kind in layout:
            if kind != _NUMERIC:
                width = 8 if kind == _INT8 else 4
                if pos + width > n:
                    return _TRUNCATED, row, slow, tlen
                v = 0
                for k in range(width):
                    v = (v << 8) | int(buf[pos + k])
                if width == 4 and v >= 0x80000000:
                    v -= 0x100000000
                ints[row, icol] = v  # an int8's two's complement carries through the int64 shifts
                icol += 1
                pos += width
                continue
            if pos + 8 > n:
                return _TRUNCATED, row, slow, tlen
            ndigits = _u16(buf, pos)
            weight = _u16(buf, pos + 2)
            if weight >= 0x8000:
                weight -= 0x10000
            sign = _u16(buf, pos + 4)
            pos += 8
            if pos + 2 * ndigits > n:
                return _TRUNCATED, row, slow, tlen
            if sign == _NUMERIC_NAN or sign == _NUMERIC_PINF or sign == _NUMERIC_NINF:
                floats[row, col] = (
                    np.nan if sign == _NUMERIC_NAN else (np.inf if sign == _NUMERIC_PINF else -np.inf)
                )
                col += 1
                continue
            if sign != _NUMERIC_POS and sign != _NUMERIC_NEG:
                return _BAD_SIGN, row, slow, tlen
            exp0 = 4 * (weight - ndigits + 1)
            exp = exp0
            fast = ndigits <= 4  # at most 16 decimal digits: the integer fits an int64
            m = 0
            if fast:
                for i in range(ndigits):
                    m = m * 10000 + _u16(buf, pos + 2 * i)
                if m > _FAST_MAX or exp < -22:  # trailing zeros may bring it into range
                    while m != 0 and exp < 0 and m % 10 == 0:
                        m //= 10
                        exp += 1
                fast = m == 0 or (m <= _FAST_MAX and -22 <= exp <= 22)
            if fast:
                if m == 0:
                    x = 0.0
                elif exp >= 0:
                    x = float(m) * pow10[int(exp)]
                else:
                    x = float(m) / pow10[int(-exp)]
                floats[row, col] = -x if sign == _NUMERIC_NEG else x
            else:
                floats[row, col] = np.nan
                slow_row[slow] = row
                slow_col[slow] = col
                slow += 1
                if sign == _NUMERIC_NEG:
                    text[tlen] = 45  # '-'
                    tlen += 1
                for i in range(ndigits):
                    d = _u16(buf, pos + 2 * i)
                    for scale in (1000, 100, 10, 1):
                        digit = (d // scale) % 10
                        text[tlen] = 48 + digit
                        tlen += 1
                text[tlen] = 101  # 'e'
                tlen += 1
                exp = exp0
                if exp < 0:
                    text[tlen] = 45
                    tlen += 1
                    exp = -exp
                width, rest = 1, exp // 10
                while rest:
                    width += 1
                    rest //= 10
                for k in range(width - 1, -1, -1):  # most significant digit first, no allocation
                    text[tlen + k] = 48 + exp % 10
                    exp //= 10
                tlen += width
                text[tlen] = 10  # '\n'
                tlen += 1
            pos += 2 * ndigits
            col += 1
        row += 1
    return _OK, row, slow, tlen


@dataclass(frozen=True, slots=True)
class Rows:
    """Decoded rows: ``ints`` (rows x the int8 and int4 fields, in layout order, as int64) and
    ``floats`` (rows x the NUMERIC fields, in layout order, as float64)."""

    ints: npt.NDArray[np.int64]
    floats: npt.NDArray[np.float64]


def decode_rows(raw: bytes | None, layout: str) -> Rows:
    """Decode rows whose fields are, in order, ``layout``'s letters: ``t`` an int8 (``int8send``,
    ``timestamptz_send``), ``i`` an int4 (``int4send``), ``n`` a NUMERIC (``numeric_send``).

    Raises:
        ValueError: a buffer that ends inside a row (names the row), or a NUMERIC with an unknown sign.
    """
    kinds = np.array([_KINDS[c] for c in layout], dtype=np.int64)
    n_int = int((kinds != _NUMERIC).sum())
    n_num = len(layout) - n_int
    buf = np.frombuffer(raw or b"", dtype=np.uint8)
    rows = buf.shape[0] // sum(_SIZE[int(k)] for k in kinds) + 1
    ints = np.empty((rows, n_int), dtype=np.int64)
    floats = np.empty((rows, n_num))
    slow_row = np.empty(rows * n_num, dtype=np.int64)
    slow_col = np.empty(rows * n_num, dtype=np.int64)
    text = np.empty(2 * buf.shape[0] + 16, dtype=np.uint8)
    code, n, slow, tlen = _decode_nb(buf, kinds, ints, floats, slow_row, slow_col, text, _POW10)
    if code == _TRUNCATED:
        raise ValueError(f"rows: the {buf.shape[0]}-byte buffer ends inside row {n + 1}")
    if code == _BAD_SIGN:
        raise ValueError(f"rows: row {n + 1} holds a NUMERIC with an unknown sign word")
    floats = floats[:n]
    if slow:
        parsed = pl.read_csv(
            io.BytesIO(text[:tlen].tobytes()), has_header=False, new_columns=["v"], schema={"v": pl.Float64()}
        )["v"].to_numpy()
        floats[slow_row[:slow], slow_col[:slow]] = parsed
    return Rows(ints[:n], floats)
