"""A small search space and tabular benchmark with the awkward features real spaces have, for contract tests.

``Toy5Space`` (286 cells, 5 positions) is a ``SearchSpace`` with what NB201 lacks and the other spaces have:

- unequal cardinalities per position: (4, 3, 5, 2, 3);
- choice vectors that are no cell: ``a0`` together with ``b0`` (30 of the 360 vectors), like a NAS-Bench-Graph
  op a dataset lacks;
- several vectors naming one cell: with ``c=off`` the ``e`` choice is ignored (as an NB201 edge into a dead
  node), so the 3 vectors that differ only in ``e`` map to the cell with ``e0``;
- isomorphism classes of more than one cell: with ``a3`` the ``d`` choice does not matter (same network);
- an official index order that is a permutation of the vectors' code order.

``toy_benchmark(path)`` writes a tabular benchmark for it with the same HDF5 writer as the real ones: dataset
``toy`` with two fidelities (4 and 16 epochs, 3 seeds) and ``toy1`` with one (16 epochs), accuracies a smooth
function of the choices plus seed noise, training time and parameter counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace
from surrogate.store import read_store, write_store
from surrogate.tabular import TabularBenchmark

CHOICES = (
    ("a0", "a1", "a2", "a3"),
    ("b0", "b1", "b2"),
    ("c0", "c1", "c2", "c3", "off"),
    ("d0", "d1"),
    ("e0", "e1", "e2"),
)


def _all_vectors() -> np.ndarray:
    grids = np.meshgrid(*(np.arange(len(c)) for c in CHOICES), indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int64)


class Toy5Space(SearchSpace):
    """5 positions of 4/3/5/2/3 choices; some vectors are no cell, some name the same cell (see module)."""

    name = "toy5"
    positions = ("a", "b", "c", "d", "e")
    choices = CHOICES
    arch_format = "an arch string 'aI,bI,cI|off,dI,eI' (e.g. 'a1,b0,c3,d1,e2')"

    @staticmethod
    def _valid(ops: np.ndarray) -> np.ndarray:
        return ~((ops[:, 0] == 0) & (ops[:, 1] == 0))

    @staticmethod
    def _represent(ops: np.ndarray) -> np.ndarray:
        rep = ops.copy()
        rep[rep[:, 2] == 4, 4] = 0  # c=off: e is ignored
        return rep

    def _cell_ops(self) -> np.ndarray:
        ops = _all_vectors()
        ops = ops[self._valid(ops) & ((ops[:, 2] != 4) | (ops[:, 4] == 0))]
        return ops[np.random.default_rng(0).permutation(len(ops))]  # an "official" order

    def _raw_index(self) -> np.ndarray:
        ops = _all_vectors()  # code order: row r has code r
        place = self._place
        table = np.full(len(ops), -1, dtype=np.int64)
        index_of = np.full(len(ops), -1, dtype=np.int64)
        index_of[self.cell_ops.astype(np.int64) @ place] = np.arange(self.n_cells)
        ok = self._valid(ops)
        table[ok] = index_of[self._represent(ops[ok]) @ place]
        return table

    def _class_ids(self) -> np.ndarray:
        ops = self.cell_ops.astype(np.int64).copy()
        ops[ops[:, 0] == 3, 3] = 0  # a3: d does not matter
        return ops @ self._place

    def _parse_string(self, text: str) -> int:
        parts = text.split(",")
        if len(parts) != len(CHOICES):
            raise NasscoutError(f"cannot read architecture {text!r}; accepted: {self.arch_format}")
        ops = []
        for p, (part, names) in enumerate(zip(parts, CHOICES, strict=True)):
            if part not in names:
                raise NasscoutError(
                    f"unknown choice {part!r} at position {self.positions[p]}; accepted: {', '.join(names)}"
                )
            ops.append(names.index(part))
        return int(self.indices_from_ops(np.array([ops]))[0])

    def _format(self, index: int) -> str:
        return ",".join(CHOICES[p][c] for p, c in enumerate(self.cell_ops[index]))

    @property
    def N_CELLS(self) -> int:  # noqa: N802  (the runner on this branch still reads N_CELLS)
        return self.n_cells


def toy_benchmark(path: Path, seed: int = 0) -> TabularBenchmark:
    """Write (if absent) and open the toy benchmark at ``path``."""
    space = Toy5Space()
    if not Path(path).exists():
        ops = space.cell_ops.astype(np.int64)
        rng = np.random.default_rng(seed)
        weights = [rng.normal(0, 3, len(c)) for c in CHOICES]
        score = sum(weights[p][ops[:, p]] for p in range(len(CHOICES)))
        score = score + 2.0 * ((ops[:, 0] == 2) & (ops[:, 2] == 1))  # one interaction
        true16 = 70 + score
        true4 = 50 + 0.7 * score + rng.normal(0, 1.0, len(ops))
        params = 0.1 + 0.05 * ops.sum(axis=1)
        n = len(ops)
        arrays = {"cells": np.arange(n, dtype=np.int64)}
        for ds, fids in (("toy", (4, 16)), ("toy1", (16,))):
            for fid in fids:
                true = true16 if fid == 16 else true4
                key = f"{ds}/fid_{fid}"
                arrays[f"{key}/valid_acc"] = (true[:, None] + rng.normal(0, 0.5, (n, 3))).astype(
                    np.float32
                )
                arrays[f"{key}/test_acc"] = (true[:, None] + rng.normal(0, 0.5, (n, 3))).astype(
                    np.float32
                )
                arrays[f"{key}/train_time_s"] = np.repeat(
                    (fid * 30.0 * (1 + params))[:, None], 3, axis=1
                ).astype(np.float32)
            arrays[f"{ds}/static/params_m"] = params.astype(np.float32)
            arrays[f"{ds}/static/flops_m"] = (100 * params).astype(np.float32)
            arrays[f"{ds}/static/latency_s"] = (0.001 * (1 + params)).astype(np.float32)
        group_attrs = {
            f"{ds}/fid_{f}": {"seeds": [0, 1, 2]}
            for ds, fids in (("toy", (4, 16)), ("toy1", (16,)))
            for f in fids
        }
        write_store(path, arrays, name="toy5", space="toy5", group_attrs=group_attrs)
    return TabularBenchmark(read_store(path), space=space)
