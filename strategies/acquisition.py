"""Acquisition functions and acquisition optimisers shared by the model-based strategies.

A predictor gives ``(mean, std)`` per candidate cell (percent accuracy, maximised); an acquisition function
turns that into one score per candidate; an optimiser decides *which* candidates get scored. NB201 has only
15,625 cells, so every optimiser here is a vectorised operation on index arrays: mutation pools around the best
evaluated cells (BANANAS), uniform random pools, or simply every cell not yet seen.

Cells are deduplicated by isomorphism class (``surrogate.isomorphism``): two isomorphic cells compute the same
function and a tabular benchmark answers them with the same network, so a strategy that has evaluated (or is
evaluating) one of them gains nothing from the other. :class:`SeenCells` keeps that bookkeeping as a boolean
array over classes.
"""

from __future__ import annotations

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_CELLS, N_EDGES, N_OPS, NB201Space, canonical_codes, n_classes

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
    "all": "every unseen cell (exhaustive; NB201 is small enough)",
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

    With ``isomorphs=True`` (the default) a cell counts as seen once any cell of its isomorphism class is;
    with ``False`` each of the 15,625 cells is its own class.
    """

    def __init__(self, *, isomorphs: bool = True) -> None:
        all_cells = np.arange(N_CELLS, dtype=np.int64)
        self.codes = canonical_codes(all_cells) if isomorphs else all_cells
        self.seen = np.zeros(n_classes() if isomorphs else N_CELLS, dtype=bool)
        self.n_seen = 0

    def add(self, indices: np.ndarray | int) -> None:
        cls = self.codes[np.asarray(indices, dtype=np.int64).reshape(-1)]
        self.n_seen += int(np.count_nonzero(~self.seen[np.unique(cls)]))
        self.seen[cls] = True

    def is_seen(self, index: int) -> bool:
        return bool(self.seen[self.codes[index]])

    @property
    def exhausted(self) -> bool:
        return self.n_seen >= len(self.seen)

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
        return np.flatnonzero(~self.seen[self.codes])

    def random_unseen(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Up to ``n`` cells of distinct unseen classes, uniform over cells; fewer only when few remain."""
        draw = rng.integers(0, N_CELLS, size=max(4 * n, 16), dtype=np.int64)
        out = self.unseen(draw)
        if len(out) < n:  # the space is nearly used up: choose among what is left
            rest = self.unseen(rng.permutation(self.all_unseen()))
            out = self.unseen(np.concatenate([out, rest]))
        return out[:n]


# ---- acquisition optimisers (candidate pools) -----------------------------------------------------
def mutate_indices(
    space: NB201Space,
    parents: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    max_edits: int = 2,
) -> np.ndarray:
    """``n`` mutants: a uniform parent, 1..max_edits distinct edges each set to a different op.

    Edit distance to the parent is exactly the number of edges changed, so every mutant lies at distance
    1..max_edits from its parent.
    """
    if not 1 <= max_edits <= N_EDGES:
        raise NasscoutError(f"max_edits={max_edits} out of range; accepted 1..{N_EDGES}")
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    if len(parents) == 0 or n <= 0:
        return np.empty(0, dtype=np.int64)
    ops = space.ops(parents).astype(np.int64)[rng.integers(len(parents), size=n)]
    n_edits = rng.integers(1, max_edits + 1, size=n)
    edge_rank = np.argsort(rng.random((n, N_EDGES)), axis=1)  # a random edge order per mutant
    change = edge_rank < n_edits[:, None]
    shift = rng.integers(1, N_OPS, size=(n, N_EDGES))
    ops = np.where(change, (ops + shift) % N_OPS, ops)
    return space.indices_from_ops(ops)


def neighbourhood_indices(space: NB201Space, parents: np.ndarray) -> np.ndarray:
    """All 24 edit-distance-1 neighbours of each parent, concatenated (parent-major order)."""
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    if len(parents) == 0:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([space.neighbour_indices(int(p)) for p in parents])


def candidate_pool(
    kind: str,
    *,
    space: NB201Space,
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
