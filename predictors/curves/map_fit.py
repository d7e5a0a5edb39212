"""MAP and Laplace approximation of the curve-ensemble posterior (``families``), for many curves at once.

Everything is numpy over a leading curve axis, with analytic derivatives of the families: no per-curve
Python loop and no autograd overhead, which is what makes ``fast`` cheap.

The free variables are the first ``N_FREE`` = 47 entries of z (family parameters and log weights). For a
given noise sigma, minus the log posterior is a sum of squares plus a separable prior term:

    Phi(z) = 1/2 |R(z)|^2 + P(z),   R = [observed residuals / sigma, penalty hinges of the constraints]

so Levenberg-Marquardt applies, and J^T J + diag(P'') (Gauss-Newton) is the Laplace precision. Sigma is
updated between steps to its conditional mode on a grid (1-D, exact), which also gives its conditional
posterior for sampling. Ours throughout (the paper only samples by MCMC).
"""

from __future__ import annotations

import numpy as np

from predictors.curves import families as F

N_FREE = F.N_THETA + F.K
PENALTY = np.sqrt(2e4)  # hinge residual scale: Phi gains 1e4 * violation^2 (ours)
# constraints are held with this margin at the MAP, so that it is strictly inside the prior's support
MARGIN = 1e-3
S_GRID = np.linspace(-14.0, 14.0, 561)  # sigma's unconstrained coordinate, for its 1-D conditional
EYE = np.arange(N_FREE)
_SIG = F.z_to_sigma(S_GRID)[None, :]
_LOG_SIG, _HALF_PREC = np.log(_SIG), 0.5 / _SIG**2
_S_JAC = (F.logsigmoid(S_GRID) + F.logsigmoid(-S_GRID))[None, :]
_ONE_HOT = (F.FAMILY_OF[:, None] == np.arange(F.K)[None, :]).astype(np.float64)  # (N_THETA, K)


def _curve(z: np.ndarray, t: np.ndarray, jac: bool):
    """(fam (n, K, E), comb (n, E)) at epochs t; with ``jac`` also d fam / d z_j (n, N_THETA, E) (each
    parameter moves its own family only) and d comb / d z (n, N_FREE, E)."""
    zt = z[:, : F.N_THETA]
    theta, weights, _, _ = F.unpack(z)
    out = F.family_values(theta, t, grad=jac)
    fam, dfam = out if jac else (out, None)
    comb = (weights[:, :, None] * fam).sum(1)
    if not jac:
        return fam, comb
    sg = np.exp(F.logsigmoid(zt))
    d_fam = dfam * ((F.UPPER - F.LOWER) * sg * (1.0 - sg))[:, :, None]
    d_comb = np.concatenate(
        [weights[:, F.FAMILY_OF, None] * d_fam, weights[:, :, None] * (fam - comb[:, None, :])], 1
    )
    return fam, comb, d_fam, d_comb


def _terms(z: np.ndarray, y: np.ndarray, mask: np.ndarray, target: int, jac: bool):
    """Residuals R (n, M) and, with ``jac``, their Jacobian (n, M, N_FREE) plus the prior's gradient and
    diagonal curvature (n, N_FREE); M = L observed epochs + 3 combined + K per-family constraints."""
    n, L = y.shape
    sigma = F.z_to_sigma(z[:, -1])
    out = _curve(z, F.epochs(L, target), jac)
    fam, comb = out[0], out[1]
    first, final = comb[:, 0], comb[:, -1]
    gaps = np.concatenate(
        [np.stack([first - final, final - 1.0, -final], 1), fam[:, :, 0] - fam[:, :, -1]], 1
    )
    active = gaps + MARGIN > 0
    data = mask * (comb[:, :L] - y) / sigma[:, None]
    R = np.concatenate([data, PENALTY * np.where(active, gaps + MARGIN, 0.0)], 1)
    if not jac:
        return R
    d_fam, d_comb = out[2], out[3]
    j_data = np.transpose(d_comb[:, :, :L] * (mask / sigma[:, None])[:, None, :], (0, 2, 1))
    j_comb = np.stack(
        [d_comb[:, :, 0] - d_comb[:, :, -1], d_comb[:, :, -1], -d_comb[:, :, -1]], 1
    )  # (n, 3, N_FREE)
    j_fam = np.zeros((n, F.K, N_FREE))
    j_fam[:, :, : F.N_THETA] = np.transpose(
        (d_fam[:, :, 0] - d_fam[:, :, -1])[:, :, None] * _ONE_HOT, (0, 2, 1)
    )
    j_gap = PENALTY * active[:, :, None] * np.concatenate([j_comb, j_fam], 1)
    J = np.concatenate([j_data, j_gap], 1)
    # minus the log prior: flat theta through the sigmoid (-log s(1-s)), Exponential(1) on exp(zw)
    sg, ew = np.exp(F.logsigmoid(z[:, : F.N_THETA])), np.exp(z[:, F.N_THETA : N_FREE])
    grad_p = np.concatenate([2.0 * sg - 1.0, ew - 1.0], 1)
    curv_p = np.concatenate([2.0 * sg * (1.0 - sg), ew], 1)
    return R, J, grad_p, curv_p


def _neg_log_prior(z: np.ndarray) -> np.ndarray:
    zt, zw = z[:, : F.N_THETA], z[:, F.N_THETA : N_FREE]
    return -(F.logsigmoid(zt) + F.logsigmoid(-zt)).sum(1) - (zw - np.exp(zw)).sum(1)


