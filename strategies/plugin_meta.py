"""What a run records about the user's code it ran (meta.json ``"plugins"``) and the resume check on it.

Per plugin strategy (and a plugin benchmark, keyed ``--benchmark NAME``): module, the installed
distribution's version, the file it was loaded from and the file's sha256 (see surrogate.plugins). A resume
imports each plugin again by the name the run was started with, through the normal ``sys.path`` (never from
the run folder), and refuses when the code now differs.
"""

from __future__ import annotations

from typing import Any

from strategies.registry import is_plugin, resolve_strategy
from surrogate.plugins import check_unchanged, plugin_facts


def plugin_record(benchmark: str, strategies: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    from surrogate.registry import benchmark_plugin_facts

    out = {}
    for name in strategies:
        if is_plugin(name):
            cls, origin = resolve_strategy(name)
            out[name] = plugin_facts(cls, origin).to_json()
    facts = benchmark_plugin_facts(benchmark)
    if facts is not None:
        out[f"--benchmark {benchmark}"] = facts
    return out


def check_plugins(meta: dict[str, Any], strategies: tuple[str, ...]) -> None:
    """Refuse a resume whose plugin code is not the code the run started with."""
    from surrogate.registry import benchmark_plugin_facts

    recorded = meta.get("plugins") or {}
    bench = f"--benchmark {meta['config'].get('benchmark')}"
    if bench in recorded:
        now = benchmark_plugin_facts(meta["config"]["benchmark"])
        if now is not None:
            check_unchanged(recorded[bench], now, bench)
    for name in strategies:
        if is_plugin(name) and name in recorded:
            cls, origin = resolve_strategy(name)
            check_unchanged(recorded[name], plugin_facts(cls, origin), name)
