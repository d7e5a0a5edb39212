"""Acquisition functions and acquisition optimisers shared by the model-based strategies.

A predictor gives ``(mean, std)`` per candidate cell (percent accuracy, maximised); an acquisition function
turns that into one score per candidate; an optimiser decides *which* candidates get scored. Tabular spaces are
small (NB201: 15,625 cells), so every optimiser here is a vectorised operation on index arrays: mutation pools around the best
evaluated cells (BANANAS), uniform random pools, or simply every cell not yet seen.

Cells are deduplicated by isomorphism class (the space's ``class_ids``): two isomorphic cells compute the same
function and a tabular benchmark answers them with the same network, so a strategy that has evaluated (or is
evaluating) one of them gains nothing from the other. :class:`SeenCells` keeps that bookkeeping as a boolean
array over classes.
"""

from __future__ import annotations

import numpy as np

from strategies.moves import random_shifts
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

ACQUISITIONS: dict[str, str] = {
    "ei": "expected improvement over the incumbent's predicted accuracy",
    "ucb": "upper confidence bound, mean + beta * std",
    "its": "independent Thompson sampling: one normal draw per candidate (BANANAS)",
    "mean": "predicted mean only (pure exploitation, as PNAS ranks children)",
}
OPTIMISERS: dict[str, str] = {
    "mutation": "edit-distance 1..max_edits mutations of the best evaluated cells (BANANAS)",
    "random": "uniform random unseen cells",
    "mutation+random": "both pools, concatenated",
    "all": "every unseen cell (exhaustive; tabular spaces are small enough)",
}


# ---- acquisition functions ------------------------------------------------------------------------
def expected_improvement(
    mean: np.ndarray, std: np.ndarray, best: float, *, xi: float = 0.0
) -> np.ndarray:
    """EI for maximisation; ``std`` is floored so that certain candidates score their plain improvement."""
    from scipy.special import ndtr

    mean = np.asarray(mean, dtype=np.float64)
    std = np.maximum(np.asarray(std, dtype=np.float64), 1e-9)
    gain = mean - best - xi
    z = gain / std
    pdf = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    return gain * ndtr(z) + std * pdf


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, *, beta: float = 2.0) -> np.ndarray:
    return np.asarray(mean, dtype=np.float64) + beta * np.asarray(std, dtype=np.float64)


