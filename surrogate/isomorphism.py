"""Isomorphism classes of NB201 cells: 6,466 classes over the 15,625 cells.

Strategies should not spend budget on a cell that computes what an evaluated one computes, and a tabular
benchmark answers such cells with the same network anyway. The equivalence is the one the NB201 authors use
to report 6,466 unique cells (their ``Structure.to_unique_str(consider_zero=True)``). Each node gets a string:

* node 0 is ``0``;
* an edge contributes ``#`` (zero) if its op is ``none`` or its source node's string is exactly ``#``, the
  source string itself for ``skip_connect``, and ``(src)@op`` for the other ops;
* a node is the ``+``-join of its edge terms, sorted as strings.

The class key is node 3's string. Two consequences are part of the definition and keep the count at 6,466:
zero terms stay in the key as ``#`` placeholders, and only node 1 (one input) can become exactly ``#``; a node
2 fed by two zero edges is ``#+#`` and an op applied to it still appears. A stricter, purely functional
equivalence (zeros dropped, sums flattened) would merge more cells (4,930 classes); we keep the benchmark's.

The table is built once for all cells (~0.1 s) and cached; lookups are numpy indexing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import EDGES, N_CELLS, OPS, NB201Space

_SPACE = NB201Space()
_ZERO = "#"
# edges entering each computed node, as (edge position, source node)
_INPUTS = {t: tuple((e, s) for e, (s, d) in enumerate(EDGES) if d == t) for t in (1, 2, 3)}
_NONE = OPS.index("none")
_SKIP = OPS.index("skip_connect")

_CODES: np.ndarray | None = None  # class id per cell index, ids ordered by representative
_REPS: np.ndarray | None = None  # representative (smallest index) per class id


def _key(ops: list[int]) -> str:
    """NB201's unique string of one cell (op ids in arch-string edge order)."""
    node = ["0"]
    for target in (1, 2, 3):
        terms = []
        for edge, src in _INPUTS[target]:
            op, value = ops[edge], node[src]
            if op == _NONE or value == _ZERO:
                terms.append(_ZERO)
            elif op == _SKIP:
                terms.append(value)
            else:
                terms.append(f"({value})@{OPS[op]}")
        node.append("+".join(sorted(terms)))
    return node[3]


def _table() -> tuple[np.ndarray, np.ndarray]:
    global _CODES, _REPS
    if _CODES is None or _REPS is None:
        class_of: dict[str, int] = {}
        codes = np.empty(N_CELLS, dtype=np.int64)
        reps: list[int] = []
        # ascending index order: the first cell seen in a class is its smallest index
        for index, ops in enumerate(_SPACE.ops(_SPACE.all_indices).tolist()):
            key = _key(ops)
            cls = class_of.get(key)
            if cls is None:
                cls = class_of[key] = len(reps)
                reps.append(index)
            codes[index] = cls
        _CODES, _REPS = codes, np.asarray(reps, dtype=np.int64)
    return _CODES, _REPS


def canonical_codes(indices: Any) -> np.ndarray:
    """Class id (0..6,465) per cell; ids are ordered by their representative's index, so class 0 holds cell 0."""
    codes, _ = _table()
    return codes[_SPACE.indices(indices)]


def canonical_indices(indices: Any) -> np.ndarray:
    """Representative (smallest NB201 index of the class) per cell, vectorised."""
    codes, reps = _table()
    return reps[codes[_SPACE.indices(indices)]]


def canonical_index(index: Any) -> int:
    """Representative of one cell's class: the smallest NB201 index among the cells isomorphic to it."""
    if isinstance(index, np.ndarray):
        raise NasscoutError(
            f"canonical_index takes one cell, got an array of shape {index.shape}; "
            "use canonical_indices for many"
        )
    return int(canonical_indices(_SPACE.index(index))[0])


def n_classes() -> int:
    """Number of isomorphism classes (6,466 for NB201)."""
    return int(_table()[1].size)


def class_members(index: Any) -> np.ndarray:
    """All cells isomorphic to ``index`` (including itself), ascending."""
    codes, _ = _table()
    return np.flatnonzero(codes == codes[_SPACE.index(index)])
