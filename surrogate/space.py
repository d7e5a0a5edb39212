"""The SearchSpace contract: what every search space answers, over integer cell indices.

A leaf module (numpy and ``surrogate.errors`` only), so every layer can import it without cycles.

Every space nasscout knows is a set of *cells* ``0..n_cells-1`` (in the benchmark's official order), each a
fixed-length vector of categorical choices: NB201 and TransNAS-Bench-101 micro choose an op on each of 6 edges,
NAS-Bench-Graph a link pattern and 4 layer ops. A subclass gives the choice names, the choice vector of every
cell (``cell_ops``) and, for spaces where several choice vectors mean the same network, a table mapping *any*
choice vector (its mixed-radix code) to the index of the cell that represents it. Everything else (sampling,
mutation, neighbours, edit distance, one-hot/token encodings, validation) is generic and vectorised here, so a
strategy or predictor written against this class runs on every space.

Strings: each space has its own documented arch string (``parse``/``format``); an integer index, or its
decimal ASCII spelling, is accepted everywhere an arch is.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from surrogate.errors import NasscoutError

MAX_SHOWN = 80  # characters of a bad input echoed back in an error
# what a user may mean as a number: a sign, then any (also non-ASCII) digit or a dot; arch strings of every
# space start otherwise, so such text is answered with the index rule instead of an arch-string error
_NUMBER_LIKE = re.compile(r"[+-]?[\d.]", re.UNICODE)


def shared(fn: Callable[[Any], Any]) -> property:
    """A lazily built table shared by every instance of a space class (a space's tables depend on its
    class only, and modules create their own instances freely)."""
    key = fn.__name__

    def get(self: Any) -> Any:
        cache = type(self).__dict__.get("_shared_tables")
        if cache is None:
            cache = {}
            type.__setattr__(type(self), "_shared_tables", cache)
        if key not in cache:
            cache[key] = fn(self)
        return cache[key]

    get.__doc__ = fn.__doc__
    return property(get)


def shorten(text: Any, limit: int = MAX_SHOWN) -> str:
    """``repr`` of a user's input, cut to ``limit`` characters (a 100 KB bad string is not echoed whole)."""
    r = repr(text)
    return r if len(r) <= limit else f"{r[: limit - 20]}...{r[-12:]} ({len(str(text)):,} chars)"


