"""The early-stopping protocol of LC-PFN's paper (Adler et al. 2023, after Domhan et al. 2015), vectorised.

A set of real learning curves is trained in R random orders; each training is watched at the checkpoint
epochs and stopped or continued by a rule of ``strategies.pruning``. Per order: the epochs (and seconds) used
against training everything to the end, and the regret of the final pick: the best final value among the
trainings that completed, against the best of all. Loops run over positions in the order (N steps), each
step vectorised over the R orders; the extrapolator is asked once per checkpoint for all curves, and the
decision for any (curve, checkpoint, best-so-far) is a lookup in P[i, k, j] = P(final_i > final_j | the first
k epochs of curve i), because "the best final so far" is always one of the N finals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from strategies.pruning import EarlyStop, first_true


@dataclass
class SimResult:
    """Per order: epochs and seconds used, regret of the final pick, trainings stopped."""

    rule: str
    epochs: np.ndarray  # (R,) epochs trained in total
    seconds: np.ndarray  # (R,) seconds charged in total
    regret: np.ndarray  # (R,) best final of all - best final among completed trainings
    stopped: np.ndarray  # (R,) number of trainings stopped
    full_epochs: int
    full_seconds: float
    predict_s: float = 0.0  # time spent in the extrapolator

    def summary(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "orders": len(self.epochs),
            "epoch_saving": self.full_epochs / float(self.epochs.mean()),
            "time_saving": self.full_seconds / float(self.seconds.mean()),
            "regret_mean": float(self.regret.mean()),
            "regret_p90": float(np.quantile(self.regret, 0.9)),
            "found_best": float(np.mean(self.regret == 0)),
            "stopped_mean": float(self.stopped.mean()),
            "predict_s": self.predict_s,
        }


def random_orders(n: int, n_orders: int, seed: int) -> np.ndarray:
    """(R, n) permutations, a function of the seed alone."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((n_orders, n)), axis=1)


def domhan_table(
    curves: np.ndarray,
    checkpoints: np.ndarray,
    extrapolator: Any,
    bounds: tuple[float, float] = (0.0, 100.0),
    *,
    folds: int = 0,
) -> tuple[np.ndarray, float]:
    """P[i, k, j] = P(final_i > final_j | curve i up to checkpoint k), and the seconds the extrapolator took.

    ``folds`` >= 2: the extrapolator is first fitted on the complete curves of the other folds (cells split
    by position modulo ``folds``): a calibration on other cells of the same benchmark, never on the curve
    it predicts. 0: used as it comes (training-free)."""
    from predictors.curves import Curves

    n, T = curves.shape
    finals = curves[:, -1]
    lo, hi = bounds
    full = Curves(np.clip(curves, lo, hi), bounds=(lo, hi))
    P = np.empty((n, len(checkpoints), n))
    fold = np.arange(n) % max(folds, 1)
    t0 = time.perf_counter()
    for f in range(max(folds, 1)):
        rows = np.flatnonzero(fold == f)
        if folds >= 2:
            extrapolator.fit(full.subset(np.flatnonzero(fold != f)))
        part = full.subset(rows)
        for a, k in enumerate(np.asarray(checkpoints).tolist()):
            pred = extrapolator.predict(part.cut(k), T)
            for j in range(n):  # one threshold per call: "the best so far" is each final in turn
                P[rows, a, j] = pred.prob_above(finals[j])
    return P, time.perf_counter() - t0


def simulate(
    config: EarlyStop,
    curves: np.ndarray,
    cost: np.ndarray,
    cost_fraction: np.ndarray,
    orders: np.ndarray,
    *,
    P: np.ndarray | None = None,
) -> SimResult:
    """Train the curves (n, T) in every order of ``orders`` (R, n) under the rule ``config``.

    ``cost`` (n,) seconds of a full training; ``cost_fraction`` (n, T) the share spent after each epoch;
    ``P`` the table of :func:`domhan_table` for the rule ``domhan``.
    """
    n, T = curves.shape
    R = len(orders)
    finals = curves[:, -1]
    checkpoints = np.arange(config.first_checkpoint(T), T)
    need = max(1, config.n_completed())
    epochs = np.zeros(R)
    seconds = np.zeros(R)
    stopped = np.zeros(R, dtype=np.int64)
    done = np.zeros((R, n), dtype=bool)
    n_done = np.zeros(R, dtype=np.int64)
    best = np.full(R, -1, dtype=np.int64)  # index of the best completed final so far
    rows = np.arange(R)
    if config.rule == "median":
        avg = (np.cumsum(curves, axis=1) / np.arange(1, T + 1))[:, checkpoints - 1]  # (n, K)
        best_so_far = np.fmax.accumulate(curves, axis=1)[:, checkpoints - 1]  # (n, K)
    for t in range(n):
        c = orders[:, t]
        k = np.zeros(R, dtype=np.int64)
        ready = n_done >= need
        if config.rule == "domhan" and ready.any():
            assert P is not None, "the domhan rule needs the probability table P"
            prob = P[c, :, np.maximum(best, 0)]  # (R, K)
            k = first_true((prob < config.threshold) & ready[:, None], checkpoints)
        elif config.rule == "median" and ready.any():
            masked = np.where(done[:, :, None], avg[None, :, :], np.nan)  # (R, n, K)
            with np.errstate(all="ignore"):
                med = np.nanmedian(masked[ready], axis=1)  # (ready, K)
            stop = np.zeros((R, len(checkpoints)), dtype=bool)
            stop[ready] = best_so_far[c[ready]] < med
            k = first_true(stop, checkpoints)
        halted = k > 0
        used = np.where(halted, k, T)
        epochs += used
        seconds += cost[c] * cost_fraction[c, used - 1]
        stopped += halted
        fin = ~halted
        done[rows[fin], c[fin]] = True
        n_done += fin
        better = fin & ((best < 0) | (finals[c] > finals[np.maximum(best, 0)]))
        best = np.where(better, c, best)
    regret = finals.max() - finals[best]
    return SimResult(config.rule, epochs, seconds, regret, stopped, n * T, float(np.sum(cost)))
