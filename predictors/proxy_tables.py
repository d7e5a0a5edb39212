"""Which free per-cell proxies a benchmark has, and its tables of them over the whole space.

``applicable_proxies`` says which of params/flops/zen/synflow/jacov exist for a benchmark's dataset;
``cell_features`` builds the (n_cells, k) table the trained predictors take as ``cell_features``. On NB201
params/flops come from ``surrogate.costmodel`` and synflow/jacov from the NB201 network; on other spaces
everything comes from the benchmark's own per-cell tables (``params_m``, ``flops_m``, ``extra/zen``).
"""

from __future__ import annotations

import numpy as np

from predictors.proxy_network import NETWORK_PROXIES, ProxyCache
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

PROXIES: tuple[str, ...] = ("params", "flops", "zen", "synflow", "jacov")
# ---- which proxies a benchmark has -----------------------------------------------------------------------

_COLUMN = {"params": "params_m", "flops": "flops_m"}


def _is_nb201(space: SearchSpace) -> bool:
    return space.name == "nb201"


def _default_benchmark(space: SearchSpace) -> str:
    """The benchmark named like the space (``nb201`` for NB201), where table proxies are read."""
    return "nb201" if _is_nb201(space) else space.name


def dataset_name(dataset: str) -> str:
    """A dataset the NB201 cost model and network know (cifar10, cifar100, ImageNet16-120)."""
    from surrogate.benchmark import resolve_dataset
    from surrogate.costmodel import DATASET_CLASSES

    return resolve_dataset(dataset, tuple(DATASET_CLASSES))


def _fields(benchmark: str, dataset: str) -> tuple[str, list[str], SearchSpace]:
    """(canonical dataset, per-cell fields the benchmark holds for it, its space)."""
    from surrogate.registry import load_benchmark
    from surrogate.tabular import TabularBenchmark

    b = load_benchmark(benchmark)
    ds = b.dataset(dataset)
    return ds, (b.fields(ds) if isinstance(b, TabularBenchmark) else []), b.space


def applicable_proxies(benchmark: str, dataset: str) -> tuple[str, ...]:
    """The proxies that exist for ``dataset`` of ``benchmark``, in ``PROXIES`` order.

    On NB201: params/flops from the cost model and synflow/jacov from the NB201 network (for the datasets
    they know), zen where the file has it. Elsewhere: the columns the benchmark holds (``params_m``,
    ``flops_m``, ``extra/zen``); synflow/jacov never (they need the NB201 torch network).
    """
    from surrogate.costmodel import DATASET_CLASSES

    ds, fields, space = _fields(benchmark, dataset)
    nb201 = _is_nb201(space) and ds in DATASET_CLASSES
    out = [p for p, col in _COLUMN.items() if nb201 or col in fields]
    if "extra/zen" in fields:
        out.append("zen")
    if nb201:
        out += list(NETWORK_PROXIES)
    return tuple(out)


def benchmark_column(benchmark: str, dataset: str, field: str) -> np.ndarray:
    """(n_cells,) one per-cell field of a benchmark (``params_m``, ``flops_m`` or an extra such as ``zen``),
    indexed by cell index of its space; NaN for cells the benchmark lacks."""
    from surrogate.registry import load_benchmark

    b = load_benchmark(benchmark)
    ds = b.dataset(dataset)
    out = np.full(b.space.n_cells, np.nan)
    if field in _COLUMN.values():
        out[b.cells] = getattr(b.query(b.cells, dataset=ds, seed="mean"), field)
    else:
        out[b.cells] = b.extra(b.cells, dataset=ds, field=field)
    return out


# ---- tables over the whole space ----------------------------------------------------------------------


def zen_table(dataset: str, benchmark: str = "nb201") -> np.ndarray:
    """Zen-NAS score of every cell of the benchmark's space (NaN where the benchmark lacks it)."""
    return benchmark_column(benchmark, dataset, "zen")


def cell_features(
    dataset: str = "cifar10",
    *,
    proxies: tuple[str, ...] | list[str] = PROXIES,
    benchmark: str = "nb201",
    compute: bool = False,
    progress: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """The (n_cells, k) table of free per-cell features trained predictors accept as ``cell_features``.

    Rows are the cells of the benchmark's space. Columns follow ``proxies`` (each proxy's score, higher =
    better); a proxy the benchmark lacks fails in one line (``applicable_proxies`` says which exist).
    ``synflow``/``jacov`` (NB201 only) hold whatever is cached (``compute=True`` computes the rest: minutes
    to an hour); a column with nothing cached is left out, not filled with NaN, and unknown values are NaN.
    Degenerate cells get the proxy's low ``degenerate`` score, so a model sees them as the worst rather
    than as unknown.
    """
    from predictors.features import default_space
    from predictors.zerocost import PROXY_CLASSES
    from surrogate.registry import load_benchmark

    unknown = [p for p in proxies if p not in PROXY_CLASSES]
    if unknown:
        raise NasscoutError(f"unknown proxy {unknown[0]!r}; accepted: {', '.join(PROXIES)}")
    space = default_space() if benchmark == "nb201" else load_benchmark(benchmark).space
    cols, names = [], []
    for p in proxies:
        model = PROXY_CLASSES[p](space=space, dataset=dataset, benchmark=benchmark)
        model.check_applicable()
        ds = model._dataset()
        if p in NETWORK_PROXIES:
            cache = ProxyCache(p, ds)
            if compute:
                cache.values(space.all_indices, progress=progress)
            values, done = cache.load()
            if not done.any():
                continue
            col = np.where(
                done, np.where(np.isfinite(values), values, PROXY_CLASSES[p].degenerate), np.nan
            )
        elif p == "zen":
            col = zen_table(ds, benchmark)
        else:
            col = model.score(space.all_indices)
        cols.append(col)
        names.append(p)
    table = np.column_stack(cols) if cols else np.empty((space.n_cells, 0))
    return table, names
