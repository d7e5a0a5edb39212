"""``lowcost``: train only the promising candidates, and charge every second spent deciding which they are.

One round:

1. **Propose** a candidate pool of unseen cells (one per isomorphism class): ``n_candidates`` mutants (edit
   distance 1..``max_edits``) of the ``n_parents`` best cells trained so far, ``n_random`` uniform cells,
   and, with a ``prior``, the ``n_candidates`` unseen cells the prior ranks highest.
2. **Screen** the pool without training: zero-cost proxies (``proxies``; each cell scored once, charged at
   its recorded cost, see ``strategies.screen_tables``) and, once ``min_fit`` cells have a final value, a
   ``predictor`` from ``predictors/`` (default the GP, whose mean leans on the proxies and the prior while
   data are few) fitted on everything trained so far, ranked by an acquisition on its mean and std
   (``ei``). Before that, the pool is ranked by the free score (the prior where given, else the
   proxies' consensus rank). Each fit is charged ``fit_cost_s``.
3. **Cheap fidelity first**: the top ``n_screen`` are trained at the lowest fidelity (NB201: the separate
   12-epoch schedule, ~6% of the 200-epoch cost); when the round's screenings are in, the best of them by
   observed value is **trained to the end** (the finalist). A benchmark with one fidelity trains the top
   ``batch_size`` of each ranking to the end directly.

Defaults, measured on NB201 (20 seeds, budget = 20 average full trainings, mean final regret in points;
``benchmarks/bench_lowcost.py`` has the 50-seed figures): ``n_screen=9`` (Hyperband's 9 screened per
finalist for 200/12 epochs with eta=3) against 6 and 4: cifar10 0.08 / 0.08 / 0.23, cifar100 0.20 / 0.32
(9 / 6), ImageNet16-120 0.36 / 0.54 (9 / 6). With a ``prior`` the default is ``n_screen=3``: the prior
has screened already, and more finalists pay more than more screenings (9 / 3: cifar10 from cifar100
0.13 / 0.06, ImageNet16-120 from cifar100 0.46 / 0.28). ``use_screen_data=False``: a cell seen only at the low
fidelity does not train the predictor. With ``True`` its value, mapped to the final scale by a least-squares
line fitted on the cells trained at both (from 3 such cells on), joins the data: worse with 6 screens on
cifar10 (0.13 against 0.08) and cifar100 (0.45 against 0.32), where 12-epoch values rank the good cells
poorly (Spearman 0.46 with the 200-epoch values among cifar10's best 200 cells).

Transfer (``prior=DATASET``): another dataset's table of the same benchmark (e.g. NB201 cifar100 when
searching cifar10) enters as one more free per-cell feature, so the predictor's prior mean and kernel can use
it. It is a published table, charged 0 s; the searched dataset's own table is refused in one line. It is an
option, so ``meta.json`` records it with the other options.

Charging: the proxy and fit seconds of a round are attached to the round's first trial as
``Trial.info["overhead_s"]``; the runner adds them to that trial's ``cost_s`` and simulated time. Early
stopping of the final trainings by curve extrapolation is the runner's (``--early-stop domhan``, on tables
with per-epoch curves) and combines with this strategy unchanged.
"""

from __future__ import annotations

import inspect
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies.acquisition import (
    ACQUISITIONS,
    SeenCells,
    acquisition_scores,
    check_choice,
    check_int,
    mutate_indices,
    top_k,
)
from strategies.base import Observation, SearchContext, Strategy, Trial
from strategies.bayesopt import limited_threads
from strategies.screen_tables import prior_column, proxy_table
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

# seconds charged per predictor fit (a constant keeps runs bit-identical). Measured on this loaded 2-core
# machine (benchmarks/bench_lowcost.py --overheads): the first GP fit 7.2 s (mostly building the space's
# encoding tables), warm refits 0.05 s (median), so 1 s per fit charges a search at least what its fits
# took (11 fits: 7.7 s measured, 11 s charged)
FIT_COST_S = 1.0
MIN_PAIRS = (
    3  # cells trained at both fidelities before low-fidelity values are mapped onto the final scale
)


