"""The NAS-Bench-Graph space: a link pattern and 4 GNN layer ops, 26,206 distinct architectures.

A choice vector is (link pattern, op of layer 1..4): 9 link patterns (``LINKS``, the package's
``link_list``; entry i is the input of layer i+1: 0 = the input features, j = layer j's output) and 9 ops per
layer (``OPS``, the package's ``gnn_list``), 59,049 vectors. Many are isomorphic; NAS-Bench-Graph names an
architecture by its ``valid_hash`` (``nas_bench_graph.architecture.Arch.valid_hash``), which maps every
vector onto a canonical one, and trained each of the 26,206 distinct architectures once (the 9 all-``skip``
vectors are no architecture). ``surrogate/data/nbgraph_hash.npz`` holds the hash of all 59,049 vectors,
computed with the package's code (``datasets/recipes/make_nbgraph_hash.py``; a test recomputes it).

Index: cells sorted by ``valid_hash`` ascending (0..26,205). The hash is the package's key in its benchmark
files, and its decimal digits spell the canonical vector (link id, then the 4 op ids), so a cell's
``cell_ops`` is that canonical vector. Any choice vector maps to its cell (``indices_from_ops``), so
mutation and neighbours land on cells; several vectors collapse onto one cell, so a neighbour's
representative may differ from the cell's in more than one position.

Arch string: the 4 layers joined by ``|``, each ``op~input`` (input as in ``LINKS``), e.g.
``gcn~0|gin~0|fc~1|cheb~2`` is link pattern 0,0,1,2 with ops gcn, gin, fc, cheb. Any vector is accepted
(isomorphic spellings parse to the same cell); ``format`` writes the canonical one.

Encodings: ``onehot`` (n, 9 + 4 * 9), ``tokens`` (n, 5) and ``adjacency`` (n, 6, 6 + 11) float32: nodes 0 =
input, 1..4 = the layers, 5 = output; ``[..., :6]`` is the adjacency (row = source: the input or layer feeding
each layer, and every layer that no other layer reads feeds the output);
``[..., 6:]`` one-hot node types: 0 = input, 1 + op id for layers, 10 = output.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace, shorten
from surrogate.spaces.cellstring import OPS_BY_SPACE, foreign_op_note, unknown_op

LINKS: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 0, 0),
    (0, 0, 0, 1),
    (0, 0, 1, 1),
    (0, 0, 1, 2),
    (0, 0, 1, 3),
    (0, 1, 1, 1),
    (0, 1, 1, 2),
    (0, 1, 2, 2),
    (0, 1, 2, 3),
)
OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
# the ops NAS-Bench-Graph trained on proteins (the package's gnn_list_proteins)
OPS_PROTEINS: tuple[str, ...] = ("gcn", "sage", "arma", "fc", "skip")
N_LAYERS = 4
OPS_BY_SPACE["nasbench-graph"] = OPS
_LINK_ID = {lk: i for i, lk in enumerate(LINKS)}
_OP_ID = {name: i for i, name in enumerate(OPS)}
_FORMAT = "'op~input|op~input|op~input|op~input', e.g. 'gcn~0|gin~0|fc~1|cheb~2'"


def _hash_table() -> np.ndarray:
    with resources.files("surrogate").joinpath("data/nbgraph_hash.npz").open("rb") as fh:
        table = np.load(fh)["valid_hash"].astype(np.int64)
    if table.shape != (len(LINKS) * len(OPS) ** N_LAYERS,):
        raise RuntimeError("surrogate/data/nbgraph_hash.npz is damaged; reinstall nasscout")
    return table


def decode_hash(keys: np.ndarray) -> np.ndarray:
    """valid_hash -> canonical choice vector (link id, 4 op ids): the hash's decimal digits."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.stack(
        [keys // 10**N_LAYERS] + [(keys // 10 ** (N_LAYERS - 1 - k)) % 10 for k in range(N_LAYERS)],
        axis=1,
    )


def _link_adjacency() -> np.ndarray:
    """(9, 6, 6) adjacency of each link pattern (input, 4 layers, output)."""
    out = np.zeros((len(LINKS), N_LAYERS + 2, N_LAYERS + 2), dtype=np.float32)
    for k, link in enumerate(LINKS):
        for layer, src in enumerate(link, start=1):
            out[k, src, layer] = 1.0
        for layer in range(1, N_LAYERS + 1):
            if layer not in link:  # a leaf: summed into the output
                out[k, layer, N_LAYERS + 1] = 1.0
    return out


