"""Free per-cell side features and space-generic encodings that the trained predictors share.

Everything here is a table over *all* cells of one search space, built once per space (keyed by the space's
name) and then gathered, so a batch costs one numpy indexing. Nothing reads accuracies.

* ``structure_table(space)``: the live structure of a DAG cell (NB201, TransNAS-Bench-101 micro: positions
  are edges ``s->d`` and every edge chooses among the same ops, one of them ``none``). Spaces that are no such
  cell (NAS-Bench-Graph) have no structure table: ``structure=True`` then adds nothing.
* ``side_feature_table(cell_features, structure, space)``: structure + given per-cell features (zero-cost
  proxies, params, flops, ...), each column rank-gauss transformed over the whole space.
* ``consensus_score(cell_features, space)``: the data-free prior the GP leans on with few cells.
* ``model_encoding(space, kind)``: the encoding a model asked for, or ``onehot`` when the space lacks it.
* ``cell_graph(space, idx)``: the graph the GIN reads (the space's ``adjacency`` encoding, or a generic one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

_STRUCTURE: dict[str, np.ndarray | None] = {}
# NB201's short column names (kept: reports and tests name them); other ops use their own names
_SHORT = {
    "skip_connect": "skip",
    "nor_conv_1x1": "conv1x1",
    "nor_conv_3x3": "conv3x3",
    "avg_pool_3x3": "pool",
}
STRUCTURE_COLUMNS = (
    "connected",
    "live_skip",
    "live_conv1x1",
    "live_conv3x3",
    "live_pool",
    "live_conv_weights",
    "conv_depth",
)  # the columns on NB201 (``structure_columns(space)`` in general)


_DEFAULT: list[SearchSpace] = []


def default_space() -> SearchSpace:
    """NB201, the space a predictor works on when the caller names none (backward compatibility).

    One shared object, so the tables a space builds on first use are built once per process.
    """
    if not _DEFAULT:
        from surrogate.spaces.nb201 import NB201Space

        _DEFAULT.append(NB201Space())
    return _DEFAULT[0]


# ---- DAG cells ---------------------------------------------------------------------------------------


def cell_dag(space: SearchSpace) -> tuple[tuple[int, int], ...] | None:
    """The (source, target) node of each position when the space is a DAG cell with a ``none`` op, else None.

    Read from the position names (``'0->1'``, ...), so any NB201-style cell qualifies: every position is an
    edge from a lower to a higher node, node 0 is the input and the highest node the output, and every edge
    chooses among the same ops, including ``none`` (no edge).
    """
    edges = []
    for pos in space.positions:
        src, sep, dst = str(pos).partition("->")
        if not sep or not src.strip().isdigit() or not dst.strip().isdigit():
            return None
        edges.append((int(src), int(dst)))
    if not edges or any(s >= d for s, d in edges):
        return None
    ops = space.choices[0]
    if any(tuple(c) != tuple(ops) for c in space.choices) or "none" not in ops:
        return None
    return tuple(edges)


def _live_edges(ops: np.ndarray, edges: tuple[tuple[int, int], ...], none: int) -> np.ndarray:
    """(n, E) bool: the edge carries an op on some input->output path (its output matters)."""
    n = len(ops)
    n_nodes = max(d for _, d in edges) + 1
    on = ops != none
    reach_in = np.zeros((n, n_nodes), dtype=bool)
    reach_in[:, 0] = True
    for node in range(1, n_nodes):
        for e, (s, d) in enumerate(edges):
            if d == node:
                reach_in[:, node] |= reach_in[:, s] & on[:, e]
    reach_out = np.zeros((n, n_nodes), dtype=bool)
    reach_out[:, n_nodes - 1] = True
    for node in range(n_nodes - 2, -1, -1):
        for e, (s, d) in enumerate(edges):
            if s == node:
                reach_out[:, node] |= reach_out[:, d] & on[:, e]
    src = np.array([s for s, _ in edges])
    dst = np.array([d for _, d in edges])
    return on & reach_in[:, src] & reach_out[:, dst]


def structure_columns(space: SearchSpace | None = None) -> tuple[str, ...]:
    """Names of ``structure_table(space)``'s columns (empty when the space is no DAG cell)."""
    space = space or default_space()
    if cell_dag(space) is None:
        return ()
    ops = [o for o in space.choices[0] if o != "none"]
    live = tuple(f"live_{_SHORT.get(o, o)}" for o in ops)
    return ("connected", *live, "live_conv_weights", "conv_depth")


def _conv_weight(op: str) -> int:
    """Weights of one conv op in units of C^2 (9 per 3x3, 1 per 1x1), 0 for anything else."""
    if "conv" not in op:
        return 0
    return 9 if "3x3" in op else (1 if "1x1" in op else 0)


