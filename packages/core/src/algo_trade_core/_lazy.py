"""Lazy package exports: ``from pkg import Name`` loads only the private module that defines ``Name``.

The CLI must start in well under a second, and importing numba, polars or aiohttp costs seconds on a
busy machine. A package ``__init__`` therefore maps each public name to its private module and lets
:pep:`562`'s module ``__getattr__`` import that module on first use::

    if TYPE_CHECKING:  # what type checkers and readers see: the real imports
        from algo_trade_data._database import DatabaseClient
    else:
        __getattr__, __dir__ = lazy_exports(__name__, {"algo_trade_data._database": ("DatabaseClient",)})

The public API is unchanged: every name in ``__all__`` is importable as before.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module ``__getattr__`` and ``__dir__`` that import each exported name on first use.

    Args:
        package: the package's ``__name__``.
        exports: module path → the names it provides to the package.

    Raises:
        ValueError: a name is exported by two modules.
    """
    where: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in where:
                raise ValueError(f"{package}: {name} is exported by both {where[name]} and {module}")
            where[name] = module
    namespace = sys.modules[package].__dict__  # the package being initialised

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
