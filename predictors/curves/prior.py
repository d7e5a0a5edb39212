"""Synthetic learning curves for training the ``pfn`` extrapolator: LC-PFN's parametric prior, plus ours.

A PFN learns Bayesian inference for whatever prior it is trained on, so the prior *is* the model. Two parts:

**The paper's prior** (Adriaensen et al., NeurIPS 2023, LC-PFN; read from their paper and the public
``automl/lcpfn`` repository, re-implemented here, vectorised): a curve is an *unnormalised* weighted sum
``w1 pow3 + w2 ilog2 + w3 janoschek`` with every ``w ~ U(0, 1)``, parameters from their "peaked" priors
(``PAPER_PARAMS``), rejected unless it lies in [0, 1] and ends above where it starts; observations add
homoscedastic Gaussian noise with ``log sigma ~ N(-4, 1)`` (the repository's definition).

**Ours: a cosine learning-rate schedule** (``p_schedule`` of the curves, 0 = the paper's prior alone). The paper's
families saturate smoothly, but a run under cosine annealing (NB201's recipe, and our own Fashion-MNIST runs)
is noisy and dips hard while the learning rate is high, then climbs steadily as it decays to 0 at the last
epoch. With ``lr(s) = (1 + cos(pi s)) / 2`` at ``s = t / T`` such a curve is the paper's clean curve times
``1 - g lr(s)^p`` (an annealing gap ``g``), with noise ``sigma + sigma_lr lr(s)`` and downward spikes (a
fraction up to ``d_max`` of the value lost, each epoch with probability ``rho lr(s)``), its noise at lr = 0
from ``SCHEDULE_LOG_NOISE``. The ranges (``SCHEDULE_PARAMS``) are ours, and not blind: they were set so
that a few statistics of our own Fashion-MNIST curves (the share of epochs that dip 10% below the best so
far, the gain from the best of the first quarter/half to the final value, the late epoch-to-epoch noise) fall
inside the prior's spread rather than in its tail. From the best of the first quarter to the final value our
real curves gain a median 0.18 (20 epochs) and 0.12 (50 epochs); the paper's prior 0.01, our schedule part
0.14-0.15.

Curves live in the contract's normalised units (``u`` in [0, 1], higher is better); noisy values are clipped
to [0, 1] as ``Curves.normalised`` clips real ones. Everything is drawn from one ``np.random.Generator``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# the paper's "peaked" parameter priors: (kind, p1, p2); uniform(p1, p2) or lognormal(mean=p1, sigma=p2)
PAPER_PARAMS: dict[str, dict[str, tuple[str, float, float]]] = {
    "pow3": {"c": ("u", 0.0, 1.25), "a": ("u", -0.6, 0.6), "alpha": ("ln", 0.0, 2.0)},
    "ilog2": {"c": ("u", 0.0, 1.0), "a": ("u", -0.5, 0.5)},
    "janoschek": {
        "a": ("u", 0.0, 1.0),
        "beta": ("u", 0.0, 2.0),
        "k": ("ln", -2.0, 1.0),
        "delta": ("ln", 0.0, 0.5),
    },
}
PAPER_LOG_NOISE = (-4.0, 1.0)  # log sigma ~ N(-4, 1), the paper's (repository's) noise prior

# ours: the cosine-schedule extension, each a uniform range
SCHEDULE_PARAMS: dict[str, tuple[float, float]] = {
    "gap": (0.0, 0.6),  # g: fraction of the clean value missing at the start (lr = 1)
    "power": (0.5, 2.0),  # p: the gap follows lr(s) ** p (p < 1: most of the gain comes late)
    "log_sigma_lr": (float(np.log(0.001)), float(np.log(0.03))),  # extra noise at lr = 1
    "rho": (0.0, 0.6),  # spike probability per epoch at lr = 1
    "d_max": (0.05, 0.9),  # largest fraction of the value a spike removes
}
# ours: with lr -> 0 only evaluation noise is left (2,000 validation images: binomial sd ~ 0.007 at 90%)
SCHEDULE_LOG_NOISE = (-5.5, 1.0)


@dataclass(frozen=True)
class PriorSettings:
    """What the sampler draws; recorded next to the trained weights."""

    max_len: int = 100  # ours: curves of T in [min_len, max_len] epochs (the paper: always 100)
    min_len: int = 4
    p_schedule: float = 0.7  # ours: share of curves with the cosine-schedule shape (NB201's recipe)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "paper_params": PAPER_PARAMS,
            "paper_log_noise": PAPER_LOG_NOISE,
            "schedule_params": SCHEDULE_PARAMS,
            "schedule_log_noise": SCHEDULE_LOG_NOISE,
        }


def _draw(rng: np.random.Generator, spec: tuple[str, float, float], n: int) -> np.ndarray:
    kind, p1, p2 = spec
    return rng.uniform(p1, p2, n) if kind == "u" else rng.lognormal(p1, p2, n)


def _candidates(rng: np.random.Generator, n: int, x: np.ndarray) -> np.ndarray:
    """n unfiltered noiseless curves of the paper's 3-family mixture at epochs ``x`` (1-based), (n, len(x))."""
    p = {f: {k: _draw(rng, s, n)[:, None] for k, s in ps.items()} for f, ps in PAPER_PARAMS.items()}
    w = rng.uniform(0.0, 1.0, (n, 3))
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        pow3 = p["pow3"]["c"] - p["pow3"]["a"] * x ** (-p["pow3"]["alpha"])
        ilog2 = p["ilog2"]["c"] - p["ilog2"]["a"] / np.log(x + 1.0)
        j = p["janoschek"]
        jan = j["a"] - (j["a"] - j["beta"]) * np.exp(-j["k"] * x ** j["delta"])
        return w[:, :1] * pow3 + w[:, 1:2] * ilog2 + w[:, 2:] * jan


