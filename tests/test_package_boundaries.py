"""What the packages promise each other: every exported name resolves, the product never imports the
test kit, and importing a library package loads none of its heavy dependencies until a name is used."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "algo_trade_core",
    "algo_trade_data",
    "algo_trade_backtest",
    "algo_trade_backtest_scheduler",
    "algo_trade_token_selector",
    "algo_trade_bot_orchestrator",
    "algo_trade_dashboard",
    "algo_trade_optimisation",
    "algo_trade_pipeline",
    "algo_trade_evaluation",
    "algo_trade_tracking",
    "algo_trade_cli",
)
TEST_KIT = "algo_trade_data.testing"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves(name: str) -> None:
    package = importlib.import_module(name)
    for export in package.__all__:
        assert getattr(package, export) is not None, f"{name}.{export}"
        assert export in dir(package), f"{name}.{export} missing from dir()"


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_product_module_imports_the_test_kit() -> None:
    kit = ROOT / "packages" / "data" / "src" / "algo_trade_data" / "testing"
    sources = [p for p in ROOT.glob("packages/*/src/**/*.py") if kit not in p.parents]
    assert len(sources) > 50
    offenders = {
        str(p.relative_to(ROOT)): names
        for p in sources
        if (names := [n for n in _imports(p) if n == TEST_KIT or n.startswith(f"{TEST_KIT}.")])
    }
    assert offenders == {}, "the product must not depend on the test kit"


@pytest.mark.parametrize(
    ("package", "heavy"),
    [
        ("algo_trade_data", ("aiohttp", "polars", "asyncpg", "numba")),
        ("algo_trade_backtest_scheduler", ("numba", "polars", "apscheduler", "aiohttp")),
        ("algo_trade_bot_orchestrator", ("numba", "polars", "aiohttp")),
        ("algo_trade_optimisation", ("numba", "polars", "distributed", "asyncpg")),
        # `walkforward list/show` and the dashboard read stored studies without the engine.
        ("algo_trade_evaluation._shapes", ("numba", "polars", "asyncpg", "aiohttp")),
    ],
)
def test_importing_a_package_loads_no_heavy_dependency(package: str, heavy: tuple[str, ...]) -> None:
    code = f"import sys, {package}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_the_store_client_does_not_load_polars_or_aiohttp() -> None:
    code = (
        "import sys\nfrom algo_trade_data import DatabaseClient, BacktestResultRecord\n"
        "print(' '.join(m for m in ('polars', 'aiohttp', 'numba') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


# What a backtest chart draws (the strategy's averages, drawdown, min-max reduction of a line) has one
# home, so the CLI's --plot and the dashboard cannot draw the same backtest differently.
CHART_HELPERS = ("sma", "strategy_averages", "minmax_indices", "drawdown", "drawdown_curve")
CHART_HELPERS_HOME = Path("packages/backtest/src/algo_trade_backtest/_series.py")


def test_chart_helpers_are_defined_once_in_the_backtest_package() -> None:
    defined: dict[str, list[str]] = {}
    for path in sorted(ROOT.glob("packages/*/src/**/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:  # module-level functions (a method of the same name is another thing)
            if isinstance(node, ast.FunctionDef) and node.name in CHART_HELPERS:
                defined.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert defined == {
        "sma": [str(CHART_HELPERS_HOME)],
        "strategy_averages": [str(CHART_HELPERS_HOME)],
        "minmax_indices": [str(CHART_HELPERS_HOME)],
        "drawdown_curve": [str(CHART_HELPERS_HOME)],
    }


def _declared() -> dict[str, set[str]]:
    """Each workspace package's module and the workspace modules its pyproject depends on."""
    graph = {}
    for pyproject in ROOT.glob("packages/*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        names = (re.split(r"[ <>=;\[]", d, maxsplit=1)[0] for d in project.get("dependencies", []))
        graph[project["name"].replace("-", "_")] = {
            n.replace("-", "_") for n in names if n.startswith("algo-trade-")
        }
    return graph


def test_packages_import_only_what_they_declare_and_depend_one_way() -> None:
    # e.g. the dashboard imports the evaluation (walk-forward studies shown as the CLI shows them), so
    # it declares it; the evaluation never imports the dashboard or the CLI.
    graph = _declared()
    assert {"algo_trade_dashboard", "algo_trade_evaluation", "algo_trade_cli"} <= set(graph)
    assert "algo_trade_evaluation" in graph["algo_trade_dashboard"]
    undeclared = {}
    for module, deps in graph.items():
        src = ROOT / "packages" / module.removeprefix("algo_trade_").replace("_", "-") / "src" / module
        used = {
            name.split(".")[0]
            for path in src.rglob("*.py")
            for name in _imports(path)
            if name.startswith("algo_trade_")
        }
        if extra := used - deps - {module}:
            undeclared[module] = sorted(extra)
    assert undeclared == {}, "imports of workspace packages missing from pyproject dependencies"
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"dependency cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for dep in graph.get(module, ()):
            visit(dep, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_reading_stored_choices_loads_neither_the_engine_nor_dask() -> None:
    """`token-selection` with [optimisation] enabled reads choices; it must start as fast as without."""
    code = (
        "import sys\nfrom algo_trade_optimisation import candidates_from_choices\n"
        "from algo_trade_pipeline import Pipeline\n"
        "print(' '.join(m for m in ('numba', 'polars', 'distributed') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