def _adjacency(ops: np.ndarray) -> np.ndarray:
    n, nodes = len(ops), N_LAYERS + 2
    types = np.concatenate(
        [np.zeros((n, 1), np.int64), ops[:, 1:] + 1, np.full((n, 1), len(OPS) + 1, np.int64)],
        axis=1,
    )
    feats = np.zeros((n, nodes, len(OPS) + 2), dtype=np.float32)
    np.put_along_axis(feats, types[:, :, None], 1.0, axis=2)
    return np.concatenate([_link_adjacency()[ops[:, 0]], feats], axis=2)


class NBGraphSpace(SearchSpace):
    """NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets and Benchmarks) GNN architecture space."""

    name = "nasbench-graph"
    positions = ("link", "layer1", "layer2", "layer3", "layer4")
    choices = (tuple(",".join(map(str, lk)) for lk in LINKS),) + (OPS,) * N_LAYERS
    arch_format = f"an arch string {_FORMAT} with ops {', '.join(OPS)}"
    LINKS = LINKS
    OPS = OPS

    @property
    def valid_hash(self) -> np.ndarray:
        """NAS-Bench-Graph's key of every cell, ascending (our index order)."""
        return self._tables[0]

    @property
    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        cache = type(self).__dict__.get("_hash_cache")
        if cache is None:
            hashes = _hash_table()
            keys, raw = np.unique(hashes, return_inverse=True)
            if keys[0] < 0:  # the all-skip vectors: no cell
                keys, raw = keys[1:], raw - 1
            raw[hashes < 0] = -1
            cache = (keys, raw.astype(np.int64))
            type.__setattr__(type(self), "_hash_cache", cache)
        return cache

    def _cell_ops(self) -> np.ndarray:
        return decode_hash(self.valid_hash).astype(np.int8)

    def _raw_index(self) -> np.ndarray:
        return self._tables[1]

    def _encoders(self) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
        return {**super()._encoders(), "adjacency": _adjacency}

    def indices_from_hash(self, keys: np.ndarray) -> np.ndarray:
        """NAS-Bench-Graph keys -> our indices (one-line error for a key that is no cell)."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        pos = np.searchsorted(self.valid_hash, keys)
        pos = np.minimum(pos, self.n_cells - 1)
        bad = self.valid_hash[pos] != keys
        if bad.any():
            raise NasscoutError(f"{int(keys[bad][0])} is not a NAS-Bench-Graph valid_hash")
        return pos

    def _parse_string(self, text: str) -> int:
        def fail(why: str) -> NasscoutError:
            note = "" if why.startswith("unknown op") else foreign_op_note(text, self.name, OPS)
            return NasscoutError(
                f"cannot read architecture {shorten(text)}: {f'{note} ({why})' if note else why}; "
                f"{self.name} expects "
                f"{_FORMAT}; accepted ops: {', '.join(OPS)}"
            )

        layers = text.split("|")
        if len(layers) != N_LAYERS:
            raise fail(f"{len(layers)} layers separated by '|', expected {N_LAYERS}")
        ops, link = [], []
        for i, layer in enumerate(layers, start=1):
            name, sep, src = layer.partition("~")
            if not sep:
                raise fail(f"layer {i} {shorten(layer)} lacks '~'")
            if name not in _OP_ID:
                raise fail(f"{unknown_op(name, self.name)} in layer {i}")
            if not (len(src) == 1 and src in "0123456789" and int(src) < i):
                raise fail(f"layer {i} input {shorten(src)} must be 0..{i - 1}")
            ops.append(_OP_ID[name])
            link.append(int(src))
        if tuple(link) not in _LINK_ID:
            accepted = "; ".join(",".join(map(str, lk)) for lk in LINKS)
            raise NasscoutError(
                f"cannot read architecture {shorten(text)}: link pattern {','.join(map(str, link))} "
                f"is not one of NAS-Bench-Graph's 9 ({accepted})"
            )
        if all(OPS[o] == "skip" for o in ops):
            raise NasscoutError(
                f"{shorten(text)} is no architecture: NAS-Bench-Graph has no all-skip cell"
            )
        return int(self.indices_from_ops(np.array([[_LINK_ID[tuple(link)], *ops]]))[0])

    def _format(self, index: int) -> str:
        lk, *ops = self.cell_ops[index].tolist()
        return "|".join(f"{OPS[o]}~{src}" for o, src in zip(ops, LINKS[lk], strict=True))