def clean_curves(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """n accepted noiseless curves of ``length`` epochs: in [0, 1], last value above the first."""
    x = np.arange(1, length + 1, dtype=np.float64)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        y = _candidates(rng, 2 * (n - have) + 8, x)
        ok = np.isfinite(y).all(1) & (y >= 0).all(1) & (y <= 1).all(1) & (y[:, -1] > y[:, 0])
        out.append(y[ok][: n - have])
        have += len(out[-1])
    return np.concatenate(out)[:n]


def _schedule(rng: np.random.Generator, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ours: the cosine-schedule shape, noise and spikes applied to clean curves: (noisy, clean)."""
    n, length = clean.shape
    s = np.arange(1, length + 1) / length
    lr = 0.5 * (1.0 + np.cos(np.pi * s))[None, :]  # 0 at the last epoch
    sp = {k: rng.uniform(lo, hi, (n, 1)) for k, (lo, hi) in SCHEDULE_PARAMS.items()}
    clean = clean * (1.0 - sp["gap"] * lr ** sp["power"])
    sigma = np.exp(rng.normal(*SCHEDULE_LOG_NOISE, (n, 1)))
    y = clean + (sigma + np.exp(sp["log_sigma_lr"]) * lr) * rng.standard_normal((n, length))
    spike = rng.random((n, length)) < sp["rho"] * lr
    drop = rng.uniform(0.0, 1.0, (n, length)) * sp["d_max"]
    return np.where(spike, y * (1.0 - drop), y), clean


def sample_curves(
    rng: np.random.Generator,
    n: int,
    length: int,
    settings: PriorSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """n noisy curves of ``length`` epochs from the prior, (noisy, clean), both (n, length) in [0, 1]."""
    st = settings or PriorSettings()
    if length < 2:
        raise ValueError(f"curve length {length} is invalid; accepted: >= 2")
    clean = clean_curves(rng, n, length)
    sigma = np.exp(rng.normal(*PAPER_LOG_NOISE, n))
    noisy = clean + sigma[:, None] * rng.standard_normal((n, length))
    sched = rng.random(n) < st.p_schedule
    if sched.any():
        noisy[sched], clean[sched] = _schedule(rng, clean[sched])
    return np.clip(noisy, 0.0, 1.0), clean


def sample_lengths(
    rng: np.random.Generator, n: int, settings: PriorSettings | None = None
) -> np.ndarray:
    """Curve lengths, log-uniform on [min_len, max_len] (ours: short and long runs equally represented)."""
    st = settings or PriorSettings()
    lo, hi = np.log(st.min_len), np.log(st.max_len + 1)
    return np.minimum(np.exp(rng.uniform(lo, hi, n)).astype(np.int64), st.max_len)