def structure_table(space: SearchSpace | None = None) -> np.ndarray | None:
    """(n_cells, k) features of each cell's live structure, free to compute; None for non-DAG spaces.

    A cell computes only through edges on input->output paths; ``params``/``flops`` also count the modules
    on dead edges, which is why they rank cells worse than the live counts do. Columns
    (``structure_columns``): input reaches output; live edges per op other than ``none``; live conv weights
    in units of C^2 (9 per 3x3, 1 per 1x1 conv); the largest number of convolutions on one live path.
    """
    space = space or default_space()
    if space.name in _STRUCTURE:
        return _STRUCTURE[space.name]
    edges = cell_dag(space)
    if edges is None:
        _STRUCTURE[space.name] = None
        return None
    names = space.choices[0]
    none = names.index("none")
    ops = space.cell_ops.astype(np.int64)
    live = _live_edges(ops, edges, none)
    connected = live.any(axis=1)
    counts = [((ops == k) & live).sum(axis=1) for k in range(len(names)) if k != none]
    weight_of = np.array([_conv_weight(o) for o in names])
    weights = (weight_of[ops] * live).sum(axis=1)
    conv = np.isin(ops, [k for k, o in enumerate(names) if "conv" in o]) & live
    # longest live path in convolutions: nodes in increasing order are a topological order
    n_nodes = max(d for _, d in edges) + 1
    best = np.full((len(ops), n_nodes), -1, dtype=np.int64)
    best[:, 0] = 0
    for node in range(1, n_nodes):
        for e, (s, d) in enumerate(edges):
            if d == node:
                via = np.where(live[:, e] & (best[:, s] >= 0), best[:, s] + conv[:, e], -1)
                best[:, node] = np.maximum(best[:, node], via)
    depth = np.maximum(best[:, n_nodes - 1], 0)
    table = np.column_stack([connected, *counts, weights, depth]).astype(np.float64)
    table.setflags(write=False)
    _STRUCTURE[space.name] = table
    return table


# ---- side features ---------------------------------------------------------------------------------------


def rank_gauss(values: np.ndarray) -> np.ndarray:
    """Column-wise rank -> standard normal scores over all cells; NaN stays NaN.

    Proxies live on wild scales (synflow spans 1e30, zen uses -1e8 for disconnected cells); ranks over the
    whole space are scale-free and, being computed on free data for every cell, leak nothing.
    """
    from scipy.special import ndtri
    from scipy.stats import rankdata

    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        col = values[:, j]
        ok = np.isfinite(col)
        m = int(ok.sum())
        if m == 0:
            continue
        ranks = rankdata(col[ok], method="average")
        out[ok, j] = ndtri((ranks - 0.5) / m) if m > 1 else 0.0
    return out


