"""The kernels' records built from typed settings, and one typed view of a strategy instance's state.

:class:`StrategyState` is the only place that reads or writes the kernel state from Python: the
engine (the open position and pending order after a run), the grid (per-thread scratch state) and
the :class:`~algo_trade_backtest.StrategyRunner` (everything, and its JSON form) all go through it.
:func:`kernel_bars` converts validated bars to the kernels' input: prices as floats, close and volume
as decimal units at the precision :func:`series_decimals` chooses (see ``_decimal``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from algo_trade_backtest import _decimal as D
from algo_trade_backtest import _kernels as K
from algo_trade_backtest._results import OpenPosition, side_name
from algo_trade_core import BacktestConfig, MaCrossoverConfig, QuadMaConfig, ms_to_datetime

__all__ = [
    "DecimalBars",
    "SeriesStats",
    "StrategyState",
    "close_windows",
    "execution_record",
    "kernel_bars",
    "params_record",
    "params_records",
    "ring_size",
    "series_decimals",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Records = npt.NDArray[np.void]
Bars = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
T = TypeVar("T", int, float)


def params_record(params: QuadMaConfig | MaCrossoverConfig) -> Records:
    """Pack validated parameters into a :data:`~algo_trade_backtest._kernels.PARAMS_DTYPE` record."""
    rec = np.zeros(1, dtype=K.PARAMS_DTYPE)
    r = rec[0]
    if isinstance(params, QuadMaConfig):
        factor = D.factor_fraction(params.volume_factor, params.long_2)
        r["kind"] = K.QUAD_MA
        r["short_1"] = params.short_1
        r["short_2"] = params.short_2
        r["long_1"] = params.long_1
        r["long_2"] = params.long_2
        r["trend"] = params.trend
        r["volume_filter"] = 1 if params.volume_filter else 0
        r["factor_num"] = factor.numerator
        r["factor_den"] = factor.denominator
        r["take_profit"] = params.take_profit
        r["stop_loss"] = params.stop_loss
        r["confirmation_bars"] = params.reversal_confirmation_bars
    else:
        r["kind"] = K.MA_CROSSOVER
        r["short_1"] = params.fast
        r["short_2"] = params.slow
        r["factor_den"] = 1
    return rec


_CLOSE_WINDOWS = ("short_1", "short_2", "long_1", "long_2", "trend")


@lru_cache(maxsize=1024)
def _factor(volume_factor: float, long_2: int) -> tuple[int, int]:
    factor = D.factor_fraction(volume_factor, long_2)
    return factor.numerator, factor.denominator


def params_records(configs: Sequence[QuadMaConfig | MaCrossoverConfig]) -> Records:
    """:func:`params_record` of many parameter sets at once, column by column (equal to concatenating
    them; a grid of thousands of sets spends no Python time per set and field)."""
    rec = np.zeros(len(configs), dtype=K.PARAMS_DTYPE)
    quad_rows = [k for k, c in enumerate(configs) if isinstance(c, QuadMaConfig)]
    quad = [c for c in configs if isinstance(c, QuadMaConfig)]
    cross_rows = [k for k, c in enumerate(configs) if isinstance(c, MaCrossoverConfig)]
    cross = [c for c in configs if isinstance(c, MaCrossoverConfig)]
    if quad:
        factors = [_factor(float(c.volume_factor), c.long_2) for c in quad]
        columns: dict[str, list[Any]] = {
            "short_1": [c.short_1 for c in quad],
            "short_2": [c.short_2 for c in quad],
            "long_1": [c.long_1 for c in quad],
            "long_2": [c.long_2 for c in quad],
            "trend": [c.trend for c in quad],
            "volume_filter": [1 if c.volume_filter else 0 for c in quad],
            "factor_num": [f[0] for f in factors],
            "factor_den": [f[1] for f in factors],
            "take_profit": [c.take_profit for c in quad],
            "stop_loss": [c.stop_loss for c in quad],
            "confirmation_bars": [c.reversal_confirmation_bars for c in quad],
        }
        rows = np.asarray(quad_rows, dtype=np.intp)
        rec["kind"][rows] = K.QUAD_MA
        for name, values in columns.items():
            rec[name][rows] = values
    if cross:
        rows = np.asarray(cross_rows, dtype=np.intp)
        rec["kind"][rows] = K.MA_CROSSOVER
        rec["short_1"][rows] = [c.fast for c in cross]
        rec["short_2"][rows] = [c.slow for c in cross]
        rec["factor_den"][rows] = 1
    return rec


def execution_record(execution: BacktestConfig) -> Records:
    """Pack execution settings into an :data:`~algo_trade_backtest._kernels.EXECUTION_DTYPE` record."""
    rec = np.zeros(1, dtype=K.EXECUTION_DTYPE)
    rec[0]["capital"] = execution.initial_capital
    rec[0]["fee_rate"] = execution.fee_rate
    rec[0]["slippage"] = execution.slippage_bps / 10_000.0
    rec[0]["fraction"] = execution.position_fraction
    return rec


def close_windows(params: Records) -> tuple[int, ...]:
    """The close windows a parameter record uses, in the order of the state's ``sums``."""
    r = params[0]
    names = (
        ("short_1", "short_2", "long_1", "long_2", "trend")
        if r["kind"] == K.QUAD_MA
        else ("short_1", "short_2")
    )
    return tuple(int(r[name]) for name in names)


