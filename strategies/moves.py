"""Moves on choice vectors that every strategy shares, written against the generic ``SearchSpace`` API.

A space's cells are choice vectors with one cardinality per position (``space.cardinalities``, not necessarily
equal); ``space.indices_from_ops(ops, strict=False)`` maps a vector to the cell that represents it, -1 when the
vector is no cell, and several vectors may map to one cell. Every helper here therefore (a) draws a change per
position within that position's own cardinality and (b) treats -1 and "landed on the parent again" as no move.

On a space whose positions all have the same cardinality (NB201: 6 edges x 5 ops) the draws are exactly the
scalar ``rng.integers(1, card, size=...)`` calls the strategies made before they were generic, so seeded NB201
runs are bit-identical to the published figures.
"""

from __future__ import annotations

import hashlib

import numpy as np

from surrogate.space import SearchSpace


def random_shifts(
    rng: np.random.Generator, cardinalities: np.ndarray, size: tuple[int, ...] | None = None
) -> np.ndarray:
    """Per position, a uniform shift 1..card-1 (``(op + shift) % card`` is then another choice).

    ``size`` is the output shape; its last axis runs over positions (default: one shift per position). A
    position with a single choice gets shift 1, which leaves it unchanged modulo 1.
    """
    card = np.asarray(cardinalities, dtype=np.int64)
    shape = (len(card),) if size is None else tuple(size)
    if np.all(card == card[0]):  # one scalar bound: the draw NB201 runs were published with
        return rng.integers(1, max(int(card[0]), 2), size=shape)
    return rng.integers(1, np.maximum(card, 2), size=shape)


def shift_one(rng: np.random.Generator, ops: np.ndarray, cardinalities: np.ndarray) -> np.ndarray:
    """A copy of the vector ``ops`` with one uniform position set to another of its choices."""
    out = np.array(ops, dtype=np.int64)
    pos = int(rng.integers(len(out)))
    card = int(cardinalities[pos])
    out[pos] = (out[pos] + int(rng.integers(1, max(card, 2)))) % card
    return out


# (space class, digest of its choice-vector -> cell table) -> (table, counts). Not keyed by the space object:
# spaces compare equal by class, and a restricted view (``space.restricted``) has fewer neighbours.
_TABLES: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


def neighbour_table(space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    """``(table, counts)``: row i holds cell i's distinct neighbours first (``counts[i]`` of them), then -1.

    A neighbour is a cell one choice away: each (position, shift) in ``neighbour_indices`` order, with
    non-cells, the cell itself and repeats (two vectors naming one cell) dropped, so a uniform column
    ``int(u * counts[i])`` is a uniform distinct neighbour. Built once per space with one vectorised lookup
    per column (NB201: 24 columns, ~10 ms); rows equal ``space.neighbour_indices(i)``.
    """
    raw = np.ascontiguousarray(space.raw_index)
    key = (type(space).__qualname__, hashlib.blake2b(raw.data, digest_size=16).hexdigest())
    if key in _TABLES:
        return _TABLES[key]
    ops = space.cell_ops.astype(np.int64)
    card = np.asarray(space.cardinalities, dtype=np.int64)
    n = len(ops)
    cols = [(p, s) for p in range(space.n_positions) for s in range(1, int(card[p]))]
    table = np.full((n, max(len(cols), 1)), -1, dtype=np.int64)
    for c, (p, s) in enumerate(cols):
        cand = ops.copy()
        cand[:, p] = (cand[:, p] + s) % card[p]
        table[:, c] = space.indices_from_ops(cand, strict=False)
    table[table == np.arange(n)[:, None]] = -1
    # drop repeats within a row, keeping the first column each cell appears in
    order = np.argsort(table, axis=1, kind="stable")
    srt = np.take_along_axis(table, order, axis=1)
    dup = np.zeros_like(table, dtype=bool)
    np.put_along_axis(dup, order[:, 1:], srt[:, 1:] == srt[:, :-1], axis=1)
    table[dup] = -1
    valid = table >= 0
    table = np.take_along_axis(table, np.argsort(~valid, axis=1, kind="stable"), axis=1)
    counts = valid.sum(axis=1)
    table.setflags(write=False)
    _TABLES[key] = (table, counts)
    return table, counts
