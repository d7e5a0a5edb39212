"""Isomorphism classes of the NB201-style 4-node cell, as a pure function of op-id arrays.

Strategies should not spend budget on a cell that computes what an evaluated one computes, and a tabular
benchmark answers such cells with the same network anyway. The equivalence is the one the NB201 authors use
to report 6,466 unique cells (their ``Structure.to_unique_str(consider_zero=True)``); TransNAS-Bench-101
micro is the same DAG with a subset of the ops, so the same rule applies. Each node gets a string:

* node 0 is ``0``;
* an edge contributes ``#`` (zero) if its op is ``none`` or its source node's string is exactly ``#``, the
  source string itself for ``skip_connect``, and ``(src)@op`` for the other ops;
* a node is the ``+``-join of its edge terms, sorted as strings.

The class key is node 3's string. Two consequences are part of the definition and keep NB201's count at
6,466: zero terms stay in the key as ``#`` placeholders, and only node 1 (one input) can become exactly
``#``; a node 2 fed by two zero edges is ``#+#`` and an op applied to it still appears. A stricter, purely
functional equivalence (zeros dropped, sums flattened) would merge more cells (4,930 classes); we keep the
benchmark's. Spaces call :func:`cell_class_ids` once over all their cells and keep the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from surrogate.encodings import CELL_EDGES

_ZERO = "#"
# edges entering each computed node, as (edge position, source node)
_INPUTS = {t: tuple((e, s) for e, (s, d) in enumerate(CELL_EDGES) if d == t) for t in (1, 2, 3)}


def cell_key(ops: Sequence[int], op_names: Sequence[str]) -> str:
    """NB201's unique string of one cell (op ids in arch-string edge order, names from ``op_names``)."""
    node = ["0"]
    for target in (1, 2, 3):
        terms = []
        for edge, src in _INPUTS[target]:
            name, value = op_names[ops[edge]], node[src]
            if name == "none" or value == _ZERO:
                terms.append(_ZERO)
            elif name == "skip_connect":
                terms.append(value)
            else:
                terms.append(f"({value})@{name}")
        node.append("+".join(sorted(terms)))
    return node[3]


def _term(name: str, src: str) -> str:
    if name == "none" or src == _ZERO:
        return _ZERO
    return src if name == "skip_connect" else f"({src})@{name}"


def cell_class_ids(ops: np.ndarray, op_names: Sequence[str]) -> np.ndarray:
    """Class id per row of ``ops`` (n, 6), numbered in order of first appearance (~50 ms for 15,625).

    The keys are exactly :func:`cell_key`'s strings (their sorted ``+``-joins merge sums of different
    shapes, which is how NB201 gets 6,466, so integer ids would not reproduce them); nodes 1 and 2 depend on
    three edges only, so their strings are built once per distinct triple and each cell joins node 3's terms.
    """
    ops = np.asarray(ops, dtype=np.int64)
    names = list(op_names)
    ((e01, _),) = _INPUTS[1]
    (e02, _), (e12, _) = _INPUTS[2]
    (e03, _), (e13, _), (e23, _) = _INPUTS[3]
    inner: dict[tuple[int, int, int], tuple[str, str]] = {}
    class_of: dict[str, int] = {}
    out = np.empty(len(ops), dtype=np.int64)
    for row, cell in enumerate(ops.tolist()):
        key3 = (cell[e01], cell[e02], cell[e12])
        nodes = inner.get(key3)
        if nodes is None:
            n1 = _term(names[cell[e01]], "0")
            n2 = "+".join(sorted((_term(names[cell[e02]], "0"), _term(names[cell[e12]], n1))))
            nodes = inner[key3] = (n1, n2)
        n1, n2 = nodes
        terms = (
            _term(names[cell[e03]], "0"),
            _term(names[cell[e13]], n1),
            _term(names[cell[e23]], n2),
        )
        out[row] = class_of.setdefault("+".join(sorted(terms)), len(class_of))
    return out
