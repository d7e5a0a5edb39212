"""Build the NAS-Bench-Graph benchmark file (``nasbench-graph``) from the ``nas-bench-graph`` package.

Source: the package's light files ``nas_bench_graph/light/<dataset>.bench`` (in the wheel), one per dataset,
each a pickled dict ``{valid_hash: {valid_perf, perf, latency, para}}``. Pickles can run code when loaded,
so they are read with :class:`SafeUnpickler`: it refuses every global except the two a pickled numpy
float64 needs (``numpy.dtype``, ``numpy.core.multiarray.scalar``), and those are answered by our own tiny
decoders (a float64 read from 8 bytes), so loading never calls anything the file names.

Stored per dataset: ``fid_1/valid_acc`` = ``valid_perf`` x 100 (percent; the package stores a fraction),
``fid_1/test_acc`` = ``perf`` x 100, ``static/latency_s`` = ``latency`` (seconds, as stored),
``static/params_m`` = ``para`` (millions, as stored), ``fid_1/train_time_s`` an ESTIMATED cost (below). One
value per cell (no seeds). proteins was trained with 5 ops only: its rows are ``proteins/cells``, the 2,021
cells whose ops are all in ``OPS_PROTEINS``. The one fidelity is labelled 1: the light files hold final
values and not the training schedule.
Cost estimate: latency x 1,000 (a training run costs about a thousand forward passes' time, a relative
cost that ranks cells by speed, not a measured training time).
"""

from __future__ import annotations

import json
import pickle
import struct
import sys
from importlib import util
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import DataError
from surrogate.sources import benchmark_cache
from surrogate.spaces.nbgraph import OPS, OPS_PROTEINS, NBGraphSpace
from surrogate.store import write_store

DATASETS = (
    "cora",
    "citeseer",
    "pubmed",
    "cs",
    "physics",
    "photo",
    "computers",
    "arxiv",
    "proteins",
)
FIDELITY = 1
FIDELITY_NOTE = "(= the final value; the source records no schedule length)"
LATENCY_TO_COST = 1000.0
COST_NOTE = (
    "ESTIMATED cost: 1,000 x the recorded inference latency (s); NAS-Bench-Graph's light data "
    "records no training time"
)


_STRUCT = {"f8": "d", "f4": "f", "i8": "q", "i4": "i"}


class _DType:
    """Stands in for ``numpy.dtype`` while unpickling: records the code and byte order, runs nothing."""

    def __init__(self, code: Any, align: Any = False, copy: Any = False) -> None:
        if code not in _STRUCT:
            raise pickle.UnpicklingError(f"refusing numpy dtype {code!r}")
        self.code, self.format = code, "<" + _STRUCT[code]

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "=")):
            raise pickle.UnpicklingError(f"unexpected dtype state {state!r}")
        self.format = (">" if state[1] == ">" else "<") + _STRUCT[self.code]


def _scalar(dtype: Any, data: Any) -> float:
    if not isinstance(dtype, _DType) or not isinstance(data, bytes):
        raise pickle.UnpicklingError("unexpected numpy scalar payload")
    try:
        return float(struct.unpack(dtype.format, data)[0])
    except struct.error as exc:
        raise pickle.UnpicklingError(f"bad numpy scalar bytes ({exc})") from None


class SafeUnpickler(pickle.Unpickler):
    """Loads plain containers and numbers; every class lookup is refused except numpy's float scalars."""

    _ALLOWED = {("numpy", "dtype"): _DType, ("numpy.core.multiarray", "scalar"): _scalar}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def light_dir() -> Path:
    spec = util.find_spec("nas_bench_graph")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "NAS-Bench-Graph data not found; install it with `pip install nas-bench-graph==1.4.0`"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "light"