def _uses_volume(params: Records) -> bool:
    return bool(params[0]["kind"] == K.QUAD_MA and params[0]["volume_filter"])


def _budgets(params: Records) -> tuple[int, int]:
    r = params[0]
    close = D.close_budget(max(close_windows(params)))
    factor = Fraction(int(r["factor_num"]), int(r["factor_den"]))
    volume = D.volume_budget(int(r["long_2"]), factor) if _uses_volume(params) else D.MAX_UNIT
    return close, volume


def ring_size(params: Records) -> int:
    """The ring-buffer length for a parameter record: the next power of two >= its longest window."""
    longest = max(close_windows(params))
    return 1 << max(0, (longest - 1).bit_length())


class SeriesStats(NamedTuple):
    """What the choice of decimal precision needs to know about a window of bars."""

    close_needed: int
    close_max: float
    volume_needed: int
    volume_max: float

    @classmethod
    def of(cls, close: FloatArray, volume: FloatArray) -> SeriesStats:
        """Measure the close and volume series (one pass each)."""
        return cls(*D.scan(close), *D.scan(volume))

    def decimals(self, params: Records) -> tuple[int, int | None]:
        """Return the decimal precisions ``(close, volume)`` for a parameter record (volume ``None``
        when the parameters do not use it)."""
        r = params[0]
        uses_volume = bool(r["kind"] == K.QUAD_MA and r["volume_filter"])
        return self._decimals(
            max(close_windows(params)),
            uses_volume,
            int(r["long_2"]) if uses_volume else 0,
            int(r["factor_num"]) if uses_volume else 0,
            int(r["factor_den"]) if uses_volume else 1,
        )

    def decimals_of_rows(self, records: Records) -> list[tuple[int, int | None]]:
        """:meth:`decimals` of every row (each distinct budget is worked out once)."""
        quad = records["kind"] == K.QUAD_MA
        longest = np.where(
            quad,
            np.maximum.reduce([records[name] for name in _CLOSE_WINDOWS]),
            np.maximum(records["short_1"], records["short_2"]),
        )
        uses = quad & (records["volume_filter"] != 0)
        keys = zip(
            longest.tolist(),
            uses.tolist(),
            np.where(uses, records["long_2"], 0).tolist(),
            np.where(uses, records["factor_num"], 0).tolist(),
            np.where(uses, records["factor_den"], 1).tolist(),
            strict=True,
        )
        seen: dict[tuple[int, bool, int, int, int], tuple[int, int | None]] = {}
        return [seen[k] if k in seen else seen.setdefault(k, self._decimals(*k)) for k in keys]

    def _decimals(
        self, longest: int, uses_volume: bool, long_2: int, num: int, den: int
    ) -> tuple[int, int | None]:
        close_budget = D.close_budget(longest)
        dc = D.choose_decimals(self.close_needed, self.close_max, close_budget)
        if not uses_volume:
            return dc, None
        volume_budget = D.volume_budget(long_2, Fraction(num, den))
        return dc, D.choose_decimals(self.volume_needed, self.volume_max, volume_budget)


def series_decimals(close: FloatArray, volume: FloatArray, params: Records) -> tuple[int, int | None]:
    """Return the decimal precisions ``(close, volume)`` of a window of bars for a parameter record
    (volume ``None`` when the parameters do not use it)."""
    return SeriesStats.of(close, volume).decimals(params)


