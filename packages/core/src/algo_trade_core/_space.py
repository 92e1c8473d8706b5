"""Parameter spaces of the optimisation: value lists or ``{start, stop, step}`` ranges per parameter.

``[optimisation.quad_ma]`` and ``[optimisation.ma_crossover]`` (and a ``--space FILE`` in the same
format) give each strategy parameter a list of values or a range. The space is the product of those
values; the strategy's ordering constraints (``short_1 < short_2 < long_1 < long_2 < trend`` for
quad_ma, ``fast < slow`` for ma_crossover) drop the invalid combinations, and
:func:`expand_space` says how many it dropped. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from algo_trade_core._schema import failed_bounds, field_specs, setting

__all__ = [
    "MaCrossoverSpace",
    "QuadMaSpace",
    "SpaceExpansion",
    "ValueRange",
    "expand_space",
    "space_size",
    "space_values",
]

_INTEGER = frozenset(
    {"short_1", "short_2", "long_1", "long_2", "trend", "reversal_confirmation_bars", "fast", "slow"}
)
# The ordering constraints, as chains of parameters that must be strictly increasing.
CHAINS: dict[str, tuple[str, ...]] = {
    "quad_ma": ("short_1", "short_2", "long_1", "long_2", "trend"),
    "ma_crossover": ("fast", "slow"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueRange:
    """``{ start = 5, stop = 20, step = 5 }``: 5, 10, 15, 20 (``stop`` included when a step lands on it)."""

    start: float = setting(help="First value.")
    stop: float = setting(help="Last value; included when start + k * step lands on it.")
    step: float = setting(gt=0, help="Distance between consecutive values.")


def _decimals(value: float) -> int:
    exponent = Decimal(repr(value)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def range_values(spec: ValueRange, *, integer: bool) -> tuple[float | int, ...]:
    """The values of a range, rounded to the decimals of its start and step (no 0.30000000000000004).

    Raises:
        ValueError: an integer parameter with a fractional start or step, or ``stop < start``.
    """
    if spec.stop < spec.start:
        raise ValueError(f"expected stop >= start, got start {spec.start:g} and stop {spec.stop:g}")
    if integer and not (float(spec.start).is_integer() and float(spec.step).is_integer()):
        raise ValueError(f"expected whole numbers for an integer parameter, got {spec}")
    digits = max(_decimals(spec.start), _decimals(spec.step))
    count = math.floor((spec.stop - spec.start) / spec.step + 1e-9) + 1
    values = [round(spec.start + k * spec.step, digits) for k in range(count)]
    return tuple(int(v) for v in values) if integer else tuple(values)


def _values_check(integer: bool) -> Any:
    def check(value: Any) -> str | None:
        if isinstance(value, ValueRange):
            try:
                values = range_values(value, integer=integer)
            except ValueError as exc:
                return str(exc)
            return None if values else "expected a range with at least one value"
        return None if len(value) else "expected at least one value (a list or { start, stop, step })"

    return check


_INT = _values_check(True)
_FLOAT = _values_check(False)


@dataclass(frozen=True, kw_only=True, slots=True)
class QuadMaSpace:
    """The quad_ma values to try (the product, less the sets that break short_1 < short_2 < long_1 <
    long_2 < trend)."""

    short_1: tuple[int, ...] | ValueRange = setting((3, 5, 8), check=_INT, help="short_1 values.")
    short_2: tuple[int, ...] | ValueRange = setting((10, 13, 21), check=_INT, help="short_2 values.")
    long_1: tuple[int, ...] | ValueRange = setting((20, 34), check=_INT, help="long_1 values.")
    long_2: tuple[int, ...] | ValueRange = setting((50, 89), check=_INT, help="long_2 values.")
    trend: tuple[int, ...] | ValueRange = setting((100, 200), check=_INT, help="trend values.")
    volume_filter: tuple[bool, ...] = setting((True,), check=_INT, help="volume_filter values.")
    volume_factor: tuple[float, ...] | ValueRange = setting(
        (1.5,), check=_FLOAT, help="volume_factor values."
    )
    take_profit: tuple[float, ...] | ValueRange = setting(
        (0.01, 0.02, 0.03), check=_FLOAT, help="take_profit values."
    )
    stop_loss: tuple[float, ...] | ValueRange = setting((0.005, 0.01), check=_FLOAT, help="stop_loss values.")
    reversal_confirmation_bars: tuple[int, ...] | ValueRange = setting(
        (2,), check=_INT, help="reversal_confirmation_bars values."
    )

    def check(self) -> list[tuple[str, str]]:
        return _space_problems("quad_ma", self)


@dataclass(frozen=True, kw_only=True, slots=True)
class MaCrossoverSpace:
    """The ma_crossover values to try (the product, less the sets with fast >= slow)."""

    fast: tuple[int, ...] | ValueRange = setting((5, 8, 13, 21), check=_INT, help="fast values.")
    slow: tuple[int, ...] | ValueRange = setting((21, 34, 55, 89, 144), check=_INT, help="slow values.")

    def check(self) -> list[tuple[str, str]]:
        return _space_problems("ma_crossover", self)


def space_values(space: QuadMaSpace | MaCrossoverSpace) -> dict[str, tuple[Any, ...]]:
    """Each parameter's values, ranges expanded, duplicates removed, sorted.

    Raises:
        ValueError: a range that cannot be expanded (see :func:`range_values`).
    """
    out: dict[str, tuple[Any, ...]] = {}
    for spec in field_specs(type(space)):
        raw = getattr(space, spec.name)
        integer = spec.name in _INTEGER
        values = range_values(raw, integer=integer) if isinstance(raw, ValueRange) else tuple(raw)
        out[spec.name] = tuple(sorted(set(values)))
    return out


def space_size(space: QuadMaSpace | MaCrossoverSpace) -> int:
    """The number of combinations before the constraints drop any."""
    return math.prod(len(v) for v in space_values(space).values())


def _space_problems(strategy: str, space: QuadMaSpace | MaCrossoverSpace) -> list[tuple[str, str]]:
    """Values outside the parameter's bounds, and a chain no combination can satisfy."""
    from algo_trade_core._config import MaCrossoverConfig, QuadMaConfig

    params_cls = QuadMaConfig if strategy == "quad_ma" else MaCrossoverConfig
    bounds = {spec.name: spec.bounds for spec in field_specs(params_cls)}
    try:
        values = space_values(space)
    except ValueError:  # a bad range: its key's own check reports it
        return []
    problems = []
    for name, options in values.items():
        for value in options:
            broken = failed_bounds(bounds[name], value) if not isinstance(value, bool) else ""
            if broken:
                problems.append((name, f"values {broken} (the {strategy} parameter's bounds), got {value!r}"))
                break
    # The chain is satisfiable iff picking, in order, the smallest value above the previous pick works.
    chain = CHAINS[strategy]
    previous = -math.inf
    for name in chain:
        above = [v for v in values[name] if v > previous]
        if not above:
            problems.append(
                (
                    name,
                    f"a value above {previous:g} so that {' < '.join(chain)} can hold; every combination "
                    "breaks it (contradictory space)",
                )
            )
            break
        previous = above[0]
    return problems