def read_light(path: Path) -> dict[int, dict[str, float]]:
    """One light file, loaded safely and checked to be {int: {str: float}}."""
    try:
        with open(path, "rb") as fh:
            table = SafeUnpickler(fh).load()
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise DataError(f"cannot read {path} ({exc})") from None
    need = {"valid_perf", "perf", "latency", "para"}
    if not isinstance(table, dict) or not all(
        isinstance(k, int) and isinstance(v, dict) and need <= set(v) for k, v in table.items()
    ):
        raise DataError(f"{path} is not a {{valid_hash: {{{', '.join(sorted(need))}}}}} dict")
    return table


def build_nbgraph(path: Path | None = None, *, download: bool = True, log=None) -> Path:
    """Assemble the benchmark file from the package's light files; return its path."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    path = Path(path) if path else benchmark_cache("nasbench-graph")
    space = NBGraphSpace()
    folder = light_dir()
    arrays: dict[str, np.ndarray] = {"cells": space.all_indices.copy()}
    sources: dict[str, str] = {"cost": COST_NOTE}
    group_attrs: dict[str, dict] = {}
    proteins_ops = np.array([OPS.index(o) for o in OPS_PROTEINS])
    for ds in DATASETS:
        src = folder / f"{ds}.bench"
        table = read_light(src)
        keys = np.fromiter(table, dtype=np.int64, count=len(table))
        rows = space.indices_from_hash(keys)
        if ds == "proteins":
            cells = np.flatnonzero(np.isin(space.cell_ops[:, 1:], proteins_ops).all(axis=1))
            if not np.array_equal(np.sort(rows), cells):
                raise DataError(f"{src}: its cells are not those using only {OPS_PROTEINS}")
            arrays[f"{ds}/cells"] = cells
            pos = np.searchsorted(cells, rows)
            n = len(cells)
        else:
            if len(rows) != space.n_cells or len(np.unique(rows)) != space.n_cells:
                raise DataError(f"{src}: expected all {space.n_cells} cells once, got {len(rows)}")
            pos, n = rows, space.n_cells
        cols = {f: np.full(n, np.nan) for f in ("valid_perf", "perf", "latency", "para")}
        for f, col in cols.items():
            col[pos] = [table[k][f] for k in table]
        where = f"nas-bench-graph 1.4.0 light/{ds}.bench"
        arrays[f"{ds}/fid_{FIDELITY}/valid_acc"] = 100.0 * cols["valid_perf"][:, None]
        arrays[f"{ds}/fid_{FIDELITY}/test_acc"] = 100.0 * cols["perf"][:, None]
        arrays[f"{ds}/fid_{FIDELITY}/train_time_s"] = LATENCY_TO_COST * cols["latency"][:, None]
        arrays[f"{ds}/static/latency_s"] = cols["latency"]
        arrays[f"{ds}/static/params_m"] = cols["para"]
        group_attrs[ds] = {"metric": "accuracy (%)", "higher_is_better": True}
        group_attrs[f"{ds}/fid_{FIDELITY}"] = {"seeds": [0]}
        sources[f"{ds}/fid_{FIDELITY}/valid_acc"] = f"valid_perf x 100 via {where}"
        sources[f"{ds}/fid_{FIDELITY}/test_acc"] = f"perf x 100 via {where}"
        sources[f"{ds}/fid_{FIDELITY}/train_time_s"] = COST_NOTE
        sources[f"{ds}/static/latency_s"] = f"latency (s) via {where}"
        sources[f"{ds}/static/params_m"] = f"para (M) via {where}"
    sources["proteins/cells"] = f"the cells whose ops are all in {', '.join(OPS_PROTEINS)}"
    log(f"nasscout: building nasbench-graph from {folder}")
    write_store(
        path,
        arrays,
        name="nasbench-graph",
        description="NAS-Bench-Graph: 26,206 GNN architectures x 9 graph datasets (proteins: 2,021)",
        sources=sources,
        group_attrs=group_attrs,
        space=space.name,
        attrs={
            "cost_note": COST_NOTE,
            "fidelity_note": FIDELITY_NOTE,
            "dataset_order": json.dumps(list(DATASETS)),
        },
    )
    return path