class DecimalBars(NamedTuple):
    """Bars for the kernels and the decimal precisions of their units."""

    kernel: K.KernelBars
    close_decimals: int
    volume_decimals: int


def kernel_bars(bars: Bars, close_decimals: int, volume_decimals: int | None) -> DecimalBars:
    """Return validated bars for the kernels with close and volume in decimal units.

    ``volume_decimals`` ``None``: the volume is not used (its units are zeros).
    """
    ts, o, h, lo, c, v = bars
    if volume_decimals is None:
        volume_units, volume_decimals = np.zeros(v.shape[0], dtype=np.int64), 0
    else:
        volume_units = D.to_units(v, volume_decimals)
    kernel = K.KernelBars(ts, o, h, lo, c, D.to_units(c, close_decimals), volume_units)
    return DecimalBars(kernel, close_decimals, volume_decimals)


class _Field(Generic[T]):
    """A typed scalar field of the state record."""

    def __init__(self, kind: Callable[[Any], T]) -> None:
        self._kind: Callable[[Any], T] = kind
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, obj: StrategyState, objtype: type | None = None) -> T:
        value: T = self._kind(obj.fields[self._name].item(0))
        return value

    def __set__(self, obj: StrategyState, value: T) -> None:
        obj.fields[self._name][0] = value


_SCALARS = tuple(name for name in K.STATE_DTYPE.names or () if name != "sums")