def independent_thompson(mean: np.ndarray, std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per candidate from its own marginal N(mean, std^2), ignoring correlations (BANANAS' ITS)."""
    mean = np.asarray(mean, dtype=np.float64)
    return mean + np.asarray(std, dtype=np.float64) * rng.standard_normal(len(mean))


def acquisition_scores(
    kind: str,
    mean: np.ndarray,
    std: np.ndarray,
    *,
    best: float,
    rng: np.random.Generator,
    beta: float = 2.0,
    xi: float = 0.0,
) -> np.ndarray:
    """Score candidates with the named acquisition function (higher is better)."""
    if kind == "ei":
        return expected_improvement(mean, std, best, xi=xi)
    if kind == "ucb":
        return upper_confidence_bound(mean, std, beta=beta)
    if kind == "its":
        return independent_thompson(mean, std, rng)
    if kind == "mean":
        return np.asarray(mean, dtype=np.float64)
    raise NasscoutError(f"unknown acquisition {kind!r}; accepted: {', '.join(ACQUISITIONS)}")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first; ties keep candidate order (deterministic)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return order[:k]


# ---- bookkeeping ----------------------------------------------------------------------------------
class SeenCells:
    """Which cells a strategy has evaluated or has pending, for O(1) vectorised filtering.

    With ``isomorphs=True`` (the default) a cell counts as seen once any cell of its isomorphism class
    (``space.class_ids``) is; with ``False`` each cell is its own class.
    """

    def __init__(self, space: SearchSpace, *, isomorphs: bool = True) -> None:
        self.n_cells = space.n_cells
        all_cells = np.arange(self.n_cells, dtype=np.int64)
        self.codes = np.asarray(space.class_ids, dtype=np.int64) if isomorphs else all_cells
        self.seen = np.zeros(space.n_classes if isomorphs else self.n_cells, dtype=bool)
        self.n_seen = 0
        # the cells a search may propose (a table's subset in a restricted view of the space)
        self.candidates = np.asarray(space.candidates, dtype=np.int64)
        self.n_classes = (
            len(self.seen)
            if len(self.candidates) == self.n_cells
            else len(np.unique(self.codes[self.candidates]))
        )

    def add(self, indices: np.ndarray | int) -> None:
        cls = self.codes[np.asarray(indices, dtype=np.int64).reshape(-1)]
        self.n_seen += int(np.count_nonzero(~self.seen[np.unique(cls)]))
        self.seen[cls] = True

    def is_seen(self, index: int) -> bool:
        return bool(self.seen[self.codes[index]])

    @property
    def exhausted(self) -> bool:
        return self.n_seen >= self.n_classes

    def unseen(self, indices: np.ndarray) -> np.ndarray:
        """Drop seen cells and keep one cell per class (first occurrence), preserving order."""
        indices = np.asarray(indices, dtype=np.int64)
        cls = self.codes[indices]
        _, first = np.unique(cls, return_index=True)
        keep = np.zeros(len(indices), dtype=bool)
        keep[first] = True
        keep &= ~self.seen[cls]
        return indices[keep]

    def all_unseen(self) -> np.ndarray:
        """Every unseen cell (all members of each unseen class), ascending index."""
        c = self.candidates
        return c[~self.seen[self.codes[c]]]

    def random_unseen(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Up to ``n`` cells of distinct unseen classes, uniform over cells; fewer only when few remain."""
        c = self.candidates
        draw = c[rng.integers(0, len(c), size=max(4 * n, 16), dtype=np.int64)]
        out = self.unseen(draw)
        if len(out) < n:  # the space is nearly used up: choose among what is left
            rest = self.unseen(rng.permutation(self.all_unseen()))
            out = self.unseen(np.concatenate([out, rest]))
        return out[:n]


# ---- acquisition optimisers (candidate pools) -----------------------------------------------------
def mutate_indices(
    space: SearchSpace,
    parents: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    max_edits: int = 2,
) -> np.ndarray:
    """Up to ``n`` mutants: a uniform parent, 1..max_edits distinct positions each set to another choice.

    The changed vector's edit distance to the parent is the number of positions changed (1..max_edits); a
    vector that is no cell of the space is dropped (so fewer than ``n`` may come back), and one that names
    the parent's own cell (two vectors, one cell) is left for the caller's seen-filter to drop.
    """
    n_pos = space.n_positions
    if not 1 <= max_edits <= n_pos:
        raise NasscoutError(f"max_edits={max_edits} out of range; accepted 1..{n_pos}")
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    if len(parents) == 0 or n <= 0:
        return np.empty(0, dtype=np.int64)
    card = np.asarray(space.cardinalities, dtype=np.int64)
    ops = space.ops(parents).astype(np.int64)[rng.integers(len(parents), size=n)]
    n_edits = rng.integers(1, max_edits + 1, size=n)
    pos_rank = np.argsort(rng.random((n, n_pos)), axis=1)  # a random position order per mutant
    change = pos_rank < n_edits[:, None]
    shift = random_shifts(rng, card, (n, n_pos))
    ops = np.where(change, (ops + shift) % card, ops)
    out = space.indices_from_ops(ops, strict=False)
    return out[out >= 0]


def neighbourhood_indices(space: SearchSpace, parents: np.ndarray) -> np.ndarray:
    """All edit-distance-1 neighbours of each parent (24 on NB201), concatenated (parent-major order)."""
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    if len(parents) == 0:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([space.neighbour_indices(int(p)) for p in parents])


def candidate_pool(
    kind: str,
    *,
    space: SearchSpace,
    seen: SeenCells,
    rng: np.random.Generator,
    parents: np.ndarray,
    n_candidates: int,
    max_edits: int = 2,
) -> np.ndarray:
    """Unseen candidate cells (one per isomorphism class) from the named optimiser.

    ``parents`` are the cells mutation starts from (best first). An empty pool falls back to random unseen
    cells, so a caller gets candidates for as long as any class is unseen.
    """
    if kind == "mutation":
        pool = mutate_indices(space, parents, n_candidates, rng, max_edits=max_edits)
    elif kind == "random":
        pool = seen.random_unseen(rng, n_candidates)
    elif kind == "mutation+random":
        pool = np.concatenate(
            [
                mutate_indices(space, parents, n_candidates, rng, max_edits=max_edits),
                seen.random_unseen(rng, n_candidates),
            ]
        )
    elif kind == "all":
        pool = seen.all_unseen()
    else:
        raise NasscoutError(
            f"unknown acquisition optimiser {kind!r}; accepted: {', '.join(OPTIMISERS)}"
        )
    pool = seen.unseen(pool)
    if len(pool) == 0:
        pool = seen.random_unseen(rng, max(n_candidates, 1))
    return pool


def check_choice(name: str, value: str, accepted: dict[str, str] | tuple[str, ...]) -> str:
    if value not in accepted:
        raise NasscoutError(f"unknown {name} {value!r}; accepted: {', '.join(accepted)}")
    return value


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise NasscoutError(f"{name}={value!r} is invalid; accepted: an integer {lo}..{hi}")
    return int(value)
