"""Config.toml and docs/configuration.md are generated from the config classes and cannot drift."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from algo_trade_core import (
    AppConfig,
    ParameterSet,
    QuadMaConfig,
    SchedulerConfig,
    SelectionCriteria,
    config_reference,
    config_to_dict,
    config_toml,
    dump_config,
    load_config,
    write_config,
)
from algo_trade_core._schema import field_specs

REPO = Path(__file__).resolve().parents[3]


def sections(cls: type[Any] = AppConfig, path: str = "") -> list[tuple[str, type[Any]]]:
    """Every table of the configuration with its dotted name (``strategy.quad_ma``)."""
    out = []
    for spec in field_specs(cls):
        if spec.is_section:
            name = f"{path}.{spec.name}" if path else spec.name
            out += [(name, spec.type), *sections(spec.type, name)]
    return out


def test_committed_config_file_is_the_generated_one() -> None:
    committed = (REPO / "config" / "Config.toml").read_text(encoding="utf-8")
    assert committed == config_toml(), (
        "config/Config.toml is stale: run `.venv/bin/algo-trade config init --stdout > config/Config.toml`"
    )


def test_committed_reference_is_the_generated_one() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == config_reference(), (
        "docs/configuration.md is stale: run `.venv/bin/algo-trade config reference > docs/configuration.md`"
    )


def test_every_key_is_explained_in_the_file_and_the_reference() -> None:
    text = config_toml()
    reference = config_reference()
    expected = config_to_dict(AppConfig())
    del expected["database"]["url"]  # its default follows $ALGO_TRADE_PGPORT: shown, commented out
    assert tomllib.loads(text) == expected
    assert "\n# url = " in text
    lines = text.splitlines()
    for name, cls in sections():
        assert f"## `[{name}]`" in reference
        for spec in field_specs(cls):
            assert spec.help.strip(), f"{name}.{spec.name} has no help text"
            if spec.is_section:
                continue
            assert f"| `{spec.name}` |" in reference
            # In the TOML, the key's line follows its comment: the help text, then what is allowed.
            index = lines.index(f"[{name}]")
            while not lines[index].startswith((f"{spec.name} = ", f"# {spec.name} = ")):
                index += 1
            start = index
            while lines[start - 1].startswith("# "):
                start -= 1
            comment = " ".join(line[2:] for line in lines[start:index])
            assert comment.startswith(spec.help), (name, spec.name, comment)
            allowed = spec.allowed()
            assert not allowed or comment.endswith(f"Allowed: {allowed}."), (name, spec.name, comment)


def test_reference_states_the_override_rule_and_the_server_section() -> None:
    reference = config_reference()
    assert "ALGO_TRADE__<SECTION>__<KEY>=value" in reference
    assert "ALGO_TRADE__STRATEGY__QUAD_MA__TREND=200" in reference
    assert "set ALGO_TRADE__SERVER__TOKEN" in reference
    assert "| `port` | integer | `8080` | >= 1 and &lt;= 65535 |" in reference
    assert "| `fallback_min_sharpe` | number | `0.0` |" in reference
    assert SelectionCriteria().fallback_min_sharpe == 0.0


def test_every_field_must_declare_help() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Undocumented:
        colour: str = "red"

    with pytest.raises(TypeError, match=r"Undocumented\.colour has no help text"):
        field_specs(Undocumented)


def test_written_file_keeps_comments_and_loads_back_equal(tmp_path: Path) -> None:
    cfg = replace(
        AppConfig(),
        scheduler=SchedulerConfig(
            cron_expression="*/30 * * * * mon-fri",
            token_universe=("BTC", 'we"ird', "kPEPE"),
            parameter_sets=(
                ParameterSet(strategy="quad_ma", params={"trend": 200, "volume_filter": False}),
                ParameterSet(strategy="ma_crossover", params={"fast": 5, "slow": 20}),
                ParameterSet(strategy="quad_ma"),
            ),
        ),
        strategy=replace(AppConfig().strategy, quad_ma=QuadMaConfig(short_1=3, take_profit=0.05)),
    )
    path = tmp_path / "out.toml"
    write_config(cfg, path)
    assert load_config(path, env={}) == cfg
    text = path.read_text(encoding="utf-8")
    assert text == dump_config(cfg)
    assert "# When sweeps run, in UTC" in text
    assert '\n    { strategy = "quad_ma", params = { trend = 200, volume_filter = false } },\n' in text
    assert "\nshort_1 = 3\n" in text