class StrategyState:
    """One strategy instance's kernel state, read and written by name (see the module docstring).

    Money is in floats (``cash``, ``qty`` signed: > 0 long, < 0 short, prices); ``position`` is -1, 0
    or 1 and ``pending`` the order for the next open; averages are kept as exact window ``sums`` of
    decimal units at ``close_decimals`` / ``volume_decimals`` in the ring buffers.
    """

    cash = _Field(float)
    qty = _Field(float)
    entry_price = _Field(float)
    entry_fee = _Field(float)
    take_profit = _Field(float)
    stop_loss = _Field(float)
    gross_profit = _Field(float)
    gross_loss = _Field(float)
    equity = _Field(float)
    last_close = _Field(float)
    first_open = _Field(float)
    position = _Field(int)
    entry_time = _Field(int)
    entry_index = _Field(int)
    pending = _Field(int)
    bars = _Field(int)
    exposed = _Field(int)
    num_trades = _Field(int)
    winners = _Field(int)
    prev_cross = _Field(int)
    reversal_count = _Field(int)
    last_time = _Field(int)
    num_fills = _Field(int)
    close_decimals = _Field(int)
    volume_decimals = _Field(int)

    def __init__(self, kernel: K.KernelState, params: Records) -> None:
        self.kernel = kernel
        self.params = params
        # One-element views of each field of the record: the fastest way to read a scalar of it.
        self.fields = {name: kernel.record[name] for name in _SCALARS}
        self._uses_volume = _uses_volume(params)
        self._budgets = _budgets(params)

    @classmethod
    def new(cls, params: Records, capital: float, ring: int | None = None) -> StrategyState:
        """Return a flat instance with ``capital`` in cash (``ring``: a larger ring length to share)."""
        size = ring_size(params) if ring is None else ring
        kernel = K.KernelState(
            np.zeros(1, dtype=K.STATE_DTYPE), np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        )
        state = cls(kernel, params)
        state.cash = state.equity = capital
        return state

    @property
    def record(self) -> Records:
        """The state record (an array of one) the kernels update in place."""
        return self.kernel.record

    @property
    def sums(self) -> tuple[int, ...]:
        """The exact window sums of units: short_1, short_2, long_1, long_2, trend (close), volume."""
        return tuple(int(x) for x in self.record[0]["sums"])

    def open_position(self, *, has_exits: bool) -> OpenPosition | None:
        """The open position marked at the last close, or ``None`` when flat."""
        side = self.position
        if side == 0:
            return None
        qty = abs(self.qty)
        entry = self.entry_price
        mark = self.last_close
        gross = qty * (mark - entry) if side > 0 else qty * (entry - mark)
        return OpenPosition(
            side=side_name(side),
            entry_time=ms_to_datetime(self.entry_time),
            entry_index=self.entry_index,
            entry_price=entry,
            qty=qty,
            entry_fee=self.entry_fee,
            mark_price=mark,
            unrealized_pnl=gross - self.entry_fee,
            take_profit=self.take_profit if has_exits else None,
            stop_loss=self.stop_loss if has_exits else None,
        )

    def reset_account(self, capital: float) -> None:
        """Go flat with ``capital`` and no trades, keeping the averages and the bar count."""
        for name in (
            "qty",
            "entry_price",
            "entry_fee",
            "take_profit",
            "stop_loss",
            "gross_profit",
            "gross_loss",
            "position",
            "entry_time",
            "entry_index",
            "pending",
            "exposed",
            "num_trades",
            "winners",
            "reversal_count",
            "num_fills",
        ):
            self.record[0][name] = 0
        self.cash = self.equity = capital

    # ----------------------------------------------------------------------------------------------
    # Decimal precision of the units held

    def bar_units(self, close: float, volume: float) -> tuple[int, int] | None:
        """Return the units of one new bar when it fits the held precision (the usual case for a
        live bar), else ``None`` (then use :meth:`units_for`, which rescales)."""
        close_budget, volume_budget = self._budgets
        cu = _unit_if_fits(close, self.close_decimals, D.unit_limit(close_budget))
        if cu is None:
            return None
        if not self._uses_volume:
            return cu, 0
        vu = _unit_if_fits(volume, self.volume_decimals, D.unit_limit(volume_budget))
        return None if vu is None else (cu, vu)

    def units_for(self, close: FloatArray, volume: FloatArray) -> tuple[IntArray, IntArray]:
        """Return the units of new bars, first rescaling the held units if the bars need it.

        The precision grows to fit new values with more decimals, and shrinks (rounding the held
        units) only when values grow so large that the budget no longer allows it (see ``_decimal``).
        """
        close_budget, volume_budget = self._budgets
        dc = self._fit(self.close_decimals, self.kernel.ring_close, close, close_budget)
        dv = self.volume_decimals
        if self._uses_volume:
            dv = self._fit(dv, self.kernel.ring_volume, volume, volume_budget)
        if (dc, dv) != (self.close_decimals, self.volume_decimals):
            self._rescale(dc, dv)
        volume_units = D.to_units(volume, dv) if self._uses_volume else np.zeros(len(volume), np.int64)
        return D.to_units(close, dc), volume_units

    @staticmethod
    def _fit(current: int, ring: IntArray, values: FloatArray, budget: int) -> int:
        needed = max(current, D.needed_decimals(values))
        held = Fraction(int(ring.max()), 1) / Fraction(10) ** current if ring.size else Fraction(0)
        return D.choose_decimals(needed, max(held, Fraction(float(np.max(values)))), budget)

    def _rescale(self, close_decimals: int, volume_decimals: int) -> None:
        ring_c, ring_v = self.kernel.ring_close, self.kernel.ring_volume
        ring_c[:] = _shift_units(ring_c, close_decimals - self.close_decimals)
        ring_v[:] = _shift_units(ring_v, volume_decimals - self.volume_decimals)
        self.close_decimals = close_decimals
        self.volume_decimals = volume_decimals
        self.recompute_sums()

    def recompute_sums(self) -> None:
        """Set the window sums from the ring buffers (exact: they hold every value still in a window)."""
        g = self.bars
        mask = self.kernel.ring_close.shape[0] - 1
        sums = [0] * K.NUM_SUMS
        for k, period in enumerate(close_windows(self.params)):
            idx = np.arange(max(0, g - period), g) & mask
            sums[k] = int(self.kernel.ring_close[idx].sum())
        if _uses_volume(self.params):
            idx = np.arange(max(0, g - int(self.params[0]["long_2"])), g) & mask
            sums[5] = int(self.kernel.ring_volume[idx].sum())
        self.record[0]["sums"] = sums

    # ----------------------------------------------------------------------------------------------
    # JSON

    def to_json(self) -> dict[str, Any]:
        """Return the state as JSON data (floats round-trip exactly through JSON, units are ints)."""
        rec = self.record[0]
        return {
            "state": {name: rec[name].item() for name in _SCALARS},
            "sums": list(self.sums),
            "ring_close": self.kernel.ring_close.tolist(),
            "ring_volume": self.kernel.ring_volume.tolist(),
        }

    def load_json(self, data: Any) -> None:
        """Load :meth:`to_json` output into this (freshly allocated) state.

        Raises:
            ValueError: a field is missing or unknown, or a ring has the wrong length.
        """
        fields = data["state"]
        if set(fields) != set(_SCALARS):
            missing = sorted(set(_SCALARS) - set(fields))
            unknown = sorted(set(fields) - set(_SCALARS))
            raise ValueError(f"runner state: state fields missing {missing}, unknown {unknown}")
        for name in _SCALARS:
            self.record[0][name] = fields[name]
        self.record[0]["sums"] = _ints("sums", data["sums"], K.NUM_SUMS)
        self.kernel.ring_close[:] = _ints("ring_close", data["ring_close"], self.kernel.ring_close.shape[0])
        self.kernel.ring_volume[:] = _ints(
            "ring_volume", data["ring_volume"], self.kernel.ring_volume.shape[0]
        )

    def load_v1(self, data: Any) -> None:
        """Load a state saved by format 1 (float and int slot lists, rings of float prices).

        The averages are rebuilt in decimal units from the rings (format 1 kept binary double-double
        sums); every other value carries over.
        """
        floats = np.asarray(data["float_state"], dtype=np.float64)
        ints = np.asarray(data["int_state"], dtype=np.int64)
        size = self.kernel.ring_close.shape[0]
        for name, values, expected in (("float_state", floats, 50), ("int_state", ints, 16)):
            if values.shape != (expected,):
                raise ValueError(f"runner state: {name} has {values.size} values, expected {expected}")
        rings = {}
        for name in ("ring_close", "ring_volume"):
            values = np.asarray(data[name], dtype=np.float64)
            if values.shape != (size,):
                raise ValueError(f"runner state: {name} has {values.size} values, expected {size}")
            rings[name] = values
        for slot, name in enumerate(_V1_FLOATS):
            self.record[0][name] = floats[slot]
        for slot, name in enumerate(_V1_INTS):
            self.record[0][name] = ints[slot]
        close_budget, volume_budget = _budgets(self.params)
        ring_c, ring_v = rings["ring_close"], rings["ring_volume"]
        dc = D.choose_decimals(D.needed_decimals(ring_c), float(ring_c.max()), close_budget)
        dv = D.choose_decimals(D.needed_decimals(ring_v), float(ring_v.max()), volume_budget)
        self.close_decimals, self.volume_decimals = dc, dv
        self.kernel.ring_close[:] = D.to_units(ring_c, dc)
        self.kernel.ring_volume[:] = D.to_units(ring_v, dv)
        self.recompute_sums()


