"""Successive halving and Hyperband on a benchmark's own fidelities (NB201: 12 and 200 epochs).

Both need at least two fidelities and refuse, in one line at construction, a dataset with one (a table that records
final results only): there, every bracket would be a single cell at the top
fidelity, which is random search without replacement, and reporting it as ``sh`` would mislead.

Rungs are the fidelities the benchmark records, not the geometric ladder ``R * eta**-k`` of the papers: NB201
trains each cell for 12 or for 200 epochs and nothing in between, and its 12-epoch run is a *separate, shorter
schedule*. Promoting a cell therefore starts a new 200-epoch training run (costing its full time); nothing of
the 12-epoch run is reused or spliced into it.

Budget: every evaluation is one query, whatever its fidelity. On NB201 a 12-epoch run costs about 6% of the
simulated time of a 200-epoch run, so for a budget in simulated seconds successive halving screens many cells
cheaply; for a budget in queries a screened cell costs as much as a fully trained one, so (with eta=3) a
200-query budget buys about 150 evaluations at 12 epochs and 50 at 200. When the context gives a query
budget, the last bracket is shrunk to fit it, so no query is spent on a screening whose winners could no
longer be trained (a budget in seconds is not forecast: brackets are not trimmed for it).

``promote="extrapolated"`` ranks a rung by a learning-curve extrapolator's mean at the top rung (Domhan et
al.'s predicted final) instead of the value at the rung. That reads a rung's curve as the start of the final
training, which is true only where the rungs are epochs of one schedule (``surrogate.epochs.EpochFidelities``
over a table with curves, e.g. epochs 5 and 20 of the Fashion-MNIST mini set); on NB201's 12- and 200-epoch
schedules it is refused in one line.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace


def bracket_sizes(n0: int, n_rungs: int, eta: float) -> list[int]:
    """Cells per rung when ``n0`` start and the best ``1/eta`` (at least one) go on at each rung."""
    sizes = [int(n0)]
    for _ in range(n_rungs - 1):
        sizes.append(max(1, int(sizes[-1] // eta)))
    return sizes


@dataclass
class _Bracket:
    """One successive-halving bracket over ``rungs`` (fidelities, ascending)."""

    bid: int
    rungs: tuple[int, ...]
    sizes: list[int]
    queue: deque = field(default_factory=deque)  # cells ready to be asked at the current rung
    rung: int = 0  # the rung being filled
    results: dict = field(default_factory=dict)  # rung -> list of (acc, index)
    curves: dict = field(
        default_factory=dict
    )  # rung -> list of observed curves (promote="extrapolated")
    pending: int = 0  # asked at the current rung, not told yet
    asked: int = 0  # asked in total

    @property
    def total(self) -> int:
        return sum(self.sizes)

    @property
    def done(self) -> bool:
        return self.asked == self.total and self.pending == 0


class SuccessiveHalving(Strategy):
    """Synchronous successive halving (Jamieson & Talwalkar 2016; Karnin et al. 2013) over the fidelities.

    A bracket draws ``n_configs`` cells never evaluated before, trains each at the lowest fidelity, and promotes
    the best ``floor(n/eta)`` (at least one), ranked by observed validation accuracy, to the next fidelity,
    until the highest. Brackets repeat until the budget ends.

    Defaults: ``eta=3`` (Hyperband, Li et al. 2018; Syne Tune's reduction factor); ``n_configs`` defaults to
    ``eta ** floor(log_eta(max_fidelity / min_fidelity))``, the size of Hyperband's most exploratory bracket for
    this fidelity range: 9 on NB201 (200/12 = 16.7 -> 3**2), i.e. 9 cells at 12 epochs, the best 3 at 200
    (12 queries per bracket).

    Several workers: a bracket waits for all its results at a rung before promoting (that is what makes it
    synchronous); meanwhile free workers start the next bracket's lowest rung instead of idling, and the oldest
    bracket's promotions are always asked first.
    """

    name = "sh"
    summary = "successive halving: screen cells at 12 epochs, train the best third at 200 (eta=3)"
    multi_fidelity = True
    min_fidelities = 2
    wants_curves = True  # used only with promote="extrapolated" on epochs of one schedule

    @classmethod
    def unsupported(cls, space: SearchSpace, context: SearchContext) -> str | None:
        """With one fidelity there is no cheaper rung to screen on: every bracket would be one cell at the top
        fidelity, i.e. random search under another name, so we refuse rather than report it as ``sh``."""
        reason = super().unsupported(space, context)
        if reason is not None:
            return f"{reason}; with one fidelity it would only be random search (use rs)"
        return None

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        eta: float = 3,
        n_configs: int | None = None,
        promote: str = "observed",
        extrapolator: str = "fast",
    ):
        super().__init__(space, seed=seed, context=context)
        self.promote = _check_promote(self.name, promote, self.context)
        self._extrapolator = None
        if self.promote == "extrapolated":
            from strategies.pruning import make_early_stop

            make_early_stop("domhan", extrapolator=extrapolator)  # a training-free one, or one line
            from predictors.curves import make_extrapolator

            self._extrapolator = make_extrapolator(extrapolator, seed=self.seed)
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 1):
            raise NasscoutError(f"{self.name}: eta {eta!r} is invalid; accepted: a number > 1")
        fids = sorted({int(f) for f in self.context.fidelities})
        if not fids or fids[0] <= 0:
            raise NasscoutError(
                f"{self.name}: fidelities {self.context.fidelities!r} are invalid; accepted: epochs > 0"
            )
        self.eta = float(eta)
        self.rungs = tuple(fids)
        if n_configs is None:
            s = int(
                math.floor(math.log(self.rungs[-1] / self.rungs[0]) / math.log(self.eta) + 1e-9)
            )
            n_configs = int(round(self.eta**s))
        if not (isinstance(n_configs, (int, np.integer)) and n_configs >= 1):
            raise NasscoutError(
                f"{self.name}: n_configs {n_configs!r} is invalid; accepted: an integer >= 1"
            )
        self.n_configs = int(n_configs)
        self._seen = np.zeros(space.n_cells, dtype=bool)
        self._n_seen = 0
        self._brackets: list[_Bracket] = []
        self._owner: dict[int, tuple[_Bracket, int]] = {}  # trial_id -> (bracket, rung index)
        self._n_brackets = 0
        self.history: list[_Bracket] = []  # finished brackets (for inspection and tests)

    # ---- bracket plans (Hyperband overrides) ------------------------------------------------------
    def _plan(self) -> tuple[int, int]:
        """(index of the bracket's first rung, cells at that rung) for the next bracket."""
        return 0, self.n_configs

    # ---- helpers ------------------------------------------------------------------------------------
    def _sample_unseen(self, n: int) -> list[int]:
        out: list[int] = []
        while len(out) < n:
            if self._n_seen >= len(self.space.candidates):  # space exhausted: allow repeats
                out.append(self._random_cell())
                continue
            i = self._random_cell()
            if not self._seen[i]:
                self._seen[i] = True
                self._n_seen += 1
                out.append(i)
        return out

    def _committed(self) -> int:
        return sum(b.total - b.asked for b in self._brackets)

    def _fit_to_budget(self, start: int, n: int) -> tuple[int, int]:
        """Shrink the next bracket so that, with the brackets in flight, it ends within the query budget."""
        budget = self.context.budget_queries
        if budget is None:
            return start, n
        left = int(budget) - self._next_id - self._committed()
        if left <= 0:
            return start, n  # past the budget (the runner decides when to stop): keep the plan
        rungs = len(self.rungs) - start
        while n > 1 and sum(bracket_sizes(n, rungs, self.eta)) > left:
            n -= 1
        while rungs > 1 and sum(bracket_sizes(n, rungs, self.eta)) > left:
            start, rungs = start + 1, rungs - 1  # too few queries to screen: train directly
        return start, n

    def _new_bracket(self) -> _Bracket:
        start, n = self._fit_to_budget(*self._plan())
        rungs = self.rungs[start:]
        b = _Bracket(self._n_brackets, rungs, bracket_sizes(n, len(rungs), self.eta))
        b.queue.extend(self._sample_unseen(n))
        self._n_brackets += 1
        self._brackets.append(b)
        return b

    # ---- ask/tell -----------------------------------------------------------------------------------
    def ask(self) -> Trial:
        bracket = next((b for b in self._brackets if b.queue), None) or self._new_bracket()
        index = bracket.queue.popleft()
        bracket.pending += 1
        bracket.asked += 1
        trial = self._new_trial(index, fidelity=bracket.rungs[bracket.rung])
        self._owner[trial.trial_id] = (bracket, bracket.rung)
        return trial

    def tell(self, trial: Trial, obs: Observation) -> None:
        owner = self._owner.pop(trial.trial_id, None)
        if owner is None:
            return  # not ours (e.g. replayed from another strategy): nothing to learn
        bracket, rung = owner
        acc = float(obs.valid_acc)
        bracket.results.setdefault(rung, []).append(
            (acc if math.isfinite(acc) else -math.inf, trial.index)
        )
        if self._extrapolator is not None:
            bracket.curves.setdefault(rung, []).append(obs.curve)
        bracket.pending -= 1
        self._advance(bracket)

    def _advance(self, b: _Bracket) -> None:
        if b.pending or b.queue or len(b.results.get(b.rung, [])) < b.sizes[b.rung]:
            return
        if b.rung + 1 < len(b.rungs):
            told = b.results[b.rung]
            accs = np.array([a for a, _ in told])
            if self._extrapolator is not None:
                accs = self._extrapolated(b.curves[b.rung], accs, b.rungs[-1])
            idx = np.array([i for _, i in told])
            order = np.lexsort((idx, -accs))  # best observed first; ties: the smaller index
            b.rung += 1
            b.queue.extend(int(i) for i in idx[order[: b.sizes[b.rung]]])
        elif b.done:
            self._brackets.remove(b)
            self.history.append(b)

    def _extrapolated(self, curves: list, accs: np.ndarray, target: int) -> np.ndarray:
        """Rank by the extrapolator's mean at the top rung, from each cell's curve so far (Domhan et al.'s
        predicted final instead of the current value); a cell without a usable curve keeps its value."""
        from predictors.curves import Curves

        ok = [i for i, c in enumerate(curves) if c is not None and 2 <= len(c) < target]
        if not ok:
            return accs
        L = max(len(curves[i]) for i in ok)
        values = np.full((len(ok), L), np.nan)
        for row, i in enumerate(ok):
            values[row, : len(curves[i])] = curves[i]
        seen = values[~np.isnan(values)]
        lo, hi = (0.0, 100.0) if seen.min() >= 0 and seen.max() <= 100 else (seen.min(), seen.max())
        pred = self._extrapolator.predict(Curves(values, bounds=(lo, hi + 1e-9)), target)
        out = accs.copy()
        out[ok] = pred.mean
        return out


def _check_promote(name: str, promote: str, context: SearchContext) -> str:
    if promote not in ("observed", "extrapolated"):
        raise NasscoutError(
            f"{name}: promote {promote!r} is invalid; accepted: observed (the value at the rung) or "
            "extrapolated (a learning-curve extrapolator's mean at the top rung)"
        )
    if promote == "extrapolated" and context.fidelity_kind != "epochs":
        raise NasscoutError(
            f"{name}: promote='extrapolated' needs rungs that are epochs of one training schedule "
            "(surrogate.epochs.EpochFidelities over a table with curves); these fidelities are separate "
            "schedules (NB201's 12-epoch run is not the start of its 200-epoch run), so nothing may be spliced"
        )
    return promote


class Hyperband(SuccessiveHalving):
    """Hyperband (Li et al. 2018): successive-halving brackets that start at every fidelity in turn.

    With the benchmark's fidelities as rungs, ``s_max = len(fidelities) - 1`` (1 on NB201): bracket ``s`` starts
    at rung ``s_max - s``. The most exploratory bracket has ``n_configs`` cells (as ``sh``); every other bracket
    gets as many cells as fit in the same number of training epochs -- Hyperband's "every bracket spends about
    the same budget" rule, computed with the real fidelities since they are not a geometric ladder. On NB201
    with eta=3: bracket 1 = 9 cells at 12 epochs -> best 3 at 200 (708 epochs), bracket 0 = 3 cells straight
    at 200 (600 epochs); the brackets alternate, 15 queries per cycle.
    """

    name = "hyperband"
    summary = (
        "Hyperband: successive-halving brackets starting at 12 and at 200 epochs in turn (eta=3)"
    )

    def _plan(self) -> tuple[int, int]:
        s_max = len(self.rungs) - 1
        s = s_max - (self._n_brackets % (s_max + 1))
        start = s_max - s
        if start == 0:
            return 0, self.n_configs
        epochs = self._epochs(self.n_configs, self.rungs)
        rungs = self.rungs[start:]
        n = 1
        while self._epochs(n + 1, rungs) <= epochs:
            n += 1
        return start, n

    def _epochs(self, n: int, rungs: tuple[int, ...]) -> int:
        """Training epochs a bracket of ``n`` cells over ``rungs`` costs."""
        sizes = bracket_sizes(n, len(rungs), self.eta)
        return sum(k * r for k, r in zip(sizes, rungs, strict=True))
