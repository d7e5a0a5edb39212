"""meta.json of a run: everything needed to reproduce and to report it without reloading the benchmark."""

from __future__ import annotations

import inspect
import platform
import time
from typing import Any

import numpy as np

from strategies.plugin_meta import plugin_record
from strategies.registry import get_strategy

META_SCHEMA = 1


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        nasscout = version("nasscout")
    except PackageNotFoundError:
        nasscout = "0+unknown"
    return {"nasscout": nasscout, "numpy": np.__version__, "python": platform.python_version()}


def _strategy_facts(
    names: tuple[str, ...], given: dict[str, dict[str, Any]] | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    options: dict[str, Any] = {}
    objectives: dict[str, list[str]] = {}
    for name in names:
        cls = get_strategy(name)
        params = inspect.signature(cls.__init__).parameters.values()
        options[name] = {
            p.name: p.default
            for p in params
            if p.kind is p.KEYWORD_ONLY
            and p.name not in ("seed", "context")
            and isinstance(p.default, (int, float, str, bool, type(None)))
        } | dict((given or {}).get(name, {}))
        obj = getattr(cls, "objectives", None)
        if obj:
            objectives[name] = [str(o) for o in obj]
    return options, objectives


def _hv_ref(valid: np.ndarray, params: np.ndarray) -> list[float | None]:
    """Hypervolume reference of (accuracy up, params down): the worst of each over the benchmark's cells;
    None where the benchmark records no such value (e.g. no params)."""

    def worst(a: np.ndarray, fn: Any) -> float | None:
        a = a[np.isfinite(a)]
        return float(fn(a)) if a.size else None

    return [worst(valid, np.min), worst(params, np.max)]


def build_meta(config: Any, bench: Any, command_line: list[str]) -> dict[str, Any]:
    """Everything needed to reproduce and to report the run without reloading the benchmark."""
    ds = config.dataset
    best_index, best_value = bench.best(ds)
    cells = bench.cells_for(ds)
    top = max(bench.fidelities_for(ds))
    mean = bench.query(cells, dataset=ds, fidelity=top, seed="mean")
    options, objectives = _strategy_facts(config.strategies, config.options)
    plugins = plugin_record(config.benchmark, config.strategies)
    return {
        "schema": "nasscout-run",
        "schema_version": META_SCHEMA,
        "versions": _versions(),
        "config": {
            **config.to_json(),
            "seeds": config.seeds,
            "benchmark_name": bench.name,
        },
        "strategy_options": options,
        "objectives": objectives,
        # where each plugin strategy's code came from; a resume refuses when its file hash changed
        "plugins": plugins,
        "benchmark": {
            "name": bench.name,
            "kind": bench.kind,
            "space": bench.space.name,
            "metric": bench.metric(ds).to_json(),
            "path": str(bench.path or ""),
            "fidelities": list(bench.fidelities_for(ds)),
            "top_fidelity": int(top),
            "best_index": int(best_index),
            "best_arch": bench.space.format(int(best_index)),
            "best_valid_acc": float(best_value),
            # hypervolume reference for (accuracy up, params down): the worst value of each over all cells
            "hv_ref": _hv_ref(mean.valid_acc, mean.params_m),
            # a supernet's one-off training (its scores' cost is per query, in cost_s)
            **({"oneshot": bench.info()["oneshot"]} if bench.kind == "oneshot" else {}),
        },
        "noise": "trial t of seed s observes recorded seed number floor(u * n_seeds) of its cell, "
        "u = np.random.default_rng([s, t // 64]).random(64)[t % 64]"
        if config.observe == "seed"
        else "observe=mean: every trial observes its cell's seed-mean validation value",
        "strategy_options_note": "keyword options of each strategy class as run (None: the class default); "
        "config.options holds the ones given (--option)",
        "command_line": command_line,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resumed": [],
        "columns_note": "results.csv is identical for identical options except the wall_time_s column",
    }
