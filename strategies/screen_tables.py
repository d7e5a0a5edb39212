"""The free per-cell tables the ``lowcost`` strategy screens candidates with, and what each costs.

* zero-cost proxies (``predictors.proxy_tables``): ``params``/``flops`` (counted from the cell, charged 0 s),
  ``zen`` (charged its recorded time per cell: NAS-Bench-Suite-Zero's measured ``zen.time`` in
  ``nb201/naslib_nb201_zen.zip``, median 0.79 / 0.80 / 0.92 s per cell on cifar10 / cifar100 /
  ImageNet16-120, printed by ``benchmarks/bench_lowcost.py --overheads``; 0.92 s elsewhere), and the NB201
  network proxies ``synflow``/``jacov`` at their measured CPU cost per cell (``predictors/zerocost.py``:
  0.06 s and 0.4 s), only where every cell is cached;
* a prior: another dataset's seed-mean validation accuracy at its top fidelity, read from the table of the
  same benchmark (a published result, charged 0 s). The searched dataset's own table is refused.

The costs are constants, not wall time measured during the search, so a seed gives bit-identical results and a
resumed run charges exactly what the interrupted one did.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

# seconds charged per cell scored, by proxy (see the module doc for where each figure comes from)
ZEN_RECORDED_S = {"cifar10": 0.79, "cifar100": 0.80, "ImageNet16-120": 0.92}
PROXY_COST_S = {"params": 0.0, "flops": 0.0, "zen": 0.92, "synflow": 0.06, "jacov": 0.4}
NETWORK = ("synflow", "jacov")


def _benchmark(spec: str | None, what: str) -> Any:
    if not spec:
        raise NasscoutError(
            f"lowcost: {what} needs the benchmark's tables, and no benchmark is known"
        )
    from surrogate.registry import load_benchmark

    return load_benchmark(spec)


def proxy_cost(name: str, dataset: str) -> float:
    """Seconds charged for scoring one cell with proxy ``name`` on ``dataset``."""
    if name == "zen" and dataset in ZEN_RECORDED_S:
        return ZEN_RECORDED_S[dataset]
    return PROXY_COST_S[name]


def _fill(col: np.ndarray) -> np.ndarray:
    """Unknown values (cells a table lacks, degenerate networks) get the column's lowest: ranked last."""
    col = np.asarray(col, dtype=np.float64)
    ok = np.isfinite(col)
    return np.where(ok, col, np.min(col[ok]) if ok.any() else 0.0)


def proxy_table(
    spec: str | None, dataset: str, proxies: str, space: SearchSpace
) -> tuple[np.ndarray | None, tuple[str, ...], float]:
    """(n_cells, k) proxy scores (higher = better), their names, and the seconds charged per cell scored.

    ``proxies``: ``auto`` (whichever of params/flops/zen the benchmark has for ``dataset``; none when it has
    no tables, e.g. real training), ``none``, or a comma list, each of which must exist (one line if not).
    """
    from predictors.proxy_tables import PROXIES, applicable_proxies, cell_features

    text = str(proxies).strip().lower()
    if text == "none":
        return None, (), 0.0
    if text == "auto":
        try:
            bench = _benchmark(spec, "proxies")
            ds = bench.dataset(dataset)
            names = tuple(p for p in applicable_proxies(spec, ds) if p not in NETWORK)
        except NasscoutError:
            return None, (), 0.0  # no tables to read (an unnamed or training benchmark): no proxies
    else:
        names = tuple(p.strip() for p in text.split(",") if p.strip())
        bad = [p for p in names if p not in PROXIES]
        if bad or not names:
            raise NasscoutError(
                f"lowcost: proxies={proxies!r} is invalid; accepted: auto, none, or a comma list of "
                f"{', '.join(PROXIES)}"
            )
        bench = _benchmark(spec, "proxies")
        ds = bench.dataset(dataset)
        have = applicable_proxies(spec, ds)
        missing = [p for p in names if p not in have]
        if missing:
            raise NasscoutError(
                f"lowcost: proxy {missing[0]!r} does not exist for {ds} of {spec}; accepted: "
                f"{', '.join(have) or 'none (use proxies=none)'}"
            )
    if not names:
        return None, (), 0.0
    table, got = cell_features(ds, proxies=names, benchmark=spec)
    partial = [p for i, p in enumerate(got) if p in NETWORK and np.isnan(table[:, i]).any()]
    if tuple(got) != names or partial:
        raise NasscoutError(
            f"lowcost: proxies {', '.join(p for p in names if p in NETWORK)} are not computed for every "
            f"cell of {ds}; run `nasscout predictors zerocost` first or leave them out"
        )
    if table.shape[0] != space.n_cells:
        raise NasscoutError(
            f"lowcost: the proxy table of {spec} has {table.shape[0]} cells, the space {space.n_cells}"
        )
    cols = np.column_stack([_fill(table[:, i]) for i in range(table.shape[1])])
    return cols, names, float(sum(proxy_cost(p, ds) for p in names))


def prior_column(spec: str | None, dataset: str, prior: str, space: SearchSpace) -> np.ndarray:
    """(n_cells,) seed-mean validation accuracy on the ``prior`` dataset (another one of the same
    benchmark) at its top fidelity; cells that table lacks get its lowest value."""
    bench = _benchmark(spec, f"prior={prior!r}")
    try:
        target = bench.dataset(dataset)
    except (
        NasscoutError
    ):  # searching data this benchmark lacks (e.g. real training): any of its datasets
        target = None
    others = [d for d in bench.datasets if d != target]
    try:
        source = bench.dataset(prior)
    except NasscoutError:
        raise NasscoutError(
            f"lowcost: prior={prior!r} is no dataset of {spec}; accepted: {', '.join(others) or 'none'}"
        ) from None
    if source == target:
        raise NasscoutError(
            f"lowcost: prior={prior!r} is the dataset being searched; a prior must come from another "
            f"dataset's table of the same space; accepted: {', '.join(others) or 'none'}"
        )
    cells = np.asarray(bench.cells_for(source), dtype=np.int64)
    top = max(bench.fidelities_for(source))
    out = np.full(space.n_cells, np.nan)
    out[cells] = bench.query(cells, dataset=source, fidelity=top, seed="mean").valid_acc
    if not bench.metric(source).higher_is_better:
        out = -out
    return _fill(out)
