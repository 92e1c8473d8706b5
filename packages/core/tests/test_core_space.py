"""Parameter spaces: value lists and ranges, constraints with a count, bad spaces named at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from algo_trade_core import (
    ConfigError,
    MaCrossoverSpace,
    QuadMaSpace,
    ValueRange,
    expand_space,
    load_config,
    space_values,
)


def test_ranges_include_stop_and_round_float_steps() -> None:
    space = QuadMaSpace(
        short_1=ValueRange(start=2, stop=10, step=4),
        take_profit=ValueRange(start=0.01, stop=0.03, step=0.005),
    )
    values = space_values(space)
    assert values["short_1"] == (2, 6, 10)
    assert values["take_profit"] == (0.01, 0.015, 0.02, 0.025, 0.03)


def test_constraints_drop_invalid_combinations_and_count_them() -> None:
    expansion = expand_space("ma_crossover", MaCrossoverSpace(fast=(5, 10, 30), slow=(10, 30)))
    assert [(s["fast"], s["slow"]) for s in expansion.sets] == [(5, 10), (5, 30), (10, 30)]
    assert (expansion.combinations, expansion.dropped, expansion.size) == (6, 3, 3)
    quad = expand_space("quad_ma", QuadMaSpace())
    assert quad.size == 360
    assert quad.dropped == 72
    for s in quad.sets:
        assert s["short_1"] < s["short_2"] < s["long_1"] < s["long_2"] < s["trend"]


def test_contradictory_space_is_named_at_load(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[optimisation.quad_ma]\nlong_1 = [60]\nlong_2 = [50, 55]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    text = str(caught.value)
    assert "c.toml:3" in text
    assert "optimisation.quad_ma.long_2" in text
    assert "contradictory" in text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("short_1 = []", "optimisation.quad_ma.short_1: expected at least one value"),
        ("short_1 = {start = 5, stop = 2, step = 1}", "expected stop >= start"),
        ("short_1 = {start = 1, stop = 5, step = 0.5}", "expected whole numbers"),
        ("short_1 = {start = 1, stop = 5, step = 0}", "step: expected > 0"),
        ("stop_loss = [0.5, 2.0]", "optimisation.quad_ma.stop_loss: expected values < 1"),
        ("trend = [0]", "expected values >= 1"),
        ("short_1 = {start = 1, stop = 5}", "step: missing"),
        ("short_1 = 5", "expected a list of integers or a table"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[optimisation.quad_ma]\n{body}\n")
    with pytest.raises(ConfigError, match=expected):
        load_config(path, env={})


def test_empty_space_after_constraints_is_an_error_naming_the_section() -> None:
    with pytest.raises(ValueError, match=r"\[optimisation.ma_crossover\]: no parameter set"):
        expand_space("ma_crossover", MaCrossoverSpace(fast=(30,), slow=(10,)))
