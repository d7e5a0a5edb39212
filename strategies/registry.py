"""Search strategies by name. Each entry is ``"module:Class"`` and is imported only when asked for, so listing
names and starting the CLI never loads torch or xgboost. Register a strategy by adding one line to STRATEGIES
(only once its module exists)."""

from __future__ import annotations

import importlib

from surrogate.errors import NasscoutError

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
}


def strategy_names() -> list[str]:
    """Registered names in registration order (cheap: imports nothing)."""
    return list(STRATEGIES)


def get_strategy(name: str) -> type:
    """The Strategy class registered as ``name``."""
    target = STRATEGIES.get(str(name).strip().lower())
    if target is None:
        raise NasscoutError(f"unknown strategy {name!r}; accepted: {', '.join(STRATEGIES)}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def list_strategies() -> list[tuple[str, str]]:
    """``(name, one-line summary)`` for every registered strategy (imports each strategy module)."""
    return [(name, getattr(get_strategy(name), "summary", "")) for name in STRATEGIES]


def parse_strategy_list(text: str) -> list[str]:
    """``"rea,bananas"`` or ``"all"`` -> validated names, in the order given, without repeats."""
    raw = [p.strip().lower() for p in str(text).split(",")]
    parts = [p for p in raw if p]
    if parts and len(parts) != len(raw):
        raise NasscoutError(
            f"strategy list {str(text)[:80]!r} has an empty name; accepted: comma-separated names "
            f"such as 'rs,rea', or 'all'"
        )
    if not parts:
        raise NasscoutError(f"no strategy given; accepted: all, or any of {', '.join(STRATEGIES)}")
    names: list[str] = []
    for p in parts:
        for n in strategy_names() if p == "all" else [p]:
            if n not in STRATEGIES:
                raise NasscoutError(
                    f"unknown strategy {n!r}; accepted: all, or any of {', '.join(STRATEGIES)}"
                )
            if n not in names:
                names.append(n)
    return names
