"""Domhan, Springenberg & Hutter (IJCAI 2015): 11 parametric learning-curve families and their combination.

The model of a normalised curve u_t (in [0, 1], higher is better, epochs t = 1, 2, ...) is

    u_t = f_comb(t) + eps,   f_comb(t) = sum_k w_k f_k(t | theta_k),   eps ~ N(0, sigma^2)

with w_k >= 0 normalised to sum 1 (the authors' code samples unnormalised weights and normalises them).

Everything is numpy, vectorised over any leading axes (curves x walkers x samples) with epochs last; each
family also gives its analytic derivatives, which the batched MAP fit (``map_fit``) uses.

Sampling happens in an unconstrained vector ``z`` of ``N_DIM`` numbers per curve:
``[family parameters (36), log weights (11), sigma (1)]``. A bounded quantity x in [lo, hi] is
``lo + (hi - lo) * sigmoid(z)``; the log-Jacobian of that map is added so that the density over ``z`` is the
same posterior as the flat prior over x.

Defaults, and where they come from:

- the 11 families and their formulas: paper's (Hill3 is ``dr_hill_zero_background`` of the authors' code,
  ilog2 uses log(t + 1) as their code does so that it is finite at t = 1);
- initial values ``init``: paper's (the authors' code ``model_defaults``), except loglog linear, which has
  none there (ours: a = 0.15, b = 1.6, a slowly rising curve near 0.5);
- parameter priors: paper's (uniform), on bounds that are ours (the authors' code leaves most parameters
  unbounded; we bound them so every family is finite on any epoch up to ~10,000 and the sampler stays in a
  region where the curve is defined, e.g. a*t + b > 0 for pow4);
- noise: paper's N(0, sigma^2) with the authors' code's uniform prior on sigma <= 1, floored at
  ``SIGMA_MIN`` = 1e-3 (ours: a constant curve would otherwise give an unbounded posterior at sigma -> 0);
- weights: w_k >= 0 (paper's); their prior is ours: i.i.d. Exponential(1) on the unnormalised weights, so
  the normalised weights are uniform on the simplex (Dirichlet(1)) and the unused scale is proper;
- constraints (prior indicator): combined curve increasing, f_comb(1) < f_comb(T) (paper's); prediction at
  the target f_comb(T) in [0, 1] (paper's); every family non-decreasing between its first epoch and T,
  f_k(1) <= f_k(T) (the authors' code's "soft monotonicity" check, which uses epoch 2 there);
- likelihood: every observed epoch counts equally (the authors' code default for the combination: no
  recency weighting).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SIGMA_MIN, SIGMA_MAX = 1e-3, 1.0
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Family:
    """One parametric curve family: its parameters' names, initial values and (ours) prior bounds."""

    name: str
    params: tuple[str, ...]
    init: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    fn: Callable[..., Any]  # fn(t, *params, grad) -> values (and d/d params); params broadcast


def _vap(t, a, b, c, grad):
    f = np.exp(a + b / t + c * np.log(t))
    return f if not grad else (f, [f, f / t, f * np.log(t)])


def _pow3(t, c, a, alpha, grad):
    p = t ** (-alpha)
    f = c - a * p
    return f if not grad else (f, [np.ones_like(f), -p, a * p * np.log(t)])


def _loglog_linear(t, a, b, grad):
    g = a * np.log(t) + b
    f = np.log(g)
    return f if not grad else (f, [np.log(t) / g, 1.0 / g])


def _hill3(t, theta, eta, kappa, grad):
    r = (t / kappa) ** eta  # theta t^eta / (kappa^eta + t^eta) = theta r / (1 + r)
    f = theta * r / (1.0 + r)
    if not grad:
        return f
    d = theta / (1.0 + r) ** 2
    return f, [r / (1.0 + r), d * r * np.log(t / kappa), -d * eta * r / kappa]


def _log_power(t, a, b, c, grad):
    lt = np.log(t) - b
    q = np.exp(c * lt)  # (t / e^b)^c
    f = a / (1.0 + q)
    if not grad:
        return f
    d = a / (1.0 + q) ** 2
    return f, [1.0 / (1.0 + q), d * c * q, -d * q * lt]


def _pow4(t, c, a, b, alpha, grad):
    g = a * t + b
    p = g ** (-alpha)
    f = c - p
    if not grad:
        return f
    d = alpha * p / g
    return f, [np.ones_like(f), d * t, d * np.ones_like(f), p * np.log(g)]


