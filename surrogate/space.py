"""The NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 ops, 15,625 cells.

Cells have three interchangeable identities: the arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, the
official NB201/NATS index 0..15,624 (a fixed permutation chosen by the benchmark's authors, shipped in
``data/nb201_order.npy``), and the op code, the arch string's ops read as a base-5 number (edge 0 most
significant). Hot paths (benchmarks, strategies, encoders) work on numpy arrays of indices; ``Arch`` is the
readable, hashable form for people and dictionaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space_base import SearchSpace

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (source node, target node) of each edge, in arch-string order.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
N_EDGES = len(EDGES)
N_OPS = len(OPS)
N_CELLS = N_OPS**N_EDGES
_POW = N_OPS ** np.arange(N_EDGES - 1, -1, -1)  # base-5 place values, edge 0 most significant
_OP_ID = {name: i for i, name in enumerate(OPS)}


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
        o = [OPS[i] for i in self]
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

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
    shape = "expected '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
    if text == "":
        raise NasscoutError(f"empty architecture; {shape} or an index 0..{N_CELLS - 1}")
    if any(ch.isspace() for ch in text):
        raise NasscoutError(f"architecture {text!r} contains whitespace; {shape}")
    if not (text.startswith("|") and text.endswith("|")):
        raise NasscoutError(f"architecture {text!r} must start and end with '|'; {shape}")
    nodes = text.split("+")
    if len(nodes) != 3:
        raise NasscoutError(
            f"architecture {text!r} has {len(nodes)} nodes separated by '+', expected 3; {shape}"
        )
    ops: list[int] = []
    for node, part in enumerate(nodes, start=1):
        if len(part) < 2 or not (part.startswith("|") and part.endswith("|")):
            raise NasscoutError(
                f"architecture {text!r}: node {node} {part!r} is not '|...|'; {shape}"
            )
        edges = part[1:-1].split("|")
        if len(edges) != node:
            raise NasscoutError(
                f"architecture {text!r}: node {node} has {len(edges)} input edges, expected {node}; {shape}"
            )
        for src, edge in enumerate(edges):
            name, sep, idx = edge.partition("~")
            if not sep:
                raise NasscoutError(f"architecture {text!r}: edge {edge!r} lacks '~'; {shape}")
            if name not in _OP_ID:
                raise NasscoutError(
                    f"architecture {text!r}: unknown op {name!r}; accepted ops: {', '.join(OPS)}"
                )
            if idx != str(src):
                raise NasscoutError(
                    f"architecture {text!r}: edge {edge!r} into node {node} must come from node {src}, "
                    f"not {idx!r}; {shape}"
                )
            ops.append(_OP_ID[name])
    return Arch(ops)


def _check_index(i: int) -> int:
    if not 0 <= i < N_CELLS:
        raise NasscoutError(f"architecture index {i} out of range; accepted 0..{N_CELLS - 1}")
    return i


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
        from surrogate.isomorphism import canonical_codes

        return canonical_codes(self.all_indices)

    def _encoders(self):
        from surrogate.encodings import _BUILDERS

        return dict(_BUILDERS)

    # ---- identity -------------------------------------------------------------------------
    def parse(self, arch: ArchLike) -> Arch:
        """An arch string, an index (int or decimal string), or an Arch -> Arch."""
        if isinstance(arch, Arch):
            return arch
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            return self.from_index(int(arch))
        if isinstance(arch, str):
            if arch.lstrip("-").isdigit():
                return self.from_index(int(arch))
            return _parse_string(arch)
        if isinstance(arch, (tuple, list)) and len(arch) == N_EDGES:
            if all(isinstance(o, (int, np.integer)) and 0 <= o < N_OPS for o in arch):
                return Arch(int(o) for o in arch)
        raise NasscoutError(
            f"cannot read architecture {arch!r}; accepted: an arch string, an index 0..{N_CELLS - 1}, "
            f"or 6 op ids 0..{N_OPS - 1}"
        )

    def format(self, arch: ArchLike) -> str:
        return str(self.parse(arch))

    def from_index(self, index: int) -> Arch:
        return Arch(int(o) for o in _order().ops[_check_index(int(index))])

    def index(self, arch: ArchLike) -> int:
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            return _check_index(int(arch))
        return self.parse(arch).index

    def code_of(self, arch: ArchLike) -> int:
        return self.parse(arch).code

    def indices(self, archs: Any) -> np.ndarray:
        """Any collection of cells (index array, Archs, strings, ints) -> int64 index array (validated)."""
        if isinstance(archs, np.ndarray) and archs.dtype.kind in "iu":
            idx = archs.astype(np.int64, copy=False).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= N_CELLS):
                bad = idx[(idx < 0) | (idx >= N_CELLS)][0]
                _check_index(int(bad))
            return idx
        if isinstance(archs, (str, Arch, int, np.integer)):
            archs = [archs]
        return np.fromiter((self.index(a) for a in archs), dtype=np.int64)

    def ops(self, archs: Any) -> np.ndarray:
        """Op ids, shape (n, 6) int8, for many cells at once."""
        return _order().ops[self.indices(archs)]

    # ---- sampling and moves -----------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int = 1) -> list[Arch]:
        return [self.from_index(i) for i in self.sample_indices(rng, n)]

    def mutate(self, arch: ArchLike, rng: np.random.Generator) -> Arch:
        """One random edge set to a different op (a uniform neighbour)."""
        a = list(self.parse(arch))
        edge = int(rng.integers(N_EDGES))
        a[edge] = (a[edge] + 1 + int(rng.integers(N_OPS - 1))) % N_OPS
        return Arch(a)

    def neighbours(self, arch: ArchLike) -> list[Arch]:
        """All 24 cells at edit distance 1 (edge-major order)."""
        return [self.from_index(i) for i in self.neighbour_indices(self.index(arch))]

    def edit_distance(self, a: ArchLike, b: ArchLike) -> int:
        return int(np.sum(np.asarray(self.parse(a)) != np.asarray(self.parse(b))))

    def __repr__(self) -> str:
        return "NB201Space()"

    # ---- delegations to surrogate.isomorphism / surrogate.encodings (imported lazily: they import us) --
    def canonical(self, arch: ArchLike) -> Arch:
        """Representative (smallest index) of the cell's isomorphism class; 6,466 classes."""
        from surrogate.isomorphism import canonical_index

        return self.from_index(canonical_index(self.index(arch)))

    def encode(self, archs: Any, kind: str = "onehot") -> np.ndarray:
        """Predictor encoding of many cells; kinds, shapes and dtypes in ``surrogate.encodings``."""
        from surrogate.encodings import encode

        return encode(self.indices(archs), kind)
