"""Predictor encodings of the NB201-style 4-node cell, as pure functions of op-id arrays.

NB201 (5 ops) and TransNAS-Bench-101 micro (4 ops) share one DAG: nodes 0..3, an op on each of the six edges
e(0->1), e(0->2), e(1->2), e(0->3), e(1->3), e(2->3) (arch-string order). Every function here takes
``ops``, an (n, 6) integer array of op ids in that edge order, and ``n_ops`` (the size of the op
vocabulary); nothing imports a space module, so each space builds its tables over all of its cells once and
gathers rows (see ``SearchSpace.encode``).

Kinds
-----
``onehot``     (n, 6 * n_ops) float32: per edge a one-hot over the ops, edges concatenated. For NB201 this is
               NASLib's ``adjacency_one_hot`` up to a fixed permutation of the columns.
``path``       (n, n_ops + n_ops**2 + n_ops**3) float32, BANANAS path encoding: one feature per op sequence
               of length 1, 2, 3, set when an input->output path of the cell carries that sequence. Feature
               of a path with ops o_1..o_L (from the input) = offset(L) + sum_j o_j * n_ops**(j-1), offsets
               0, n_ops, n_ops + n_ops**2. The four input->output paths are e(0->3); e(0->1),e(1->3);
               e(0->2),e(2->3); e(0->1),e(1->2),e(2->3). A path through the ``none`` op (id ``none``) does
               not exist, so it sets no feature: cells differing only on edges off every live path get equal
               encodings (unlike naszilla's/NASLib's NB201 code, which encode dead paths too).
``tokens``     (n, 6) int64: the op id of each edge, for sequence models; vocabulary ``n_ops``.
``adjacency``  (n, 8, 8 + n_ops + 2) float32, ops as nodes (NASLib/BRP-NAS GCN input). Nodes: 0 = input,
               1..6 = the edges in edge order, 7 = output. ``[..., :8]`` is the adjacency (row = source; an
               op node feeds every op node leaving its target cell node; the same DAG for every cell);
               ``[..., 8:]`` one-hot node types: 0 = input, 1 + op id for op nodes, n_ops + 1 = output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ENCODINGS: tuple[str, ...] = ("onehot", "path", "tokens", "adjacency")
# (source node, target node) of each edge of the 4-node cell, in arch-string order
CELL_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
# input->output paths as edge positions, listed from the input side
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
GRAPH_NODES = len(CELL_EDGES) + 2


def n_path_features(n_ops: int) -> int:
    return sum(n_ops**k for k in (1, 2, 3))


def graph_features(n_ops: int) -> int:
    """Width of the node-type one-hot in the ``adjacency`` encoding."""
    return n_ops + 2


def onehot(ops: np.ndarray, n_ops: int) -> np.ndarray:
    ops = np.asarray(ops, dtype=np.int64)
    out = np.zeros((len(ops), ops.shape[1], n_ops), dtype=np.float32)
    np.put_along_axis(out, ops[:, :, None], 1.0, axis=2)
    return out.reshape(len(ops), ops.shape[1] * n_ops)


def path(ops: np.ndarray, n_ops: int, none: int = 0) -> np.ndarray:
    ops = np.asarray(ops, dtype=np.int64)
    out = np.zeros((len(ops), n_path_features(n_ops)), dtype=np.float32)
    rows = np.arange(len(ops))
    for p in PATHS:
        offset = sum(n_ops**k for k in range(1, len(p)))
        feature = offset + sum(ops[:, e] * n_ops**j for j, e in enumerate(p))
        alive = np.all(ops[:, list(p)] != none, axis=1)
        out[rows[alive], feature[alive]] = 1.0
    return out


def tokens(ops: np.ndarray) -> np.ndarray:
    return np.array(ops, dtype=np.int64, copy=True)


def cell_dag() -> np.ndarray:
    """Adjacency of the op-as-node DAG shared by all cells."""
    adj = np.zeros((GRAPH_NODES, GRAPH_NODES), dtype=np.float32)
    out_node = GRAPH_NODES - 1
    for e, (src, dst) in enumerate(CELL_EDGES):
        if src == 0:
            adj[0, 1 + e] = 1.0
        if dst == 3:
            adj[1 + e, out_node] = 1.0
        for f, (src2, _) in enumerate(CELL_EDGES):
            if src2 == dst:
                adj[1 + e, 1 + f] = 1.0
    return adj


def adjacency(ops: np.ndarray, n_ops: int) -> np.ndarray:
    ops = np.asarray(ops, dtype=np.int64)
    n = len(ops)
    types = np.concatenate(
        [np.zeros((n, 1), np.int64), ops + 1, np.full((n, 1), n_ops + 1, np.int64)], axis=1
    )
    feats = np.zeros((n, GRAPH_NODES, graph_features(n_ops)), dtype=np.float32)
    np.put_along_axis(feats, types[:, :, None], 1.0, axis=2)
    adj = np.broadcast_to(cell_dag(), (n, GRAPH_NODES, GRAPH_NODES))
    return np.concatenate([adj, feats], axis=2)


def split_graph(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``adjacency`` encoding split into (adjacency (n, 8, 8), node one-hot features (n, 8, F))."""
    return packed[..., :GRAPH_NODES], packed[..., GRAPH_NODES:]


def cell_encoders(n_ops: int, none: int = 0) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The four encoders of a 4-node-cell space, as ``SearchSpace._encoders`` wants them."""
    return {
        "onehot": lambda ops: onehot(ops, n_ops),
        "path": lambda ops: path(ops, n_ops, none),
        "tokens": tokens,
        "adjacency": lambda ops: adjacency(ops, n_ops),
    }