class SearchSpace(ABC):
    """Base class of every search space; subclasses set the class attributes and implement the string form.

    Subclass duties:
    - ``name``, ``positions`` (a name per choice position), ``choices`` (the names of each position's
      choices), ``arch_format`` (one line documenting the arch string);
    - ``_cell_ops()``: (n_cells, P) integer choice ids of every cell, in official index order;
    - ``_raw_index()``: optional, (prod(cardinalities),) int64 mapping every choice vector's code to the
      index of the cell that represents it (-1: not a cell). Default: ``cell_ops`` is the whole product
      space in some order, so the table is its inverse;
    - ``_parse_string(text) -> int`` (strict, one-line ``NasscoutError`` naming what is accepted) and
      ``_format(index) -> str``;
    - optionally ``_class_ids()`` (isomorphism classes; default: every cell its own class) and more
      encodings in ``_encoders()``.
    """

    name: ClassVar[str] = "space"
    positions: ClassVar[tuple[str, ...]] = ()
    choices: ClassVar[tuple[tuple[str, ...], ...]] = ()
    arch_format: ClassVar[str] = ""

    # ---- subclass hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _cell_ops(self) -> np.ndarray:
        """(n_cells, n_positions) choice ids of every cell, in the benchmark's official index order."""

    def _raw_index(self) -> np.ndarray:
        ops = self.cell_ops.astype(np.int64)
        table = np.full(int(np.prod(self.cardinalities)), -1, dtype=np.int64)
        table[ops @ self._place] = np.arange(len(ops))
        return table

    @abstractmethod
    def _parse_string(self, text: str) -> int:
        """The space's arch string -> index (strict; one NasscoutError line naming what is accepted)."""

    @abstractmethod
    def _format(self, index: int) -> str:
        """Index -> the space's arch string."""

    def _class_ids(self) -> np.ndarray:
        return np.arange(self.n_cells, dtype=np.int64)

    def _encoders(self) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
        return {"onehot": self._onehot, "tokens": lambda ops: ops.astype(np.int64)}

    # ---- tables (built once per space object) -----------------------------------------------------------
    @shared
    def cell_ops(self) -> np.ndarray:
        ops = np.asarray(self._cell_ops())
        ops.setflags(write=False)
        return ops

    @shared
    def cardinalities(self) -> np.ndarray:
        return np.array([len(c) for c in self.choices], dtype=np.int64)

    @shared
    def _place(self) -> np.ndarray:
        """Mixed-radix place values, position 0 most significant."""
        card = self.cardinalities
        return np.concatenate([np.cumprod(card[::-1])[::-1][1:], [1]]).astype(np.int64)

    @shared
    def _raw_table(self) -> np.ndarray:
        return self._raw_index()

    @property
    def raw_index(self) -> np.ndarray:
        """Every choice vector's code -> the cell that represents it (-1: no cell, or outside a
        :meth:`restricted` view)."""
        view = self.__dict__.get("_view_raw")
        return self._raw_table if view is None else view

    @property
    def candidates(self) -> np.ndarray:
        """The cells a search may propose: every cell, or a benchmark's subset in a :meth:`restricted` view."""
        view = self.__dict__.get("_view_candidates")
        return self.all_indices if view is None else view

    def restricted(self, cells: Any) -> SearchSpace:
        """A view of this space whose samples and moves stay inside ``cells`` (e.g. a table of 200 trained
        cells, or a dataset that lacks some ops). Indices keep their meaning; only what strategies can reach
        changes, so a strategy written against the SearchSpace API needs no change."""
        import copy

        cells = self.indices(np.asarray(cells, dtype=np.int64))
        if len(cells) == self.n_cells and np.all(cells[1:] > cells[:-1]):
            return self  # every cell, ascending (a full table): no view needed, no sort
        cells = np.unique(cells)
        if len(cells) == self.n_cells:
            return self
        if len(cells) == 0:
            raise NasscoutError(f"cannot restrict {self.name} to no cells")
        view = copy.copy(self)
        allowed = np.zeros(self.n_cells + 1, dtype=bool)  # the last slot answers the table's -1
        allowed[cells] = True
        raw = self._raw_table
        view.__dict__["_view_raw"] = np.where(allowed[raw], raw, -1)
        view.__dict__["_view_candidates"] = cells
        return view

    @property
    def n_cells(self) -> int:
        return len(self.cell_ops)

    @property
    def N_CELLS(self) -> int:  # noqa: N802
        """Alias of ``n_cells`` for callers written against ``NB201Space.N_CELLS`` (prefer ``n_cells``)."""
        return self.n_cells

    @property
    def n_positions(self) -> int:
        return len(self.positions)

    @shared
    def all_indices(self) -> np.ndarray:
        out = np.arange(self.n_cells, dtype=np.int64)
        out.setflags(write=False)
        return out

    @shared
    def class_ids(self) -> np.ndarray:
        """Isomorphism class id per cell, ids ordered by their smallest member."""
        ids = np.asarray(self._class_ids(), dtype=np.int64)
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))  # relabel classes by their smallest member
        return order[inverse]

    @shared
    def _class_reps(self) -> np.ndarray:
        reps = np.full(self.n_classes, -1, dtype=np.int64)
        # reversed assignment leaves the smallest index of each class
        reps[self.class_ids[::-1]] = self.all_indices[::-1]
        return reps

    @property
    def n_classes(self) -> int:
        return int(self.class_ids.max()) + 1 if self.n_cells else 0

    # ---- identity ---------------------------------------------------------------------------------------
    def _range_error(self, value: Any) -> NasscoutError:
        return NasscoutError(
            f"architecture index {shorten(value)} out of range; accepted 0..{self.n_cells - 1} "
            f"({self.name})"
        )

    def index(self, arch: Any) -> int:
        """One cell: an index, its decimal ASCII string, or the space's arch string -> index."""
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            i = int(arch)
            if not 0 <= i < self.n_cells:
                raise self._range_error(i)
            return i
        if isinstance(arch, str):
            text = arch
            if not text:
                raise NasscoutError(
                    f"empty architecture; accepted for {self.name}: an index 0..{self.n_cells - 1} "
                    f"or {self.arch_format}"
                )
            digits = text[1:] if text[:1] == "-" else text
            if digits and digits.isascii() and digits.isdigit():
                return self.index(int(text))
            if _NUMBER_LIKE.match(text):
                raise NasscoutError(
                    f"cannot read architecture {shorten(text)} for {self.name}; accepted: an index "
                    f"0..{self.n_cells - 1} written with the ASCII digits 0-9, or {self.arch_format}"
                )
            return self._parse_string(text)
        raise NasscoutError(
            f"cannot read architecture {shorten(arch)} for {self.name}; accepted: an index "
            f"0..{self.n_cells - 1} or {self.arch_format}"
        )

    def parse(self, arch: Any) -> int:
        """Alias of :meth:`index` (DESIGN's name): arch string or index -> index."""
        return self.index(arch)

    def format(self, index: Any) -> str:
        return self._format(self.index(index))

    def indices(self, archs: Any) -> np.ndarray:
        """Any collection of cells (index array, ints, strings) -> validated int64 index array."""
        if isinstance(archs, np.ndarray) and archs.dtype.kind in "iu":
            idx = archs.astype(np.int64, copy=False).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= self.n_cells):
                raise self._range_error(int(idx[(idx < 0) | (idx >= self.n_cells)][0]))
            return idx
        if isinstance(archs, (str, int, np.integer)):
            archs = [archs]
        return np.fromiter((self.index(a) for a in archs), dtype=np.int64)

    def ops(self, archs: Any) -> np.ndarray:
        """Choice ids, shape (n, n_positions), for many cells at once."""
        return self.cell_ops[self.indices(archs)]

    def indices_from_ops(self, ops: np.ndarray, *, strict: bool = True) -> np.ndarray:
        """Inverse of :meth:`ops`, vectorised; any choice vector maps to the cell that represents it.

        A vector that is no cell of the space raises (``strict``) or gives -1.
        """
        ops = np.asarray(ops, dtype=np.int64).reshape(-1, self.n_positions)
        if ops.size and (ops.min() < 0 or np.any(ops >= self.cardinalities)):
            raise NasscoutError(f"choice ids out of range for {self.name}: {shorten(ops.tolist())}")
        out = self.raw_index[ops @ self._place]
        if strict and out.size and out.min() < 0:
            bad = ops[np.argmin(out)]
            names = [self.choices[p][c] for p, c in enumerate(bad)]
            raise NasscoutError(f"{names} is not a cell of {self.name}")
        return out

    # ---- sampling and moves -------------------------------------------------------------------------------
    def sample_indices(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """Uniform cells among :attr:`candidates` (with replacement)."""
        c = self.candidates
        return c[rng.integers(0, len(c), size=n, dtype=np.int64)]

    def mutate_index(self, index: int, rng: np.random.Generator) -> int:
        """One random position set to another choice, landing on a different cell (a uniform move)."""
        index = self.index(index)
        ops = self.cell_ops[index].astype(np.int64)
        for _ in range(100):
            pos = int(rng.integers(self.n_positions))
            card = int(self.cardinalities[pos])
            new = ops.copy()
            new[pos] = (ops[pos] + 1 + int(rng.integers(card - 1))) % card
            j = int(self.raw_index[new @ self._place])
            if j >= 0 and j != index:
                return j
        nb = self.neighbour_indices(index)
        if len(nb) == 0:
            raise NasscoutError(f"cell {index} of {self.name} has no neighbour to mutate to")
        return int(nb[rng.integers(len(nb))])

    def neighbour_indices(self, index: int) -> np.ndarray:
        """Every other cell one choice away (position-major order, duplicates and non-cells dropped)."""
        index = self.index(index)
        ops = self.cell_ops[index].astype(np.int64)
        card = self.cardinalities
        pos = np.repeat(np.arange(self.n_positions), card - 1)
        start = np.concatenate([[0], np.cumsum(card - 1)[:-1]])
        shift = np.arange(len(pos)) - np.repeat(start, card - 1) + 1
        cand = np.repeat(ops[None, :], len(pos), axis=0)
        cand[np.arange(len(pos)), pos] = (ops[pos] + shift) % card[pos]
        idx = self.raw_index[cand @ self._place]
        idx = idx[(idx >= 0) & (idx != index)]
        _, first = np.unique(idx, return_index=True)
        return idx[np.sort(first)]

    def edit_distance(self, a: Any, b: Any) -> int:
        """Number of positions whose choice differs (between the cells' representative vectors)."""
        return int(np.sum(self.cell_ops[self.index(a)] != self.cell_ops[self.index(b)]))

    def edit_distances(self, index: int, others: Any) -> np.ndarray:
        """Vectorised :meth:`edit_distance` from one cell to many."""
        return np.sum(self.ops(others) != self.cell_ops[self.index(index)], axis=1)

    # ---- isomorphism ----------------------------------------------------------------------------------------
    def canonical_indices(self, archs: Any) -> np.ndarray:
        """Representative (smallest index) of each cell's isomorphism class."""
        return self._class_reps[self.class_ids[self.indices(archs)]]

    def canonical_index(self, arch: Any) -> int:
        return int(self.canonical_indices(self.index(arch))[0])

    # ---- encodings for predictors ------------------------------------------------------------------------------
    @property
    def encodings(self) -> tuple[str, ...]:
        return tuple(self._encoders())

    @shared
    def _encoding_tables(self) -> dict[str, np.ndarray]:
        return {}

    def encode(self, archs: Any, kind: str = "onehot") -> np.ndarray:
        """Predictor encoding of many cells (a table over all cells, built on first use, then gathered)."""
        builders = self._encoders()
        if kind not in builders:
            raise NasscoutError(
                f"unknown encoding {kind!r} for {self.name}; accepted: {', '.join(builders)}"
            )
        table = self._encoding_tables.get(kind)
        if table is None:
            table = self._encoding_tables[kind] = builders[kind](self.cell_ops.astype(np.int64))
        return table[self.indices(archs)]

    def graph(self, archs: Any) -> tuple[np.ndarray, np.ndarray]:
        """The ``adjacency`` encoding split into (adjacency (n, N, N), node features (n, N, F)), for GNNs."""
        packed = self.encode(archs, "adjacency")
        nodes = packed.shape[1]
        return packed[..., :nodes], packed[..., nodes:]

    def _onehot(self, ops: np.ndarray) -> np.ndarray:
        """(n, sum(cardinalities)) float32: a one-hot block per position, positions concatenated."""
        offsets = np.concatenate([[0], np.cumsum(self.cardinalities)[:-1]])
        out = np.zeros((len(ops), int(self.cardinalities.sum())), dtype=np.float32)
        np.put_along_axis(out, ops + offsets[None, :], 1.0, axis=1)
        return out

    def describe(self) -> dict[str, Any]:
        """Facts for ``bench info`` and meta.json."""
        return {
            "space": self.name,
            "cells": self.n_cells,
            "classes": self.n_classes,
            "positions": list(self.positions),
            "choices": [list(c) for c in self.choices],
            "arch_format": self.arch_format,
            "encodings": list(self.encodings),
        }

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