def _mmf(t, alpha, beta, kappa, delta, grad):
    q = (kappa * t) ** delta
    f = alpha - (alpha - beta) / (1.0 + q)
    if not grad:
        return f
    d = (alpha - beta) / (1.0 + q) ** 2
    return f, [q / (1.0 + q), 1.0 / (1.0 + q), d * delta * q / kappa, d * q * np.log(kappa * t)]


def _exp4(t, c, a, b, alpha, grad):
    p = t**alpha
    e = np.exp(-a * p + b)
    f = c - e
    return f if not grad else (f, [np.ones_like(f), e * p, -e, e * a * p * np.log(t)])


def _janoschek(t, a, beta, k, delta, grad):
    p = t**delta
    e = np.exp(-k * p)
    f = a - (a - beta) * e
    if not grad:
        return f
    d = (a - beta) * e * p
    return f, [1.0 - e, e, d, d * k * np.log(t)]


def _weibull(t, alpha, beta, kappa, delta, grad):
    q = (kappa * t) ** delta
    e = np.exp(-q)
    f = alpha - (alpha - beta) * e
    if not grad:
        return f
    d = (alpha - beta) * e * q
    return f, [1.0 - e, e, d * delta / kappa, d * np.log(kappa * t)]


def _ilog2(t, c, a, grad):
    li = 1.0 / np.log(t + 1.0)
    f = c - a * li
    return f if not grad else (f, [np.ones_like(f), -li * np.ones_like(f)])


FAMILIES: tuple[Family, ...] = (
    Family("vap", ("a", "b", "c"), (-0.622028, -0.470050, 0.042322), (-5, -5, -1), (1, 5, 1), _vap),
    Family("pow3", ("c", "a", "alpha"), (0.84, 0.52, 0.01), (0, 0, 0), (1.5, 2, 3), _pow3),
    Family("loglog_linear", ("a", "b"), (0.15, 1.6), (0, 0.01), (2, 3), _loglog_linear),
    Family(
        "hill3",
        ("theta", "eta", "kappa"),
        (0.772320, 0.586449, 2.460843),
        (0, 0, 0.01),
        (1.5, 5, 100),
        _hill3,
    ),
    Family("log_power", ("a", "b", "c"), (0.77, 2.98, -0.51), (0, -2, -5), (1.5, 8, 5), _log_power),
    Family(
        "pow4",
        ("c", "a", "b", "alpha"),
        (0.8, 200.0, 0.0, 0.1),
        (0, 0.01, 0, 0),
        (1.5, 500, 50, 3),
        _pow4,
    ),
    Family(
        "mmf",
        ("alpha", "beta", "kappa", "delta"),
        (0.7, 0.1, 0.01, 5.0),
        (0, -0.5, 1e-3, 0),
        (1.5, 1, 5, 10),
        _mmf,
    ),
    Family(
        "exp4",
        ("c", "a", "b", "alpha"),
        (0.7, 0.8, -0.8, 0.3),
        (0, 0, -10, 0),
        (1.5, 10, 5, 3),
        _exp4,
    ),
    Family(
        "janoschek",
        ("a", "beta", "k", "delta"),
        (0.73, 0.07, 0.355, 0.46),
        (0, -0.5, 0, 0),
        (1.5, 1, 10, 3),
        _janoschek,
    ),
    Family(
        "weibull",
        ("alpha", "beta", "kappa", "delta"),
        (0.7, 0.1, 0.01, 1.0),
        (0, -0.5, 1e-3, 0),
        (1.5, 1, 5, 10),
        _weibull,
    ),
    Family("ilog2", ("c", "a"), (0.78, 0.43), (0, 0), (1.5, 2), _ilog2),
)
K = len(FAMILIES)
_SIZES = [len(f.params) for f in FAMILIES]
_STARTS = np.concatenate([[0], np.cumsum(_SIZES)]).astype(int)
N_THETA = int(_STARTS[-1])  # 36 family parameters
N_DIM = N_THETA + K + 1  # + log weights + sigma
LOWER = np.array([x for f in FAMILIES for x in f.lower], dtype=np.float64)
UPPER = np.array([x for f in FAMILIES for x in f.upper], dtype=np.float64)
INIT = np.array([x for f in FAMILIES for x in f.init], dtype=np.float64)


FAMILY_OF = np.repeat(np.arange(K), _SIZES)  # the family of each of the N_THETA parameters


def logsigmoid(z: np.ndarray) -> np.ndarray:
    """log(sigmoid(z)), stable for both signs."""
    return -(np.maximum(-z, 0.0) + np.log1p(np.exp(-np.abs(z))))


