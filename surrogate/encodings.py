"""Predictor encodings of NB201 cells, computed once for all 15,625 cells and then indexed.

Every kind is a table over the whole space built on first use (a few MB at most), so encoding a batch is one
numpy gather; the gather returns a copy, so callers may modify what they get. Op ids are positions in
``surrogate.space.OPS`` = (none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3) and edges are in
arch-string order e(0->1), e(0->2), e(1->2), e(0->3), e(1->3), e(2->3) throughout.

Kinds
-----
``onehot``     (n, 30) float32: per edge a one-hot over the 5 ops, edges concatenated. This is NASLib's
               ``adjacency_one_hot`` for NB201 up to a fixed permutation of the columns (NASLib orders edges
               and ops differently); any model that does not rely on column order sees the same data.
``path``       (n, 155) float32, BANANAS path encoding: one feature per op sequence of length 1, 2, 3
               (5 + 25 + 125), set when an input->output path of the cell carries that sequence. Feature of
               a path with ops o_1..o_L (from the input) = offset(L) + sum_j o_j * 5**(j-1), offsets 0, 5,
               30. The cell has four input->output paths: e(0->3); e(0->1),e(1->3); e(0->2),e(2->3);
               e(0->1),e(1->2),e(2->3). A path through a ``none`` edge does not exist (the BANANAS notion of a
               path in the DAG), so it sets no feature and the 1 + 9 + 61 columns containing ``none`` stay
               0. Unlike naszilla's and NASLib's NB201 code, which also encode paths through ``none`` (making
               the path encoding a relabelled one-hot), cells that differ only on edges off every live path
               get equal encodings. Skip connections stay visible as ops, so cells that are isomorphic only
               through ``skip_connect`` = identity can still differ.
``tokens``     (n, 6) int64: the op id of each edge in edge order, for sequence models (LSTM/transformer).
               Vocabulary size 5 (``len(OPS)``); no start/pad tokens because every cell has exactly 6.
``adjacency``  (n, 8, 8 + 7) float32, the graph NASLib/BRP-NAS feed to GCNs: ops become nodes. Nodes:
               0 = input, 1..6 = the six edges in edge order, 7 = output. ``[..., :8]`` is the adjacency
               (row = source, column = target; an op node feeds every op node leaving its target cell node;
               no self loops, not normalised) and is the same DAG for every cell, as in NASLib; ``[..., 8:]``
               one-hot node types: 0 = input, 1 + op id for op nodes, 6 = output. ``graph()`` splits it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import EDGES, N_EDGES, N_OPS, NB201Space

ENCODINGS: tuple[str, ...] = ("onehot", "path", "tokens", "adjacency")

_SPACE = NB201Space()
_NONE = 0  # OPS.index("none")
# input->output paths as edge positions, listed from the input side
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
N_PATH_FEATURES = sum(N_OPS**k for k in (1, 2, 3))
GRAPH_NODES = N_EDGES + 2
GRAPH_FEATURES = N_OPS + 2
_TABLES: dict[str, np.ndarray] = {}


def _all_ops() -> np.ndarray:
    return _SPACE.ops(_SPACE.all_indices).astype(np.int64)


def _onehot(ops: np.ndarray) -> np.ndarray:
    out = np.zeros((len(ops), N_EDGES, N_OPS), dtype=np.float32)
    np.put_along_axis(out, ops[:, :, None], 1.0, axis=2)
    return out.reshape(len(ops), N_EDGES * N_OPS)


def _path(ops: np.ndarray) -> np.ndarray:
    out = np.zeros((len(ops), N_PATH_FEATURES), dtype=np.float32)
    rows = np.arange(len(ops))
    for path in PATHS:
        offset = sum(N_OPS**k for k in range(1, len(path)))
        feature = offset + sum(ops[:, e] * N_OPS**j for j, e in enumerate(path))
        alive = np.all(ops[:, list(path)] != _NONE, axis=1)
        out[rows[alive], feature[alive]] = 1.0
    return out


def _dag() -> np.ndarray:
    """Adjacency of the op-as-node DAG shared by all cells."""
    adj = np.zeros((GRAPH_NODES, GRAPH_NODES), dtype=np.float32)
    out_node = GRAPH_NODES - 1
    for e, (src, dst) in enumerate(EDGES):
        if src == 0:
            adj[0, 1 + e] = 1.0
        if dst == 3:
            adj[1 + e, out_node] = 1.0
        for f, (src2, _) in enumerate(EDGES):
            if src2 == dst:
                adj[1 + e, 1 + f] = 1.0
    return adj


def _adjacency(ops: np.ndarray) -> np.ndarray:
    n = len(ops)
    types = np.concatenate(
        [np.zeros((n, 1), np.int64), ops + 1, np.full((n, 1), N_OPS + 1, np.int64)], axis=1
    )
    feats = np.zeros((n, GRAPH_NODES, GRAPH_FEATURES), dtype=np.float32)
    np.put_along_axis(feats, types[:, :, None], 1.0, axis=2)
    adj = np.broadcast_to(_dag(), (n, GRAPH_NODES, GRAPH_NODES))
    return np.concatenate([adj, feats], axis=2)


_BUILDERS = {
    "onehot": _onehot,
    "path": _path,
    "tokens": lambda ops: ops.copy(),
    "adjacency": _adjacency,
}


def _table(kind: str) -> np.ndarray:
    if kind not in _BUILDERS:
        raise NasscoutError(
            f"unknown encoding {kind!r}; accepted: {', '.join(repr(k) for k in ENCODINGS)}"
        )
    table = _TABLES.get(kind)
    if table is None:
        table = _TABLES[kind] = _BUILDERS[kind](_all_ops())
    return table


def encode(indices: Any, kind: str = "onehot") -> np.ndarray:
    """Encode cells (index array, or anything ``NB201Space.indices`` reads) for a predictor.

    Returns a new array with one row per cell; shapes and dtypes per kind are in the module docstring.
    """
    table = _table(kind)
    return table[_SPACE.indices(indices)]


def graph(indices: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ``adjacency`` encoding split into (adjacency (n, 8, 8), node one-hot features (n, 8, 7))."""
    packed = encode(indices, "adjacency")
    return packed[..., :GRAPH_NODES], packed[..., GRAPH_NODES:]