# Format 1's slot layout (float_state and int_state indices).
_V1_FLOATS = (
    "cash",
    "qty",
    "entry_price",
    "entry_fee",
    "take_profit",
    "stop_loss",
    "gross_profit",
    "gross_loss",
    "equity",
    "last_close",
    "first_open",
)
_V1_INTS = (
    "position",
    "entry_time",
    "entry_index",
    "pending",
    "bars",
    "exposed",
    "num_trades",
    "winners",
    "prev_cross",
    "reversal_count",
    "last_time",
    "num_fills",
)


def _ints(name: str, values: Any, length: int) -> IntArray:
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"runner state: {name} must be a list of integers")
    if len(values) != length:
        raise ValueError(f"runner state: {name} has {len(values)} values, expected {length}")
    return np.array(values, dtype=np.int64)


def _unit_if_fits(value: float, decimals: int, limit: int) -> int | None:
    """``value``'s unit at ``decimals`` when it has no more decimals and fits ``limit``, else ``None``.

    The same test as :func:`~algo_trade_backtest._decimal.needed_decimals` in plain floats: for such a
    value ``value * 10**decimals`` is within a rounding of the integer, which is its unit.
    """
    if not 0 <= decimals <= D.MAX_DECIMALS:
        return None
    scale = float(10**decimals)
    unit = round(value * scale)
    return unit if unit <= limit and unit / scale == value else None


def _shift_units(units: IntArray, digits: int) -> IntArray:
    """Units at ``digits`` more decimals (exact), or fewer (rounded half to even)."""
    if digits >= 0:
        return np.asarray(units * 10**digits, dtype=np.int64)
    if -digits > 18:  # a divisor beyond 2 * MAX_UNIT: every unit rounds to zero
        return np.zeros_like(units)
    divisor = 10**-digits
    q, r = np.divmod(units, divisor)
    up = (2 * r > divisor) | ((2 * r == divisor) & (q % 2 == 1))
    return np.asarray(q + up, dtype=np.int64)
