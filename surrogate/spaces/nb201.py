"""The NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 ops, 15,625 cells.

Cells have three interchangeable identities: the arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, the
official NB201/NATS index 0..15,624 (a fixed permutation chosen by the benchmark's authors, shipped in
``data/nb201_order.npy``), and the op code, the arch string's ops read as a base-5 number (edge 0 most
significant). Hot paths (benchmarks, strategies, encoders) work on numpy arrays of indices; ``Arch`` is the
readable, hashable form for people and dictionaries (``NB201Space.arch``); the generic ``SearchSpace``
methods (``parse``, ``index``, ``indices``...) answer indices.

The module also keeps NB201's encodings and isomorphism classes as plain functions over NB201 indices
(``encode``, ``graph``, ``canonical_codes``...), for callers written before the generic space contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import numpy as np

from surrogate import encodings as _enc
from surrogate.errors import NasscoutError
from surrogate.isomorphism import cell_class_ids
from surrogate.space import SearchSpace, shorten
from surrogate.spaces.cellstring import OPS_BY_SPACE, format_cell, parse_cell

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (source node, target node) of each edge, in arch-string order.
EDGES: tuple[tuple[int, int], ...] = _enc.CELL_EDGES
N_EDGES = len(EDGES)
N_OPS = len(OPS)
N_CELLS = N_OPS**N_EDGES
_POW = N_OPS ** np.arange(N_EDGES - 1, -1, -1)  # base-5 place values, edge 0 most significant
_OP_ID = {name: i for i, name in enumerate(OPS)}
OPS_BY_SPACE["nb201"] = OPS


class Arch(tuple):
    """One cell: a tuple of 6 op ids (positions in ``OPS``) in arch-string edge order."""

    __slots__ = ()

    def __new__(cls, ops: Iterable[int]) -> Arch:
        return tuple.__new__(cls, ops)

    @property
    def code(self) -> int:
        c = 0
        for o in self:
            c = c * N_OPS + o
        return c

    @property
    def index(self) -> int:
        return int(_order().code_to_index[self.code])

    def __str__(self) -> str:
        return format_cell(self, OPS)

    def __repr__(self) -> str:
        return f"Arch('{self}')"


ArchLike = Arch | str | int | np.integer


class _Order:
    """The official index permutation, loaded once (31 KB)."""

    def __init__(self) -> None:
        with resources.files("surrogate").joinpath("data/nb201_order.npy").open("rb") as fh:
            codes = np.load(fh).astype(np.int64)
        if codes.shape != (N_CELLS,) or len(np.unique(codes)) != N_CELLS:
            raise RuntimeError("surrogate/data/nb201_order.npy is damaged; reinstall nasscout")
        self.index_to_code = codes
        self.code_to_index = np.empty(N_CELLS, dtype=np.int64)
        self.code_to_index[codes] = np.arange(N_CELLS)
        # op ids per index, shape (15625, 6): the vectorised view everything else builds on
        self.ops = (codes[:, None] // _POW[None, :]) % N_OPS
        self.ops = self.ops.astype(np.int8)


_ORDER: _Order | None = None


def _order() -> _Order:
    global _ORDER
    if _ORDER is None:
        _ORDER = _Order()
    return _ORDER


def _parse_string(text: str) -> Arch:
    """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` strictly; errors say what is wrong and what is accepted."""
    return Arch(parse_cell(text, OPS, "nb201"))


class NB201Space(SearchSpace):
    """NAS-Bench-201 topology search space (also NATS-Bench 'tss')."""

    name = "nb201"
    positions = tuple(f"{s}->{d}" for s, d in EDGES)
    choices = (OPS,) * N_EDGES
    arch_format = "an arch string '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with ops " + ", ".join(OPS)
    OPS = OPS
    EDGES = EDGES
    N_CELLS = N_CELLS
    N_EDGES = N_EDGES
    N_OPS = N_OPS

    # ---- SearchSpace hooks ----------------------------------------------------------------------------
    def _cell_ops(self) -> np.ndarray:
        return _order().ops

    def _raw_index(self) -> np.ndarray:
        return _order().code_to_index

    def _parse_string(self, text: str) -> int:
        return _parse_string(text).index

    def _format(self, index: int) -> str:
        return str(self.from_index(index))

    def _class_ids(self) -> np.ndarray:
        return cell_class_ids(self.cell_ops, OPS)

    def _encoders(self) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
        return _enc.cell_encoders(N_OPS, none=_OP_ID["none"])

    # ---- identity: indices as in the base, plus Arch objects ---------------------------------------
    def index(self, arch: Any) -> int:
        if isinstance(arch, Arch):
            return arch.index
        return super().index(arch)

    def indices(self, archs: Any) -> np.ndarray:
        if isinstance(archs, Arch):
            archs = [archs]
        return super().indices(archs)

    def arch(self, arch: Any) -> Arch:
        """An arch string, an index (int or decimal string), an Arch or 6 op ids -> Arch."""
        if isinstance(arch, Arch):
            return arch
        if isinstance(arch, (tuple, list)) and len(arch) == N_EDGES:
            if all(isinstance(o, (int, np.integer)) and 0 <= o < N_OPS for o in arch):
                return Arch(int(o) for o in arch)
            raise NasscoutError(
                f"cannot read architecture {shorten(arch)}; 6 op ids must each be 0..{N_OPS - 1}"
            )
        if isinstance(arch, str) and arch.startswith("|"):
            return _parse_string(arch)  # needs no index order (the order recipe parses strings)
        return self.from_index(self.index(arch))

    def from_index(self, index: int) -> Arch:
        return Arch(int(o) for o in _order().ops[super().index(index)])

    def code_of(self, arch: Any) -> int:
        return self.arch(arch).code

    # ---- NB201 conveniences returning Arch objects ---------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int = 1) -> list[Arch]:
        return [self.from_index(i) for i in self.sample_indices(rng, n)]

    def mutate(self, arch: Any, rng: np.random.Generator) -> Arch:
        """One random edge set to a different op (a uniform neighbour)."""
        a = list(self.arch(arch))
        edge = int(rng.integers(N_EDGES))
        a[edge] = (a[edge] + 1 + int(rng.integers(N_OPS - 1))) % N_OPS
        return Arch(a)

    def neighbours(self, arch: Any) -> list[Arch]:
        """All 24 cells at edit distance 1 (edge-major order)."""
        return [self.from_index(i) for i in self.neighbour_indices(self.index(arch))]

    def canonical(self, arch: Any) -> Arch:
        """Representative (smallest index) of the cell's isomorphism class; 6,466 classes."""
        return self.from_index(self.canonical_index(arch))

    def __repr__(self) -> str:
        return "NB201Space()"


# ---- NB201 encodings and isomorphism classes as functions of NB201 indices ------------------------------
_SPACE = NB201Space()
ENCODINGS = _enc.ENCODINGS
PATHS = _enc.PATHS
N_PATH_FEATURES = _enc.n_path_features(N_OPS)
GRAPH_NODES = _enc.GRAPH_NODES
GRAPH_FEATURES = _enc.graph_features(N_OPS)


def encode(indices: Any, kind: str = "onehot") -> np.ndarray:
    """Encode NB201 cells for a predictor (``NB201Space().encode``); shapes in ``surrogate.encodings``."""
    if kind not in ENCODINGS:
        raise NasscoutError(
            f"unknown encoding {kind!r}; accepted: {', '.join(repr(k) for k in ENCODINGS)}"
        )
    return _SPACE.encode(indices, kind)


def graph(indices: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ``adjacency`` encoding split into (adjacency (n, 8, 8), node one-hot features (n, 8, 7))."""
    return _enc.split_graph(encode(indices, "adjacency"))


def canonical_codes(indices: Any) -> np.ndarray:
    """Class id (0..6,465) per cell; ids ordered by their representative's index (class 0 holds cell 0)."""
    return _SPACE.class_ids[_SPACE.indices(indices)]


def canonical_indices(indices: Any) -> np.ndarray:
    """Representative (smallest NB201 index of the class) per cell, vectorised."""
    return _SPACE.canonical_indices(indices)


def canonical_index(index: Any) -> int:
    """Representative of one cell's class: the smallest NB201 index among the cells isomorphic to it."""
    if isinstance(index, np.ndarray):
        raise NasscoutError(
            f"canonical_index takes one cell, got an array of shape {index.shape}; "
            "use canonical_indices for many"
        )
    return _SPACE.canonical_index(index)


def n_classes() -> int:
    """Number of isomorphism classes (6,466 for NB201)."""
    return _SPACE.n_classes


def class_members(index: Any) -> np.ndarray:
    """All cells isomorphic to ``index`` (including itself), ascending."""
    codes = _SPACE.class_ids
    return np.flatnonzero(codes == codes[_SPACE.index(index)])
