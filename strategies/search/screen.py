"""What a real search knows before training anything, and how it reads a curve that is still training.

Screen: ``log params`` and ``log FLOPs`` of the searched network (counted from the cell for the preset's
width, depth and input size: free) and, unless ``--prior none``, another dataset's NB201 table as a transfer
prior (NB201 CIFAR-10 ranks our Fashion-MNIST cells with Spearman 0.72, datasets/README.md). ``lowcost``
ranks candidates by their consensus until it has trained ``min_fit`` cells, then by a GP on them.

Stop: at each checkpoint epoch k a training's first k validation accuracies go to a learning-curve
extrapolator (default Domhan et al.'s parametric ensemble fitted by MAP/Laplace, ``fast``; any of
``predictors.curves``, fitted on the finished trainings with ``--early-stop-fit``); the training stops when
P(final > best final so far) < threshold. ``median`` is Vizier's median rule over the finished trainings'
running averages.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from surrogate.space import SearchSpace


def screen_tables(
    dataset: str, preset: Any, prior: str, space: SearchSpace
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray | None]:
    """(proxies (n_cells, 2) higher = better, their names, prior column or None)."""
    from surrogate.costmodel import flops_m, params_m
    from surrogate.training.data import dataset_info

    _, n_classes, _, native = dataset_info(dataset)
    side = preset.image_size or native
    cells = np.arange(space.n_cells)
    params = params_m(cells, n_classes=n_classes, C=preset.C, N=preset.N)
    flops = flops_m(cells, n_classes=n_classes, C=preset.C, N=preset.N, input_hw=side)
    proxies = np.column_stack([np.log(params), np.log(flops)])
    column = None
    if prior != "none":
        from strategies.screen_tables import prior_column

        bench, _, source = prior.partition(":")
        column = prior_column(bench, dataset, source, space)
    return proxies, ("params", "flops"), column


class StopRule:
    """Decides at a checkpoint whether a training goes on; learns from every finished training.

    ``extrapolator`` names a ``predictors.curves`` extrapolator for ``domhan``; with ``fit`` it is fitted on
    the finished trainings' complete curves (refitted as they come), after ``calibration`` (an earlier
    study's complete curves, ``--early-stop-calibration``; it implies ``fit``). ``min_completed`` finished
    trainings come before any stop (default 1; ``strategies.pruning.MIN_FIT`` with ``fit`` and no
    calibration, as ``nasscout run``)."""

    def __init__(
        self,
        rule: str,
        threshold: float,
        epochs: int,
        *,
        seed: int,
        extrapolator: str = "fast",
        fit: bool = False,
        min_completed: int | None = None,
        calibration: np.ndarray | None = None,
    ) -> None:
        from strategies.pruning import MIN_FIT

        self.rule, self.threshold, self.epochs, self.seed = rule, threshold, epochs, seed
        self.calibration = (
            None if calibration is None else np.asarray(calibration, dtype=np.float64)
        )
        self.extrapolator, self.fit = extrapolator, bool(fit) or self.calibration is not None
        default = MIN_FIT if self.fit and self.calibration is None else 1
        self.min_completed = max(1, default if min_completed is None else int(min_completed))
        self.finished: list[np.ndarray] = []  # complete valid_acc curves
        self._extrapolator: Any = None
        self._fitted_on, self._fitted = 0, False

    @property
    def best(self) -> float:
        finals = [c[-1] for c in self.finished if np.isfinite(c[-1])]
        return max(finals) if finals else -math.inf

    def learn(self, curve: list[float]) -> None:
        c = np.asarray(curve, dtype=np.float64)
        if len(c) == self.epochs:
            self.finished.append(c)

    def decide(self, curve: list[float]) -> dict[str, Any]:
        """{"stop": bool, "predicted_final", "p_better", "reason"} for a partial curve."""
        k = len(curve)
        out: dict[str, Any] = {"stop": False, "predicted_final": None, "p_better": None}
        if self.rule == "none" or k >= self.epochs:
            return out | {"reason": "trained to the end"}
        if not self.finished:
            return out | {"reason": f"continue at epoch {k}: no finished training to compare with"}
        values = np.full((1, self.epochs), np.nan)
        values[0, :k] = curve
        if not np.isfinite(values[0, :k]).all():
            return out | {"stop": True, "reason": f"stopped at epoch {k}: the curve is not finite"}
        if len(self.finished) < self.min_completed:
            return out | {
                "reason": f"continue at epoch {k}: {len(self.finished)} of {self.min_completed} "
                "finished trainings before any stop"
            }
        if self.rule == "median":
            done = np.array(self.finished)
            running = np.cumsum(done, axis=1) / np.arange(1, self.epochs + 1)
            median = float(np.median(running[:, k - 1]))
            best_so_far = float(np.max(curve))
            stop = best_so_far < median
            verb = "stopped" if stop else "continue"
            return out | {
                "stop": bool(stop),
                "reason": f"{verb} at epoch {k}: best so far {best_so_far:.2f} "
                f"{'<' if stop else '>='} median running average {median:.2f}",
            }
        from predictors.curves import Curves, make_extrapolator

        if self._extrapolator is None:
            self._extrapolator = make_extrapolator(self.extrapolator, seed=self.seed)
        finished = [c for c in self.finished if np.isfinite(c).all()]
        if self.fit and (len(finished) != self._fitted_on or not self._fitted):
            # calibrate on every finished training, after the earlier study's curves (if any)
            known = [*(() if self.calibration is None else self.calibration), *finished]
            self._extrapolator.fit(Curves(np.clip(np.array(known), 0.0, 100.0)))
            self._fitted_on, self._fitted = len(finished), True
        pred = self._extrapolator.predict(Curves(np.clip(values, 0.0, 100.0)), self.epochs)
        mean, p = float(pred.mean[0]), float(pred.prob_above(self.best)[0])
        stop = p < self.threshold
        verb = "stopped" if stop else "continue"
        return {
            "stop": bool(stop),
            "predicted_final": mean,
            "p_better": p,
            "reason": f"{verb} at epoch {k}: P(final > best {self.best:.2f}) = {p:.3f} "
            f"{'<' if stop else '>='} {self.threshold} (predicted final {mean:.2f})",
        }
