"""lazy_exports: a package's names load on first use, from the module that defines them."""

from __future__ import annotations

import sys
import types

import pytest

from algo_trade_core import lazy_exports


def _package(name: str, exports: dict[str, tuple[str, ...]]) -> types.ModuleType:
    package = types.ModuleType(name)
    sys.modules[name] = package
    package.__getattr__, package.__dir__ = lazy_exports(name, exports)  # type: ignore[method-assign]
    return package


def test_a_name_loads_its_module_on_first_use_only(monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package("lazy_demo_pkg", {"json": ("dumps", "loads"), "decimal": ("Decimal",)})
    monkeypatch.delitem(sys.modules, "decimal", raising=False)
    assert "dumps" in dir(package)
    assert package.dumps([1]) == "[1]"
    assert "decimal" not in sys.modules  # not asked for yet
    assert package.Decimal("1.5") * 2 == package.Decimal("3.0")
    assert "decimal" in sys.modules
    assert "Decimal" in vars(package)  # cached: later reads are plain attribute reads
    sys.modules.pop("lazy_demo_pkg")


def test_unknown_names_and_duplicates_are_errors() -> None:
    package = _package("lazy_demo_pkg2", {"json": ("dumps",)})
    with pytest.raises(AttributeError, match=r"lazy_demo_pkg2.*nope"):
        _ = package.nope
    with pytest.raises(ValueError, match="dumps is exported by both json and pickle"):
        lazy_exports("lazy_demo_pkg2", {"json": ("dumps",), "pickle": ("dumps",)})
    sys.modules.pop("lazy_demo_pkg2")
