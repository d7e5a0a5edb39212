"""Random search with weight sharing (Li & Talwalkar, UAI 2019): train the supernet on uniformly sampled cells,
then sample many cells, rank them cheaply with the shared weights, re-rank the best on the whole validation
split and keep the best.

From the paper: single-path training with a new uniformly random architecture for every minibatch (no
controller, no architecture weights); after training, a large random sample of architectures (1,000) is
evaluated with the shared weights on a small slice of the validation data, the best ones are evaluated again
on the full validation data and the best of those is the result.

Ours (NB201 on ``cpu-mini``): the supernet, optimiser and cosine schedule of ``SharedWeights`` (NB201's recipe;
the paper used DARTS's), scoring with BatchNorm statistics recalibrated per cell (``screen_recal`` batches for
the screen, ``recal_batches`` for the finalists), ``screen_images=500`` validation images for the screen,
``top_k=10`` finalists. ``candidates`` (a list of cells) restricts the final pick to them (training still
samples the whole space): ``nasscout oneshot search --cells table`` searches among our full-run cells, the
cells ``rea``/``bo-gp`` see on that table, so the comparison is like for like. Each budget epoch also scores ``probe_cells`` fixed random cells on ``probe_images``
images so that the search curve shows the shared weights improving.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strategies.oneshot.base import OneShotMethod, OneShotOutcome
from strategies.oneshot.common import (
    _candidates,
    check_positive,
    epoch_rng,
    select,
    uniform_cells,
)
from surrogate.training.supernet import SharedWeights, cell_ops

_TRAIN, _PROBE, _FINAL = 1, 2, 3  # RNG streams


class RSWS(OneShotMethod):
    """Uniform single-path training for the whole budget, then a two-stage random search on the weights."""

    name = "rsws"

    def __init__(
        self,
        sw: SharedWeights,
        *,
        seed: int,
        n_sample: int = 1000,
        screen_images: int = 500,
        screen_recal: int = 2,
        top_k: int = 10,
        recal_batches: int = 4,
        probe_cells: int = 4,
        probe_images: int = 250,
        candidates: list[int] | None = None,
    ) -> None:
        super().__init__(sw, seed=seed)
        self.n_sample = check_positive("n_sample", n_sample)
        self.screen_images = check_positive("screen_images", screen_images)
        self.screen_recal = check_positive("screen_recal", screen_recal, allow_zero=True)
        self.top_k = check_positive("top_k", top_k)
        self.recal_batches = check_positive("recal_batches", recal_batches, allow_zero=True)
        self.probe_cells = check_positive("probe_cells", probe_cells, allow_zero=True)
        self.probe_images = check_positive("probe_images", probe_images)
        self.probe = uniform_cells(epoch_rng(seed, _PROBE, 0), self.probe_cells).tolist()
        self.candidates = _candidates(candidates)
        self.outcome: dict[str, Any] | None = None  # the selection, once made

    def run_epoch(self, epoch: int, n_epochs: int) -> dict[str, Any]:
        steps = self.sw.steps_per_epoch - self.sw.step % self.sw.steps_per_epoch
        cells = uniform_cells(epoch_rng(self.seed, _TRAIN, epoch), steps)
        losses = [
            self.sw.train_step(xb, yb, cell_ops(int(c)))
            for (xb, yb), c in zip(self.sw.epoch_batches(), cells)
        ]
        row: dict[str, Any] = {"train_loss": float(np.mean(losses))}
        if self.probe:
            probe = self.sw.score(self.probe, recal_batches=1, max_images=self.probe_images)
            row["probe_acc"] = float(probe.mean())
        return self.finish_if_last(row, epoch, n_epochs)

    def _select(self) -> dict[str, Any]:
        rng = epoch_rng(self.seed, _FINAL, 0)
        if self.candidates is None:
            sample = uniform_cells(rng, self.n_sample)
        elif self.n_sample >= len(self.candidates):
            sample = np.asarray(self.candidates)
        else:
            sample = rng.choice(np.asarray(self.candidates), self.n_sample, replace=False)
        chosen, scores, info = select(
            self.sw,
            sample.tolist(),
            screen_images=self.screen_images,
            screen_recal=self.screen_recal,
            top_k=self.top_k,
            recal_batches=self.recal_batches,
        )
        return {"chosen": chosen, "scores": scores, "info": info}

    def result(self) -> OneShotOutcome:
        out = self.outcome if self.outcome is not None else self._select()
        extra = {"finalists": out["chosen"], "finalist_scores": out["scores"], **out["info"]}
        return OneShotOutcome(self.name, out["chosen"][:1], out["scores"][:1], extra)

    def state_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.outcome = state["outcome"]