@dataclass
class _Round:
    """The cells of one round screened at the low fidelity, and what they scored."""

    cells: list[int]
    pending: int
    results: list[tuple[float, int]] = field(default_factory=list)


class LowCost(Strategy):
    """Low-cost search: pool of mutants + random (+ prior's top) cells, screened by proxies and a predictor
    with uncertainty, the top few trained at the cheap fidelity, the best of those trained to the end."""

    name = "lowcost"
    summary = (
        "low-cost: proxies + predictor (+ prior from another dataset) screen, cheap rung first, "
        "finalists to the end"
    )
    multi_fidelity = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        proxies: str = "auto",
        prior: str | None = None,
        predictor: str = "gp",
        acquisition: str = "ei",
        n_candidates: int = 100,
        n_random: int = 50,
        n_parents: int = 5,
        max_edits: int = 2,
        n_screen: int | None = None,
        batch_size: int = 3,
        min_fit: int = 3,
        use_screen_data: bool = False,
        fit_cost_s: float = FIT_COST_S,
        threads: int = 1,
    ):
        super().__init__(space, seed=seed, context=context)
        n = space.n_cells
        self.acquisition = check_choice("acquisition", acquisition, ACQUISITIONS)
        self.n_candidates = check_int("n_candidates", n_candidates, 1, n)
        self.n_random = check_int("n_random", n_random, 0, n)
        self.n_parents = check_int("n_parents", n_parents, 1, n)
        self.max_edits = check_int("max_edits", max_edits, 1, space.n_positions)
        if (
            n_screen is None
        ):  # the prior screens already: fewer cheap trainings per finalist (module doc)
            n_screen = 9 if prior is None else 3
        self.n_screen = check_int("n_screen", n_screen, 1, n)
        self.batch_size = check_int("batch_size", batch_size, 1, n)
        self.min_fit = check_int("min_fit", min_fit, 2, n)
        self.threads = check_int("threads", threads, 0, 1024)
        if not isinstance(use_screen_data, (bool, np.bool_)):
            raise NasscoutError(
                f"use_screen_data={use_screen_data!r} is invalid; accepted: true or false"
            )
        self.use_screen_data = bool(use_screen_data)
        ok = isinstance(fit_cost_s, (int, float)) and not isinstance(fit_cost_s, bool)
        if not ok or not 0 <= fit_cost_s < float("inf"):
            raise NasscoutError(
                f"fit_cost_s={fit_cost_s!r} is invalid; accepted: a finite number of seconds >= 0"
            )
        self.fit_cost_s = float(fit_cost_s)
        from predictors.registry import predictor_class

        self._predictor_cls = predictor_class(predictor)  # one line for an unknown name
        self.predictor = predictor
        spec, ds = self.context.benchmark, self.context.dataset
        self.proxy_table_, self.proxies_, self._proxy_s = proxy_table(spec, ds, proxies, space)
        self.prior = prior
        self.prior_ = None if prior is None else prior_column(spec, ds, str(prior), space)
        cols = [c for c in (self.proxy_table_, self.prior_) if c is not None]
        self._features = np.column_stack(cols) if cols else None
        fids = sorted({int(f) for f in self.context.fidelities})
        self.top = fids[-1]
        self.low = fids[0] if len(fids) > 1 else None
        self._seen = SeenCells(space, isomorphs=True)
        self._scored = np.zeros(n, dtype=bool)  # proxies charged for these cells
        self._overhead = 0.0  # charged to the next trial asked
        self._queue: deque[tuple[int, int, _Round | None]] = deque()
        self._pick_score: dict[int, float] = {}
        self._owner: dict[int, _Round] = {}
        self._top_obs: dict[
            int, float
        ] = {}  # cell -> observed value at the top fidelity (the last one)
        self._low_obs: dict[int, float] = {}
        self.model_: Any = None
        self._fit_n = -1
        self.n_fits_ = 0
        self.overhead_s_ = 0.0  # everything charged so far (for inspection)

    @property
    def n_screened(self) -> int:
        """Cells scored by the screen so far (trained or not)."""
        return int(self._scored.sum())

    def set_screen_tables(
        self,
        proxies: np.ndarray | None,
        names: tuple[str, ...],
        seconds_per_cell: float,
        prior: np.ndarray | None,
    ) -> None:
        """Screen with these free per-cell columns instead of the benchmark's tables (before the first ask).

        For benchmarks without tables, e.g. real training (``nasscout search``): ``proxies`` (n_cells, k),
        higher = better, charged ``seconds_per_cell`` per cell scored; ``prior`` (n_cells,) another dataset's
        results.
        """
        if self.n_fits_ or self._scored.any():
            raise NasscoutError("lowcost: screen tables can only be set before the first ask")
        for what, col in (("proxies", proxies), ("prior", prior)):
            if col is not None and len(col) != self.space.n_cells:
                raise NasscoutError(
                    f"lowcost: {what} has {len(col)} rows; accepted: one per cell ({self.space.n_cells})"
                )
        self.proxy_table_, self.proxies_, self._proxy_s = (
            proxies,
            tuple(names),
            float(seconds_per_cell),
        )
        self.prior_ = prior
        cols = [c for c in (proxies, prior) if c is not None]
        self._features = np.column_stack(cols) if cols else None
        self.__dict__.pop("_consensus", None)

    # ---- ask / tell --------------------------------------------------------------------------------
    def ask(self) -> Trial:
        if not self._queue:
            self._plan()
        index, fid, rnd = self._queue.popleft()
        info: dict[str, Any] = {"phase": "screen" if rnd is not None else "final"}
        if index in self._pick_score:  # the screen's value for it (acquisition or free score)
            info["score"] = self._pick_score.pop(index)
        if self._overhead > 0:
            info["overhead_s"] = self._overhead
            self._overhead = 0.0
        trial = self._new_trial(index, fidelity=fid, **info)
        if rnd is not None:
            self._owner[trial.trial_id] = rnd
        return trial

    def tell(self, trial: Trial, obs: Observation) -> None:
        self._seen.add(trial.index)
        acc = float(obs.valid_acc)
        fid = self.top if trial.fidelity is None else int(trial.fidelity)
        if np.isfinite(acc):
            (self._top_obs if fid == self.top else self._low_obs)[int(trial.index)] = acc
        rnd = self._owner.pop(trial.trial_id, None)
        if rnd is None:
            return
        rnd.results.append((acc if np.isfinite(acc) else -np.inf, int(trial.index)))
        rnd.pending -= 1
        if rnd.pending == 0:  # the round's screenings are in: its best is trained to the end, first
            best = max(rnd.results, key=lambda r: (r[0], -r[1]))[1]
            self._queue.appendleft((best, self.top, None))

    # ---- one round ---------------------------------------------------------------------------------
    def _plan(self) -> None:
        if self._seen.exhausted:  # every class proposed: train random cells to the end
            self._queue.append((self._random_cell(), self.top, None))
            return
        pool = self._pool()
        new = pool[~self._scored[pool]]
        self._scored[new] = True
        self._charge(len(new) * self._proxy_s)
        k = self.n_screen if self.low is not None else self.batch_size
        scores = self._scores(pool)
        picked = top_k(scores, min(k, len(pool)))
        chosen = pool[picked]
        self._pick_score.update(zip(chosen.tolist(), scores[picked].tolist()))
        self._seen.add(chosen)
        if self.low is None:
            self._queue.extend((int(c), self.top, None) for c in chosen)
            return
        rnd = _Round([int(c) for c in chosen], len(chosen))
        self._queue.extend((int(c), self.low, rnd) for c in chosen)

    def _charge(self, seconds: float) -> None:
        self._overhead += seconds
        self.overhead_s_ += seconds

    def _pool(self) -> np.ndarray:
        parts = [self._seen.random_unseen(self.rng, self.n_random)] if self.n_random else []
        parents = self._parents()
        if len(parents):
            parts.append(
                mutate_indices(
                    self.space, parents, self.n_candidates, self.rng, max_edits=self.max_edits
                )
            )
        if self.prior_ is not None:
            cand = np.asarray(self.space.candidates, dtype=np.int64)
            order = cand[np.argsort(-self.prior_[cand], kind="stable")]
            parts.append(self._seen.unseen(order)[: self.n_candidates])
        pool = self._seen.unseen(np.concatenate(parts)) if parts else np.empty(0, np.int64)
        if len(pool) == 0:
            pool = self._seen.random_unseen(self.rng, max(self.n_random, 1))
        return pool

    def _parents(self) -> np.ndarray:
        """The best cells trained so far (final values first, then low-fidelity ones), best first."""
        ranked = sorted(self._top_obs.items(), key=lambda kv: (-kv[1], kv[0]))
        ranked += sorted(
            ((c, v) for c, v in self._low_obs.items() if c not in self._top_obs),
            key=lambda kv: (-kv[1], kv[0]),
        )
        return np.array([c for c, _ in ranked[: self.n_parents]], dtype=np.int64)

    # ---- the screen --------------------------------------------------------------------------------
    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Cells and values on the final scale: final observations, plus low-fidelity ones mapped by a
        least-squares line fitted on cells observed at both (``use_screen_data``)."""
        x = list(self._top_obs)
        y = [self._top_obs[c] for c in x]
        pairs = [c for c in self._low_obs if c in self._top_obs]
        if self.use_screen_data and len(pairs) >= MIN_PAIRS:
            lo = np.array([self._low_obs[c] for c in pairs])
            hi = np.array([self._top_obs[c] for c in pairs])
            if np.ptp(lo) > 0:
                slope, icpt = np.polyfit(lo, hi, 1)
                only = [c for c in self._low_obs if c not in self._top_obs]
                x += only
                y += [float(icpt + max(slope, 0.0) * self._low_obs[c]) for c in only]
        return np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.float64)

    def _scores(self, pool: np.ndarray) -> np.ndarray:
        x, y = self._training_data()
        if len(self._top_obs) < self.min_fit or len(np.unique(y)) < 2:
            return self._free_score(pool)
        with limited_threads(self.threads, torch_model=False):
            if len(y) != self._fit_n:  # new data since the last fit
                self._fit(x, y)
            mean, std = self.model_.predict(pool, return_std=True)
            best = float(np.max(self.model_.predict(x))) if self.acquisition == "ei" else np.nan
        return acquisition_scores(self.acquisition, mean, std, best=best, rng=self.rng)

    def _free_score(self, pool: np.ndarray) -> np.ndarray:
        """Before the predictor: the prior where given, else the proxies' consensus, else random."""
        if self.prior_ is not None:
            return self.prior_[pool]
        if self.proxy_table_ is not None:
            from predictors.features import consensus_score

            if not hasattr(self, "_consensus"):
                self._consensus = consensus_score(self.proxy_table_, self.space)
            return self._consensus[pool]
        return self.rng.random(len(pool))

    def _fit(self, x: np.ndarray, y: np.ndarray) -> None:
        from predictors.registry import make_predictor

        if self.model_ is None:
            options: dict[str, Any] = {"space": self.space}
            params = inspect.signature(self._predictor_cls.__init__).parameters
            if self._features is not None and "cell_features" in params:
                options["cell_features"] = self._features
            if self.predictor == "gp":  # bo-gp's refit settings (strategies/bayesopt.py)
                options.update(warm_start=True, n_restarts=0, max_iter=50, warm_iter=5)
            seed = int(self.rng.integers(2**31 - 1))
            self.model_ = make_predictor(self.predictor, seed=seed, **options)
        self.model_.fit(x, y)
        self._fit_n = len(y)
        self.n_fits_ += 1
        self._charge(self.fit_cost_s)
