"""Weight-sharing search methods on the NB201 supernet, by name, imported only when selected.

``rsws`` and ``enas`` live here; ``cars`` and ``darts`` are registered by their import paths and work once their
modules exist. ``nasscout oneshot search --method NAME`` and :func:`strategies.oneshot.driver.run_search` use
this table.
"""

from __future__ import annotations

import importlib
import importlib.util

from surrogate.errors import NasscoutError

METHODS: dict[str, str] = {
    "rsws": "strategies.oneshot.rsws:RSWS",
    "enas": "strategies.oneshot.enas:ENAS",
    "cars": "strategies.oneshot.cars:CARS",
    "darts": "strategies.oneshot.darts:DARTS",
}


def method_class(name: str) -> type:
    """The class of method ``name`` (one line naming the accepted ones when it is unknown or not installed)."""
    target = METHODS.get(str(name).lower())
    if target is None:
        raise NasscoutError(f"unknown method {name!r}; accepted: {', '.join(METHODS)}")
    module, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the module exists but something it imports does not
            raise
        available = ", ".join(n for n in METHODS if _importable(n))
        raise NasscoutError(
            f"method {name!r} is not available in this version ({module} is missing); "
            f"available: {available}"
        ) from None
    return getattr(mod, attr)


def _importable(name: str) -> bool:
    return importlib.util.find_spec(METHODS[name].partition(":")[0]) is not None


def available_methods() -> list[str]:
    """Registered methods whose module is present."""
    return [n for n in METHODS if _importable(n)]
