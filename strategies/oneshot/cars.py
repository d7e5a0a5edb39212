"""CARS (Yang et al., "CARS: Continuous Evolution for Efficient Neural Architecture Search", CVPR 2020) on the
NB201 supernet.

A population of cells lives inside one supernet. After a uniform single-path warm-up (every batch trains a cell
drawn uniformly from the whole space, SPOS-style, so that every op is trained fairly before any selection), the
search alternates:

1. parameter optimisation: for ``interval`` epochs, every batch trains one member of the population drawn at
   random (the paper's mini-batch of architectures with N_b = 1);
2. architecture optimisation at the end of the interval: ``offspring * pop_size`` children are bred from the
   population (each: with probability 1/4 a mutation of a random parent, every edge redrawn with probability
   1/2; 1/4 a crossover of two random parents, every edge from either with probability 1/2; otherwise a new
   random cell), parents and children are scored by inherited weights, and pNSGA-III keeps ``pop_size``.

pNSGA-III (the paper's protection of slow starters, the "small model trap"): besides the non-dominated sorting
on (accuracy, params), a second sorting on (increase of accuracy, params); the k-th fronts of both sortings are
merged stage by stage until the population is full, the last stage drawn at random (``cars_select`` from
``strategies.nsga``, shared with the tabular ``pnsga3``). The increase of accuracy of a cell is its accuracy
with the current shared weights minus its accuracy with the weights of the previous architecture step (a copy
of the supernet kept for this): every candidate, child or parent, is measured over the same stretch of shared
training, so the slope favours cells whose inherited accuracy is still rising. ``protect="size"`` uses the
released vega code's variant instead (second sorting on (accuracy, -params), protecting large models directly).

Defaults, and whose they are:

- the paper's: warm-up for 10 % of the budget (50 of 500 epochs), 1 architecture per mini-batch, offspring
  ratio t = 1, operator shares 1/4 mutation, 1/4 crossover, 1/2 random, per-edge rates 1/2, selection on
  (accuracy, params) with the accuracy-increase protection;
- ours: ``pop_size=16`` (the paper: 128 on 25,000 validation images on a GPU; here every architecture step
  scores about 3 x pop_size cells on a CPU), ``interval=1`` epoch (the paper: 10 epochs of 500, i.e. 45
  generations; with budgets of tens of epochs one epoch keeps the number of generations in that range),
  scoring on the first ``eval_images=256`` validation images after ``recal_batches=2`` BatchNorm-recalibration
  batches (the paper evaluates on its whole held-out half). ``result()`` returns the front by these search
  scores and adds its scores on the whole validation split (``final_recal_batches=4``) as
  ``extra["valid_scores"]``.

Params per cell are ``surrogate.costmodel.params_m`` with the preset's C, N and classes (NB201's count; the
stem's input channels are fixed at 3 there, a constant offset that does not change any comparison).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from strategies.nsga import cars_select
from strategies.oneshot._checks import check_epochs, in_range, positive_int, reject_unknown
from strategies.oneshot.base import OneShotMethod, OneShotOutcome
from strategies.pareto import non_dominated_sort
from surrogate.costmodel import params_m
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_EDGES, N_OPS, NB201Space
from surrogate.training.supernet import SharedWeights, cell_ops
from surrogate.training.trainer import derived_seed

_SPACE = NB201Space()
_OPTIONS = (
    "pop_size",
    "warmup_epochs",
    "interval",
    "offspring",
    "protect",
    "eval_images",
    "recal_batches",
    "final_recal_batches",
)


class CARS(OneShotMethod):
    """Continuous evolution of a population inside the supernet, pNSGA-III on (accuracy, params); the result
    is the final population's Pareto front, best accuracy first."""

    name: ClassVar[str] = "cars"

    def __init__(
        self,
        sw: SharedWeights,
        *,
        seed: int,
        pop_size: int = 16,
        warmup_epochs: int | None = None,
        interval: int = 1,
        offspring: float = 1.0,
        protect: str = "growth",
        eval_images: int | None = 256,
        recal_batches: int = 2,
        final_recal_batches: int = 4,
        **options: Any,
    ) -> None:
        super().__init__(sw, seed=seed)
        reject_unknown(self.name, options, _OPTIONS)
        self.pop_size = positive_int(self.name, "pop_size", pop_size, minimum=2)
        if warmup_epochs is None:
            warmup_epochs = int(round(0.1 * sw.epochs))
        self.warmup = positive_int(self.name, "warmup_epochs", warmup_epochs, minimum=0)
        if self.warmup >= sw.epochs:
            raise NasscoutError(
                f"cars: warmup_epochs={warmup_epochs!r} leaves no epoch for evolution in a budget of "
                f"{sw.epochs}; accepted: 0..{sw.epochs - 1}"
            )
        self.interval = positive_int(self.name, "interval", interval)
        self.n_children = max(
            1,
            int(
                round(
                    in_range(self.name, "offspring", offspring, 0, 16, open_low=True)
                    * self.pop_size
                )
            ),
        )
        if protect not in ("growth", "size"):
            raise NasscoutError(f"cars: protect={protect!r} is invalid; accepted: growth, size")
        self.protect = protect
        if eval_images is not None:
            eval_images = positive_int(self.name, "eval_images", eval_images)
        self.eval_images = eval_images
        self.recal_batches = positive_int(self.name, "recal_batches", recal_batches, minimum=0)
        self.final_recal = positive_int(
            self.name, "final_recal_batches", final_recal_batches, minimum=0
        )
        self.rng = np.random.default_rng(derived_seed(seed, 30))
        p = sw.preset
        self._params_kw = {"n_classes": sw.splits.n_classes, "C": p.C, "N": p.N}
        # the population and its scores at the last architecture step (NaN before the first)
        self.population = self._unique_random(self.pop_size, set())
        self.pop_scores = np.full(self.pop_size, np.nan)
        self.pop_growth = np.full(self.pop_size, np.nan)
        self.generation = 0
        self.epochs_done = 0
        self._ref: dict[str, torch.Tensor] = {}  # shared weights at the previous architecture step
        self._maybe_snapshot()

    # -- schedule -------------------------------------------------------------------------------------
    def _is_step(self, done: int) -> bool:
        """Does an architecture step end after ``done`` epochs?"""
        return done > self.warmup and (done - self.warmup) % self.interval == 0

    def _maybe_snapshot(self) -> None:
        """Keep the shared weights that the next architecture step measures the accuracy increase from."""
        if self._is_step(self.epochs_done + self.interval):
            self._ref = {k: v.detach().clone() for k, v in self.sw.net.state_dict().items()}

    # -- cells ----------------------------------------------------------------------------------------
    def _unique_random(self, n: int, taken: set[int]) -> np.ndarray:
        out: list[int] = []
        while len(out) < n:
            c = int(self.rng.integers(_SPACE.n_cells))
            if c not in taken:
                taken.add(c)
                out.append(c)
        return np.array(out, dtype=np.int64)

    def _children(self) -> np.ndarray:
        """Children as CARS breeds them, distinct from each other and from the population."""
        taken = set(self.population.tolist())
        parents = _SPACE.ops(self.population).astype(np.int64)
        out: list[int] = []
        while len(out) < self.n_children:
            u = self.rng.random()
            if u < 0.25:  # mutation: each edge redrawn uniformly with probability 1/2
                p = parents[self.rng.integers(len(parents))]
                hit = self.rng.random(N_EDGES) < 0.5
                child = np.where(hit, self.rng.integers(0, N_OPS, N_EDGES), p)
            elif u < 0.5:  # uniform crossover of two random parents
                a, b = parents[self.rng.integers(len(parents), size=2)]
                child = np.where(self.rng.random(N_EDGES) < 0.5, a, b)
            else:
                child = self.rng.integers(0, N_OPS, N_EDGES)
            c = int(_SPACE.indices_from_ops(child)[0])
            if c not in taken:
                taken.add(c)
                out.append(c)
        return np.array(out, dtype=np.int64)

    def _score(self, cells: np.ndarray) -> np.ndarray:
        return self.sw.score(
            cells.tolist(), recal_batches=self.recal_batches, max_images=self.eval_images
        )

    def _score_at_reference(self, cells: np.ndarray) -> np.ndarray:
        """Scores with the weights of the previous architecture step (swapped in and back, bit for bit)."""
        net = self.sw.net
        now = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.load_state_dict(self._ref)
        try:
            return self._score(cells)
        finally:
            net.load_state_dict(now)

    def _params(self, cells: np.ndarray) -> np.ndarray:
        return params_m(cells, **self._params_kw)

    # -- the architecture step ------------------------------------------------------------------------
    def _evolve(self) -> None:
        children = self._children()
        pool = np.r_[self.population, children]
        acc = self._score(pool)
        before = np.r_[self.pop_scores, np.full(len(children), np.nan)]
        missing = np.isnan(before)
        before[missing] = self._score_at_reference(pool[missing])
        growth = acc - before
        size = self._params(pool)
        second = np.c_[-growth, size] if self.protect == "growth" else np.c_[-acc, -size]
        keep = cars_select([np.c_[-acc, size], second], self.pop_size, self.rng)
        self.population, self.pop_scores, self.pop_growth = pool[keep], acc[keep], growth[keep]
        self.generation += 1

    def _front(self) -> np.ndarray:
        """Positions in the population of its (accuracy, params) first front, best accuracy first."""
        f = np.c_[-self.pop_scores, self._params(self.population)]
        front = np.flatnonzero(non_dominated_sort(f) == 0)
        return front[np.lexsort((f[front, 1], f[front, 0]))]

    # -- the contract ---------------------------------------------------------------------------------
    def run_epoch(self, epoch: int, n_epochs: int) -> dict[str, Any]:
        check_epochs(self.name, n_epochs, self.sw.epochs, epoch)
        warm = self.epochs_done < self.warmup
        losses = []
        for xb, yb in self.sw.epoch_batches():
            if warm:
                cell = int(self.rng.integers(_SPACE.n_cells))
            else:
                cell = int(self.population[self.rng.integers(self.pop_size)])
            losses.append(self.sw.train_step(xb, yb, cell_ops(cell)))
        self.epochs_done += 1
        row: dict[str, Any] = {
            "epoch": epoch,
            "warmup": int(warm),
            "train_loss": float(np.mean(losses)),
            "generation": self.generation,
        }
        if self._is_step(self.epochs_done):
            self._evolve()
            row["generation"] = self.generation
        self._maybe_snapshot()
        if self.generation:
            front = self._front()
            sizes = self._params(self.population)
            row.update(
                best_cell=int(self.population[front[0]]),
                best_score=float(self.pop_scores[front[0]]),
                front_size=len(front),
                pop_mean_score=float(self.pop_scores.mean()),
                pop_mean_growth=float(self.pop_growth.mean()),
                pop_mean_params_m=float(sizes.mean()),
                pop_max_params_m=float(sizes.max()),
            )
        else:
            row.update(
                best_cell=-1,
                best_score=float("nan"),
                front_size=0,
                pop_mean_score=float("nan"),
                pop_mean_growth=float("nan"),
                pop_mean_params_m=float(self._params(self.population).mean()),
                pop_max_params_m=float(self._params(self.population).max()),
            )
        return row

    def result(self) -> OneShotOutcome:
        scores = self.pop_scores
        if not self.generation:  # peeking during warm-up: score the (random) population now
            scores = self._score(self.population)
        f = np.c_[-scores, self._params(self.population)]
        front = np.flatnonzero(non_dominated_sort(f) == 0)
        front = front[np.lexsort((f[front, 1], f[front, 0]))]  # best accuracy first, then smaller
        cells = self.population[front]
        full = self.sw.score(cells.tolist(), recal_batches=self.final_recal)
        return OneShotOutcome(
            method=self.name,
            chosen=[int(c) for c in cells],
            scores=[float(s) for s in scores[front]],
            extra={
                "params_m": [float(p) for p in f[front, 1]],
                "valid_scores": [float(s) for s in full],
                "growth": [float(g) for g in self.pop_growth[front]],
                "population": [int(c) for c in self.population],
                "population_scores": [float(s) for s in scores],
                "generations": self.generation,
                "warmup_epochs": self.warmup,
                "eval_images": self.eval_images,
                "protect": self.protect,
            },
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "population": torch.from_numpy(self.population.copy()),
            "pop_scores": torch.from_numpy(self.pop_scores.copy()),
            "pop_growth": torch.from_numpy(self.pop_growth.copy()),
            "generation": self.generation,
            "epochs_done": self.epochs_done,
            "rng": self.rng.bit_generator.state,
            "ref": dict(self._ref),
            "settings": [self.pop_size, self.warmup, self.interval, self.n_children, self.protect],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mine = [self.pop_size, self.warmup, self.interval, self.n_children, self.protect]
        if list(state["settings"]) != mine:
            raise NasscoutError(
                f"cars: the saved state has settings {list(state['settings'])}, this search {mine}; "
                "accepted: a state saved by a cars search with the same options"
            )
        self.population = state["population"].numpy().copy()
        self.pop_scores = state["pop_scores"].numpy().copy()
        self.pop_growth = state["pop_growth"].numpy().copy()
        self.generation = int(state["generation"])
        self.epochs_done = int(state["epochs_done"])
        self.rng.bit_generator.state = state["rng"]
        self._ref = {k: v.clone() for k, v in state["ref"].items()}
