"""``oneshot``: a cell's accuracy with the weights it inherits from a trained supernet, as a predictor.

It scores without labels: the ranking is the supernet's (``nasscout supernet train``), computed by
``surrogate.training.supernet_score`` (BatchNorm recalibrated on a few training batches, one cell per
isomorphism class, cached next to the supernet file so every split of an evaluation reuses the scores).
Like the training-free proxies, ``fit`` only calibrates the score to the target with a least-squares line
(slope kept positive), which gives predictions in the target's units and an interval; the ranking never
changes. NB201 cells only (the supernet is NB201's).

Options: ``supernet`` (the FILE; required), ``by`` ("loss": minus the mean validation cross-entropy, a
smoother signal than the accuracy of a few thousand images and the better ranker in
``benchmarks/bench_supernet_rank.py``; or "accuracy"), ``recal_batches`` (4), ``eval_images`` (None: all of
the preset's validation images), ``per_class`` (True), ``device`` ("auto"). E.g. ``nasscout predictors eval --predictors
oneshot --option oneshot.supernet=sn.pt --benchmark datasets/nb201-fmnist-mini.h5 --dataset fashion-mnist``.
The supernet's dataset need not be the evaluation's (a Fashion-MNIST supernet ranking CIFAR-10 accuracies is
a transfer question, and is what it answers then).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from predictors.zerocost import ProxyPredictor
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace


class OneShotPredictor(ProxyPredictor):
    name = proxy = "oneshot"
    summary = (
        "label-free: accuracy with weights inherited from a trained supernet (option supernet=FILE from "
        "`nasscout supernet train`); fit only calibrates, the ranking is the supernet's"
    )

    def __init__(
        self,
        *,
        seed: int = 0,
        space: SearchSpace | None = None,
        supernet: str | None = None,
        recal_batches: int = 4,
        eval_images: int | None = None,
        per_class: bool = True,
        by: str = "loss",
        device: str = "auto",
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.supernet = supernet
        self.recal_batches = recal_batches
        self.eval_images = eval_images
        self.per_class = per_class
        self.by = by
        self.device = device

    def _settings(self) -> Any:
        from surrogate.training.supernet_score import ScoreSettings

        return ScoreSettings(
            recal_batches=self.recal_batches,
            eval_images=self.eval_images,
            per_class=bool(self.per_class),
        ).check()

    def check_applicable(self) -> None:
        if self.__dict__.get("_cache_applicable"):
            return
        if self._space().name != "nb201":
            raise NasscoutError(
                f"predictor 'oneshot' scores NB201 cells on an NB201 supernet; space {self._space().name!r} "
                "has none"
            )
        if not self.supernet:
            raise NasscoutError(
                "predictor 'oneshot' needs a supernet file: give option supernet=FILE (CLI: --option "
                "oneshot.supernet=FILE; make one with `nasscout supernet train`)"
            )
        from surrogate.training.supernet_train import check_trained, read_supernet_file

        check_trained(self.supernet, read_supernet_file(self.supernet))
        self._settings()
        if self.by not in ("loss", "accuracy"):
            raise NasscoutError(f"by={self.by!r} is invalid; accepted: loss, accuracy")
        self.__dict__["_cache_applicable"] = True

    def score(self, archs: Any) -> np.ndarray:
        """Minus the inherited-weight validation loss (``by="loss"``) or the validation accuracy in percent
        (``by="accuracy"``) per cell; higher is better."""
        idx = self._space().indices(archs)
        self.check_applicable()
        if not len(idx):
            return np.zeros(0)
        from surrogate.training.supernet_score import supernet_losses, supernet_scores

        if self.by == "accuracy":
            return supernet_scores(self.supernet, idx, self._settings(), device=self.device)[1]
        return -supernet_losses(self.supernet, idx, self._settings(), device=self.device)

    def _scores(self, idx: np.ndarray, dataset: str) -> np.ndarray:
        return self.score(idx)

    def __repr__(self) -> str:
        return f"OneShotPredictor(supernet={self.supernet!r}, recal_batches={self.recal_batches})"