def check_cell_features(cell_features: Any, space: SearchSpace | None = None) -> np.ndarray:
    """``cell_features`` as a (n_cells, k) float array, one row per cell index of ``space``."""
    space = space or default_space()
    arr = np.asarray(cell_features, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != space.n_cells or arr.shape[1] < 1:
        raise NasscoutError(
            f"cell_features has shape {arr.shape}; accepted: ({space.n_cells}, k) with one row per "
            f"{space.name} index"
        )
    return arr


def side_feature_table(
    cell_features: np.ndarray | None, structure: bool, space: SearchSpace | None = None
) -> np.ndarray | None:
    """The (n_cells, k) standardised side-feature table a model reads, or None when there is none.

    ``cell_features`` is indexed by cell index (NaN = unknown); columns are rank-gauss transformed and NaN
    becomes 0 (the median), so an unknown proxy says nothing rather than something wrong.
    """
    space = space or default_space()
    parts = []
    if structure:
        table = structure_table(space)
        if table is not None:
            parts.append(table)
    if cell_features is not None:
        parts.append(check_cell_features(cell_features, space))
    if not parts:
        return None
    table = rank_gauss(np.column_stack(parts))
    table[~np.isfinite(table)] = 0.0
    return table


def consensus_score(
    cell_features: np.ndarray | None, space: SearchSpace | None = None
) -> np.ndarray:
    """(n_cells,) data-free prior score: the mean rank-gauss score of the free proxies, higher = better.

    The columns are the given ``cell_features`` (higher = better by the proxies' contract) and, on DAG cell
    spaces, the live conv weights of the cell's structure. Equal weights, so nothing is learned from
    accuracies: on NB201 CIFAR-10 this consensus of params, flops, zen, synflow, jacov and live weights has
    Kendall tau 0.64 with accuracy, better than any single proxy but jacov. With no column at all (no
    features on a non-DAG space) the score is 0 everywhere: no prior.
    """
    space = space or default_space()
    cols = []
    if cell_features is not None:
        cols.append(check_cell_features(cell_features, space))
    struct = structure_table(space)
    if struct is not None:
        cols.append(struct[:, structure_columns(space).index("live_conv_weights")][:, None])
    if not cols:
        return np.zeros(space.n_cells)
    scores = rank_gauss(np.column_stack(cols))
    known = np.isfinite(scores)
    return np.where(known, scores, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1)


class SideFeatures:
    """Mixin: lazily built, cached (never pickled) side-feature table from ``cell_features``/``structure``."""

    cell_features: np.ndarray | None
    structure: bool

    _space: Any  # Predictor._space, the space the cells belong to

    def _side(self, idx: np.ndarray) -> np.ndarray | None:
        key = "_cache_side"
        table = self.__dict__.get(key)
        if table is None and (self.cell_features is not None or self.structure):
            table = side_feature_table(self.cell_features, self.structure, self._space())
            self.__dict__[key] = table
        return None if table is None else table[idx]

    def _consensus(self, idx: np.ndarray) -> np.ndarray:
        table = self.__dict__.get("_cache_consensus")
        if table is None:
            table = consensus_score(self.cell_features, self._space())
            self.__dict__["_cache_consensus"] = table
        return table[idx]


# ---- encodings ---------------------------------------------------------------------------------------------


def model_encoding(space: SearchSpace, kind: str, fallback: str = "onehot") -> str:
    """``kind`` when ``space`` has that encoding, else ``fallback`` (e.g. ``path`` on NAS-Bench-Graph)."""
    return kind if kind in space.encodings else fallback


def onehot(space: SearchSpace, ops: np.ndarray) -> np.ndarray:
    """(n, sum(cardinalities)) float64 one-hot of choice vectors, one block per position in order."""
    card = space.cardinalities
    offsets = np.concatenate([[0], np.cumsum(card)[:-1]]).astype(np.int64)
    out = np.zeros((len(ops), int(card.sum())))
    np.put_along_axis(out, np.asarray(ops, dtype=np.int64) + offsets[None, :], 1.0, axis=1)
    return out


def block_starts(space: SearchSpace) -> np.ndarray:
    """Column where each position's block starts in :func:`onehot` (for ``np.add.reduceat``)."""
    return np.concatenate([[0], np.cumsum(space.cardinalities)[:-1]]).astype(np.int64)


def _none_column(space: SearchSpace) -> int | None:
    """Node-type column of op ``none`` in an ``adjacency`` encoding (0 = input, 1 + op id, last = output)."""
    ops = space.choices[0]
    if any(tuple(c) != tuple(ops) for c in space.choices) or "none" not in ops:
        return None
    return 1 + list(ops).index("none")


def cell_graph(space: SearchSpace, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(adjacency (n, N, N), node features (n, N, F)) float32, the graph the GIN reads.

    With an ``adjacency`` encoding (NB201, TransNAS micro: input, one node per edge op, output; node-type
    columns 0 = input, 1 + op id, last = output, as ``surrogate.encodings``) the nodes of ``none`` ops are
    cut out (their links removed): an edge holding ``none`` carries nothing. Without one (NAS-Bench-Graph) the
    graph is generic: one node per position, linked to every later position (a complete DAG, so messages
    reach every node both ways), node features the one-hot of the position's choice (blocks per position, so
    a feature also says which position it is), plus a last readout node fed by every position.
    """
    if "adjacency" in space.encodings:
        packed = space.encode(idx, "adjacency").astype(np.float32)
        n_nodes = packed.shape[1]
        adj, feats = packed[..., :n_nodes], packed[..., n_nodes:]
        col = _none_column(space)
        if col is not None and col < feats.shape[2]:
            alive = feats[:, :, col] <= 0
            adj = adj * alive[:, :, None] * alive[:, None, :]
        return np.ascontiguousarray(adj), np.ascontiguousarray(feats)
    ops = space.ops(idx).astype(np.int64)
    n, p = ops.shape
    width = int(space.cardinalities.sum())
    feats = np.zeros((n, p + 1, width + 1), dtype=np.float32)
    offsets = block_starts(space)
    rows = np.repeat(np.arange(n), p)
    nodes = np.tile(np.arange(p), n)
    feats[rows, nodes, (ops + offsets[None, :]).reshape(-1)] = 1.0
    feats[:, p, width] = 1.0  # the readout node's own type
    dag = np.triu(np.ones((p + 1, p + 1), dtype=np.float32), k=1)
    adj = np.broadcast_to(dag, (n, p + 1, p + 1)).copy()
    return adj, feats