@dataclass(frozen=True, slots=True)
class SpaceExpansion:
    """A strategy's space as parameter sets: the valid ones, and how many the constraints dropped."""

    strategy: str
    sets: list[dict[str, Any]]
    combinations: int  # before the constraints
    dropped: int  # broke the ordering constraints

    @property
    def size(self) -> int:
        return len(self.sets)


def _valid(chain: Sequence[str], combo: dict[str, Any]) -> bool:
    return all(combo[a] < combo[b] for a, b in itertools.pairwise(chain))


def _combinations(values: dict[str, tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    names = list(values)
    for combo in itertools.product(*(values[n] for n in names)):
        yield dict(zip(names, combo, strict=True))


def expand_space(strategy: str, space: QuadMaSpace | MaCrossoverSpace) -> SpaceExpansion:
    """Return every parameter set of the space that keeps the strategy's ordering constraints.

    Raises:
        ValueError: the space is empty or contradictory (no combination is valid), naming the strategy.
    """
    values = space_values(space)
    chain = CHAINS[strategy]
    combinations = math.prod(len(v) for v in values.values())
    sets = [combo for combo in _combinations(values) if _valid(chain, combo)]
    if not sets:
        raise ValueError(
            f"[optimisation.{strategy}]: no parameter set of the space keeps {' < '.join(chain)} "
            f"({combinations} combination(s), every one dropped): widen the values"
        )
    return SpaceExpansion(strategy, sets, combinations, combinations - len(sets))


def space_fields(space: QuadMaSpace | MaCrossoverSpace) -> dict[str, Any]:
    """The space as a plain mapping (ranges as tables), for JSON and run records."""
    return {
        name: dataclasses.asdict(v) if isinstance(v, ValueRange) else list(v)
        for name, v in ((f.name, getattr(space, f.name)) for f in dataclasses.fields(space))
    }
