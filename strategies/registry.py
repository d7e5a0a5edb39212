"""Search strategies by name. Each built-in entry is ``"module:Class"`` and is imported only when asked for, so
listing names and starting the CLI never loads torch or xgboost. Register a strategy by adding one line to
STRATEGIES (only once its module exists).

Besides the built-ins, every place that takes a strategy name takes the user's own (see surrogate.plugins):
an import path ``package.module:Class``, a name an installed package registers in the ``nasscout.strategies``
entry-point group, or (Python API) the class itself. Each is checked against the Strategy contract first.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from surrogate.errors import NasscoutError
from surrogate.plugins import (
    check_plugin_class,
    dist_name,
    entry_points_of,
    is_import_path,
    load_entry_point,
    load_import_path,
)

STRATEGIES: dict[str, str] = {
    "rs": "strategies.random_search:RandomSearch",
    "rea": "strategies.evolution:RegularizedEvolution",
    "evolution": "strategies.evolution:TournamentEvolution",
    "reinforce": "strategies.reinforce:Reinforce",
    "ls": "strategies.local_search:LocalSearch",
    "sh": "strategies.hyperband:SuccessiveHalving",
    "hyperband": "strategies.hyperband:Hyperband",
    "nsga2": "strategies.nsga:NSGA2",
    "pnsga3": "strategies.nsga:PNSGA3",
    "bo-gp": "strategies.bayesopt:BayesOptGP",
    "bo-xgb": "strategies.bayesopt:BayesOptXGB",
    "bananas": "strategies.bananas:Bananas",
    "pnas": "strategies.pnas:PNAS",
    "lowcost": "strategies.lowcost:LowCost",
}
# classes handed to the Python API as objects (e.g. defined in a notebook), by "module:qualname"
_SESSION: dict[str, type] = {}


def plugin_strategies() -> dict[str, Any]:
    """Entry points of installed packages (group ``nasscout.strategies``) whose name is not a built-in."""
    return {n: ep for n, ep in entry_points_of("strategy").items() if n not in STRATEGIES}


def strategy_names() -> list[str]:
    """Registered names: built-ins in registration order, then installed plugins (imports nothing)."""
    return list(STRATEGIES) + sorted(plugin_strategies())


def _accepted() -> str:
    return ", ".join(strategy_names()) + ", or package.module:Class"


def check_strategy_class(obj: Any, name: str) -> type:
    """``obj`` if it meets the Strategy contract, else one line saying how it does not."""
    from strategies.base import Strategy

    accepted = (
        "accepted: a subclass of strategies.base.Strategy with ask(self) and tell(self, trial, obs)"
    )
    shapes = (
        ("ask", "ask(self) -> Trial | None", lambda sig: sig.bind(None)),
        ("tell", "tell(self, trial, obs)", lambda sig: sig.bind(None, None, None)),
        ("__init__", "__init__(self, space, *, seed, context=None, **options)",
         lambda sig: sig.bind(None, None, seed=0, context=None)),
    )  # fmt: skip
    return check_plugin_class(obj, name, "strategy", Strategy, accepted, shapes)


def register_class(cls: type) -> str:
    """A Strategy class given as an object (Python API): check it, remember it, return its name."""
    ref = f"{cls.__module__}:{cls.__qualname__}" if inspect.isclass(cls) else repr(cls)
    _SESSION[ref] = check_strategy_class(cls, ref)
    return ref


def unregister(names: list[str]) -> None:
    """Forget classes registered by :func:`register_class` (when the call that needed them ends)."""
    for name in names:
        _SESSION.pop(name, None)


def resolve_strategy(name: str) -> tuple[type, str]:
    """(class, origin) for a built-in name, an installed plugin name or an import path."""
    text = str(name).strip()
    key = text.lower()
    if key in STRATEGIES:
        module, _, attr = STRATEGIES[key].partition(":")
        return getattr(importlib.import_module(module), attr), "built-in"
    if text in _SESSION:
        return _SESSION[text], "python object"
    plugins = plugin_strategies()
    if text in plugins:
        ep = plugins[text]
        cls = check_strategy_class(load_entry_point(ep, "strategy"), text)
        return cls, f"plugin {dist_name(ep) or ep.value}"
    if is_import_path(text):
        return check_strategy_class(load_import_path(text, "strategy"), text), "import path"
    raise NasscoutError(f"unknown strategy {name!r}; accepted: {_accepted()}")


def get_strategy(name: str) -> type:
    """The Strategy class registered (or importable) as ``name``."""
    return resolve_strategy(name)[0]


def is_plugin(name: str) -> bool:
    return str(name).strip().lower() not in STRATEGIES


def list_strategies() -> list[tuple[str, str]]:
    """``(name, one-line summary)`` for every built-in strategy (imports each strategy module)."""
    return [(name, getattr(get_strategy(name), "summary", "")) for name in STRATEGIES]


def catalog() -> list[tuple[str, str, str]]:
    """``(name, origin, summary)`` for the built-ins and every installed plugin (imports them all); a plugin
    that fails to load is listed with its one-line error instead of a summary."""
    rows = [(name, "built-in", summary) for name, summary in list_strategies()]
    for name, ep in sorted(plugin_strategies().items()):
        origin = f"plugin {dist_name(ep) or ep.value}"
        try:
            summary = getattr(resolve_strategy(name)[0], "summary", "") or ep.value
        except NasscoutError as exc:
            summary = f"BROKEN: {exc}"
        rows.append((name, origin, summary))
    return rows


def parse_strategy_list(text: str) -> list[str]:
    """``"rea,bananas"``, ``"all"`` or import paths -> validated names, in the order given, without repeats.
    Built-in names are case-insensitive; plugin names and import paths are kept as written."""
    raw = [p.strip() for p in str(text).split(",")]
    parts = [p for p in raw if p]
    if parts and len(parts) != len(raw):
        raise NasscoutError(
            f"strategy list {str(text)[:80]!r} has an empty name; accepted: comma-separated names "
            f"such as 'rs,rea', or 'all'"
        )
    if not parts:
        raise NasscoutError(f"no strategy given; accepted: all, or any of {_accepted()}")
    names: list[str] = []
    plugins = plugin_strategies()
    for p in parts:
        for n in list(STRATEGIES) if p.lower() == "all" else [p]:
            if n.lower() in STRATEGIES:
                n = n.lower()
            elif n not in plugins and n not in _SESSION and not is_import_path(n):
                raise NasscoutError(
                    f"unknown strategy {n!r}; accepted: all, or any of {_accepted()}"
                )
            if n not in names:
                names.append(n)
    return names
