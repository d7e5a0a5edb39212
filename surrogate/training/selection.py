"""Which cells a full-runs build trains, in an order whose every prefix is a useful sample.

The list is deterministic (a function of ``seed``), so ``--cells 150`` and a later ``--cells 300`` train the
same first 150 cells and a build can grow over several sittings:

1. the NB201 CIFAR-10 top-20 (best cell of each of the 20 best isomorphism classes by 200-epoch mean
   validation accuracy): does the best of CIFAR-10 stay best on other data?
2. five poor cells, one random member of each of five classes drawn from the worst tenth;
3. the rest stratified over isomorphism classes: the remaining classes are split into ten strata by their
   NB201 CIFAR-10 accuracy (deciles), and the list takes one class of each stratum in turn (a random member
   of it), so any prefix covers the accuracy range evenly and never repeats a class.
"""

from __future__ import annotations

import numpy as np

from surrogate.errors import NasscoutError

N_TOP = 20
N_POOR = 5
N_STRATA = 10


def fullruns_cells(n: int, *, seed: int = 0) -> np.ndarray:
    """The first ``n`` cells of the build order (NB201 indices, int64)."""
    from surrogate.registry import load_benchmark
    from surrogate.spaces.nb201 import canonical_codes, n_classes

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise NasscoutError(f"--cells {n!r} is invalid; accepted: a positive integer")
    nb = load_benchmark("nb201")
    space = nb.space
    acc = nb.query(space.all_indices, dataset="cifar10", fidelity=200, seed="mean").valid_acc
    codes = canonical_codes(space.all_indices)
    k = n_classes()
    if n > k:
        raise NasscoutError(
            f"--cells {n} is invalid; accepted: at most {k} (one per isomorphism class)"
        )
    # per class: its best cell and that cell's accuracy
    order = np.lexsort((-acc, codes))  # by class, best first
    first = np.r_[True, codes[order][1:] != codes[order][:-1]]
    best_cell = order[first]  # indexed by class id (codes are 0..k-1, all present)
    class_acc = acc[best_cell]
    rng = np.random.default_rng(seed)

    top = np.argsort(-class_acc, kind="stable")[:N_TOP]
    chosen = [int(best_cell[c]) for c in top]
    used = set(top.tolist())
    worst = [c for c in np.argsort(class_acc, kind="stable")[: k // 10] if c not in used]
    poor = rng.choice(worst, size=N_POOR, replace=False)
    used.update(int(c) for c in poor)

    def member(c: int) -> int:
        return int(rng.choice(np.flatnonzero(codes == c)))

    chosen += [member(int(c)) for c in poor]
    rest = np.array([c for c in np.argsort(class_acc, kind="stable") if c not in used])
    strata = [rng.permutation(s) for s in np.array_split(rest, N_STRATA)]
    for i in range(max(len(s) for s in strata)):
        if len(chosen) >= n:
            break
        for s in strata:
            if i < len(s) and len(chosen) < n:
                chosen.append(member(int(s[i])))
    return np.asarray(chosen[:n], dtype=np.int64)