def initial_z(sigma: float = 0.05) -> np.ndarray:
    """The z of every family at its initial values, equal weights and ``sigma`` (the authors' code: 0.05)."""
    p = np.clip((INIT - LOWER) / (UPPER - LOWER), 1e-3, 1 - 1e-3)
    return np.concatenate([np.log(p / (1 - p)), np.zeros(K), [sigma_to_z(sigma)]])


def sigma_to_z(sigma: Any) -> Any:
    s = np.clip((np.asarray(sigma) - SIGMA_MIN) / (SIGMA_MAX - SIGMA_MIN), 1e-9, 1 - 1e-9)
    return np.log(s / (1 - s))


def z_to_sigma(zs: Any) -> Any:
    return SIGMA_MIN + (SIGMA_MAX - SIGMA_MIN) * np.exp(logsigmoid(zs))


def unpack(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """z (..., N_DIM) -> (theta (..., N_THETA), normalised weights (..., K), sigma (...), log prior (...)).

    The log prior is the flat prior on theta and sigma seen through the sigmoid maps (their log-Jacobians)
    plus Exponential(1) on the unnormalised weights exp(z_w).
    """
    zt, zw, zs = z[..., :N_THETA], z[..., N_THETA : N_THETA + K], z[..., -1]
    lt, ls = logsigmoid(zt), logsigmoid(zs)
    theta = LOWER + (UPPER - LOWER) * np.exp(lt)
    w = np.exp(zw - zw.max(-1, keepdims=True))
    # log sigmoid(-z) = log sigmoid(z) - z
    log_prior = (2.0 * lt - zt).sum(-1) + 2.0 * ls - zs + (zw - np.exp(zw)).sum(-1)
    return theta, w / w.sum(-1, keepdims=True), z_to_sigma(zs), log_prior


def family_values(theta: np.ndarray, t: np.ndarray, grad: bool = False) -> Any:
    """theta (..., N_THETA), t (E,) -> every family's values (..., K, E); with ``grad`` also
    d f_k / d theta_j for each parameter j of family k, (..., N_THETA, E)."""
    vals, grads = [], []
    for f, s in zip(FAMILIES, _STARTS[:-1]):
        out = f.fn(t, *(theta[..., s + i, None] for i in range(len(f.params))), grad)
        vals.append(out[0] if grad else out)
        if grad:
            grads += [np.broadcast_to(d, out[0].shape) for d in out[1]]
    v = np.stack(vals, -2)
    return (v, np.stack(grads, -2)) if grad else v


def epochs(n: int, target: int) -> np.ndarray:
    """Epochs 1..n followed by the target: where the model is evaluated."""
    return np.concatenate([np.arange(1, n + 1), [target]]).astype(np.float64)


def log_posterior(z: np.ndarray, y: np.ndarray, mask: np.ndarray, target: int) -> np.ndarray:
    """The unnormalised log posterior of z (..., N_DIM) given curves y (..., L) observed where ``mask``
    (y is 0, not NaN, where masked; y/mask broadcast against z's leading axes). -inf off the prior's support.
    """
    theta, weights, sigma, log_prior = unpack(z)
    L = y.shape[-1]
    fam = family_values(theta, epochs(L, target))  # (..., K, L + 1)
    comb = (weights[..., :, None] * fam).sum(-2)
    r = (y - comb[..., :L]) / sigma[..., None]
    loglik = (mask * (-0.5 * r * r)).sum(-1) - mask.sum(-1) * (np.log(sigma) + HALF_LOG_2PI)
    lp = loglik + log_prior
    return np.where(_feasible(fam, comb) & np.isfinite(lp), lp, -math.inf)


def _feasible(fam: np.ndarray, comb: np.ndarray) -> np.ndarray:
    """The prior's constraints on curves evaluated at (1, ..., T) (last column = T)."""
    first, final = comb[..., 0], comb[..., -1]
    ok = (first < final) & (final >= 0.0) & (final <= 1.0)
    return ok & (fam[..., 0] <= fam[..., -1]).all(-1)


def predict_final(z: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(f_comb(target), sigma, feasible) for z (..., N_DIM): the predictive of each posterior sample."""
    theta, weights, sigma, _ = unpack(z)
    fam = family_values(theta, epochs(1, target))
    comb = (weights[..., :, None] * fam).sum(-2)
    final = comb[..., -1]
    return final, sigma, _feasible(fam, comb) & np.isfinite(final)


def combined_curve(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """f_comb at epochs ``t`` for z (..., N_DIM): for plots and tests."""
    theta, weights, _, _ = unpack(z)
    return (weights[..., :, None] * family_values(theta, np.asarray(t, dtype=np.float64))).sum(-2)