def _objective(z: np.ndarray, y: np.ndarray, mask: np.ndarray, target: int) -> np.ndarray:
    R = _terms(z, y, mask, target, jac=False)
    return 0.5 * (R * R).sum(1) + _neg_log_prior(z)


def sigma_log_density(z: np.ndarray, y: np.ndarray, mask: np.ndarray, target: int) -> np.ndarray:
    """log p(sigma's z | rest, data) on ``S_GRID`` for every curve, (n, G), unnormalised."""
    theta, weights, _, _ = F.unpack(z)
    L = y.shape[1]
    comb = (weights[:, :, None] * F.family_values(theta, F.epochs(L, target))).sum(1)[:, :L]
    rss = (mask * (comb - y) ** 2).sum(1)
    m = mask.sum(1)
    return -m[:, None] * _LOG_SIG - rss[:, None] * _HALF_PREC + _S_JAC


def fit_map(
    y: np.ndarray, mask: np.ndarray, target: int, *, steps: int = 40
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAP z (n, N_DIM) of every curve, by batched Levenberg-Marquardt from the families' initial values.

    Returns (z, precision (n, N_FREE, N_FREE) at the MAP, sigma's log density on ``S_GRID`` (n, G)).
    Each curve keeps its own damping and accepts a step only when its own objective falls.
    """
    n = len(y)
    z = np.tile(F.initial_z(), (n, 1))
    lam = np.full(n, 1e-2)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            ls = sigma_log_density(z, y, mask, target)
            z[:, -1] = S_GRID[np.argmax(ls, axis=1)]
            R, J, gp, cp = _terms(z, y, mask, target, jac=True)
            phi = 0.5 * (R * R).sum(1) + _neg_log_prior(z)
            Jt = np.transpose(J, (0, 2, 1))
            g = (Jt @ R[:, :, None])[:, :, 0] + gp
            A = Jt @ J
            d = A[:, EYE, EYE] + cp  # the prior's curvature is diagonal
            A[:, EYE, EYE] = d * (1.0 + lam[:, None]) + 1e-6 * lam[:, None]
            step = np.linalg.solve(A, -g[:, :, None])[:, :, 0]
            trial = z.copy()
            trial[:, :N_FREE] = np.clip(z[:, :N_FREE] + step, -15.0, 15.0)
            phi_new = _objective(trial, y, mask, target)
            ok = np.isfinite(phi_new) & (phi_new < phi)
            z = np.where(ok[:, None], trial, z)
            lam = np.clip(np.where(ok, lam / 3.0, lam * 4.0), 1e-7, 1e7)
        ls = sigma_log_density(z, y, mask, target)
        z[:, -1] = S_GRID[np.argmax(ls, axis=1)]
        _, J, _, cp = _terms(z, y, mask, target, jac=True)
        H = np.transpose(J, (0, 2, 1)) @ J
        H[:, EYE, EYE] += cp
    return z, H, ls


def laplace_samples(
    z: np.ndarray, precision: np.ndarray, sigma: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(n, S, N_DIM) draws: the free part from N(z, precision^-1), with the given sigma draws (n, S)."""
    n, n_draws = sigma.shape
    lam, vec = np.linalg.eigh(precision)
    scale = vec / np.sqrt(np.maximum(lam, 1e-8))[:, None, :]
    eps = rng.standard_normal((n, n_draws, N_FREE))
    out = np.empty((n, n_draws, F.N_DIM))
    out[:, :, :N_FREE] = z[:, None, :N_FREE] + eps @ np.transpose(scale, (0, 2, 1))
    out[:, :, -1] = F.sigma_to_z(sigma)
    return out


def linearised_ends(
    z: np.ndarray, precision: np.ndarray, target: int
) -> tuple[np.ndarray, np.ndarray]:
    """The Laplace posterior of (f_comb(1), f_comb(T)) linearised at the MAP: means (n, 2), covariances
    (n, 2, 2) = G H^-1 G^T with G the gradients of the two values (the "GLM" predictive of a Laplace fit)."""
    _, comb, _, d_comb = _curve(z, np.array([1.0, float(target)]), jac=True)
    G = np.transpose(d_comb, (0, 2, 1))  # (n, 2, N_FREE)
    cov = G @ np.linalg.solve(precision, np.transpose(G, (0, 2, 1)))
    return comb, 0.5 * (cov + np.transpose(cov, (0, 2, 1)))


def sigma_samples(sigma_logdens: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """(n, S) draws of sigma from its conditional density on ``S_GRID`` (inverse CDF, jittered in a cell)."""
    n, G = sigma_logdens.shape
    p = np.exp(sigma_logdens - sigma_logdens.max(1, keepdims=True))
    cdf = np.cumsum(p, 1) / p.sum(1, keepdims=True)
    off = 2.0 * np.arange(n)[:, None]  # offset rows: one searchsorted for all curves
    idx = (
        np.searchsorted((cdf + off).ravel(), rng.random((n, n_draws)) + off)
        - G * np.arange(n)[:, None]
    )
    zs = S_GRID[np.clip(idx, 0, G - 1)] + (S_GRID[1] - S_GRID[0]) * (rng.random((n, n_draws)) - 0.5)
    return F.z_to_sigma(zs)
