"""Gaussian process with kernels made for cells, hyperparameters fitted by marginal likelihood.

The kernel is a sum of parts, each a similarity between two cells:

* ``hamming``: s^2 exp(-sum_p w_p [c_p != c'_p]), one relevance weight per choice position (an ARD overlap
  kernel on the categorical positions: NB201's 6 edges, NAS-Bench-Graph's link pattern and 4 layer ops; a
  position whose choice rarely matters gets a small weight);
* ``path``: s^2 exp(-d / l), d = number of input->output op paths one cell has and the other lacks (the
  BANANAS path encoding's squared distance), so cells computing the same paths are close whatever their dead
  edges hold. NB201-specific: it needs the space's ``path`` encoding (NB201, TransNAS micro); on a space
  without one (NAS-Bench-Graph) the part is dropped and the kernel falls back to ``hamming`` (+ ``side``);
* ``side``: s^2 (z.z' / k) + s^2 exp(-|z - z'|^2 / (2 k l^2)) on the standardised free side features
  (zero-cost proxies, live structure): a linear trend plus a smooth correction, learned from the data.

With ``prior_mean=True`` the GP's mean is b * (consensus score), the equal-weight average of the free proxies'
rank scores (``base.consensus_score``: no accuracy enters it), with the scale b >= 0 fitted with the other
hyperparameters: with 10 cells the prediction leans on the free proxies, and data overrule them as they
accumulate. This is how zero-cost proxies act as a prior.

Hyperparameters (signal variances, weights, length scales, noise) maximise the log marginal likelihood plus
log-normal priors of width ``prior_sd`` (MAP-II), with analytic gradients and L-BFGS: a fixed start and
``n_restarts`` seeded random ones each run 15 iterations, the best is run to convergence. The predictive
std includes the fitted noise, so the 90% interval is meant for new cells' values: it covers 90-94% of test
cells from 23 cells on, but only ~74% at 10 cells, where the test cells include kinds (e.g. disconnected
cells at 10% accuracy) that 10 training cells rarely show; ``held_out_`` holds the closed-form
leave-one-out predictions. Targets are modelled as log(100 - accuracy) by default.
Strategies refitting every step use ``warm_start=True``: the next fit starts from the last hyperparameters
and runs ``warm_iter`` L-BFGS iterations without restarts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from predictors.base import (
    Predictor,
    SideFeatures,
    TargetTransform,
    check_choice,
    check_number,
    output,
    single_thread_blas,
)
from predictors.features import block_starts, onehot
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

PARTS = ("hamming", "path", "side")


_JITTER = 1e-6


def _parse_kernel(kernel: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in str(kernel).split("+") if p.strip())
    if not parts or any(p not in PARTS for p in parts) or len(set(parts)) != len(parts):
        raise NasscoutError(
            f"kernel={kernel!r} is invalid; accepted: parts {', '.join(PARTS)} joined by '+', e.g. 'hamming+side'"
        )
    return parts


class _Layout:
    """Names, start values and prior means of the log-hyperparameters for one kernel."""

    def __init__(
        self,
        parts: tuple[str, ...],
        has_side: bool,
        prior_sd: float,
        prior_mean: bool,
        n_positions: int,
    ) -> None:
        names: list[str] = []
        start: list[float] = []
        if prior_mean:
            names.append("prior_scale")
            start.append(np.log(0.7))
        if "hamming" in parts:
            names += ["hamming_var"] + [f"hamming_w{e}" for e in range(n_positions)]
            start += [np.log(0.5)] + [np.log(0.3)] * n_positions
        if "path" in parts:
            names += ["path_var", "path_len"]
            start += [np.log(0.5), np.log(2.0)]
        if "side" in parts and has_side:
            names += ["side_lin", "side_var", "side_len"]
            start += [np.log(0.3), np.log(0.3), np.log(1.0)]
        names.append("noise")
        start.append(np.log(0.1))
        self.names = names
        self.start = np.array(start)
        self.pos = {n: i for i, n in enumerate(names)}
        # log-normal priors around the start (sd ``prior_sd`` in log space; 1 by default: on 10-60 cells
        # it ranked and covered better than 2 or 0.5, and made no difference from 200 cells on)
        self.prior_mean = self.start.copy()
        self.prior_sd = np.full(len(names), prior_sd)
        low, high = np.full(len(names), np.log(1e-4)), np.full(len(names), np.log(1e2))
        low[self.pos["noise"]] = np.log(1e-5)
        self.bounds = list(zip(low, high, strict=True))


class GPPredictor(SideFeatures, Predictor):
    name = "gp"
    encoding = "onehot+path"  # what the kernel reads (plus side features); for model metadata
    summary = "Gaussian process: Hamming + path + side kernels, zero-cost prior mean, ML-II fit"
    quick_options: ClassVar[dict[str, Any]] = {"n_restarts": 0}

    def __init__(
        self,
        *,
        seed: int = 0,
        space: SearchSpace | None = None,
        cell_features: np.ndarray | None = None,
        structure: bool = True,
        kernel: str = "hamming+path+side",
        target: str = "log-error",
        n_restarts: int = 2,
        max_iter: int = 200,
        warm_start: bool = False,
        warm_iter: int = 15,
        prior_sd: float = 1.0,
        prior_mean: bool = True,
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.cell_features = cell_features
        self.structure = structure
        self.kernel = kernel
        self.target = target
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.warm_iter = warm_iter
        self.prior_sd = prior_sd
        self.prior_mean = prior_mean

    # ---- data -------------------------------------------------------------------------------------------
    def _data(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        space = self._space()
        d: dict[str, np.ndarray] = {"ops": space.ops(idx).astype(np.int16)}
        if "path" in self.parts_:
            d["path"] = space.encode(idx, "path")
        side = self._side(idx) if "side" in self.parts_ else None
        if side is not None:
            d["side"] = side
        if self.prior_mean:
            d["prior"] = self._consensus(idx)
        return d

    def _basis(self, data: dict[str, np.ndarray]) -> np.ndarray:
        """The prior-mean direction in model space: the consensus score, centred, signed like the target."""
        if not self.prior_mean:
            return np.zeros(len(data["ops"]))
        return self.prior_sign_ * (data["prior"] - self.prior_center_)

    def _mean(self, theta: np.ndarray, basis: np.ndarray) -> np.ndarray:
        if not self.prior_mean:
            return np.zeros_like(basis)
        return np.exp(theta[self.layout_.pos["prior_scale"]]) * basis

    def _cross(self, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, Any]:
        """Hyperparameter-free pieces of the kernel between two sets of cells (in-place arithmetic:
        ranking the whole space builds these for 15,625 x n cells)."""
        out: dict[str, Any] = {}
        if "hamming" in self.parts_:
            space = self._space()
            out["onehot_a"], out["onehot_b"] = onehot(space, a["ops"]), onehot(space, b["ops"])
        if "path" in self.parts_:
            pa, pb = a["path"], b["path"]  # 0/1 float32: the counts below are exact
            d = (pa @ pb.T).astype(np.float64)
            d *= -2.0
            d += pa.sum(1)[:, None]
            d += pb.sum(1)[None, :]
            out["path_d"] = np.maximum(d, 0.0, out=d)
        if "side" in a:
            za, zb = a["side"], b["side"]
            k = za.shape[1]
            dot = za @ zb.T
            sq = dot * -2.0
            sq += (za**2).sum(1)[:, None]
            sq += (zb**2).sum(1)[None, :]
            np.maximum(sq, 0.0, out=sq)
            sq /= k
            dot /= k
            out["side_dot"], out["side_sq"] = dot, sq
        return out

    # ---- kernel and its gradient --------------------------------------------------------------------------
    def _kernel(
        self, theta: np.ndarray, cross: dict[str, Any], keep_parts: bool = True
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Kernel matrix without noise, and (when ``keep_parts``) the parts the gradient needs."""
        L = self.layout_
        e = np.exp(theta)
        parts: dict[str, np.ndarray] = {}
        K: np.ndarray | None = None

        def add(name: str, part: np.ndarray) -> None:
            nonlocal K
            if keep_parts:
                parts[name] = part
                K = part.copy() if K is None else np.add(K, part, out=K)
            else:
                K = part if K is None else np.add(K, part, out=K)

        if "hamming" in self.parts_:
            i0 = L.pos["hamming_var"]
            w = e[i0 + 1 : i0 + 1 + len(self.card_)]
            # sum_p w_p [c_p != c'_p] = sum(w) - sum_p w_p [c_p == c'_p], the latter one matmul
            h = (cross["onehot_a"] * np.repeat(w, self.card_)) @ cross["onehot_b"].T
            h -= w.sum()
            np.exp(h, out=h)
            h *= e[i0]
            add("hamming", h)
        if "path" in self.parts_:
            i0 = L.pos["path_var"]
            p = cross["path_d"] * (-1.0 / e[i0 + 1])
            np.exp(p, out=p)
            p *= e[i0]
            add("path", p)
        if "side_dot" in cross:
            i0 = L.pos["side_lin"]
            add("side_lin", cross["side_dot"] * e[i0])
            r = cross["side_sq"] * (-0.5 / e[i0 + 2] ** 2)
            np.exp(r, out=r)
            r *= e[i0 + 1]
            add("side_rbf", r)
        assert K is not None
        return K, parts

    def _objective(
        self, theta: np.ndarray, cross: dict[str, Any], z: np.ndarray, basis: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Negative log marginal likelihood + log-normal prior, and its gradient in log-hyperparameters.

        d(-log p)/d theta_i = 0.5 tr(W dK/dtheta_i) with W = K^-1 - alpha alpha^T; every trace is an
        elementwise sum (or, for the edge weights, a product with the one-hot ops), never a matrix product.
        """
        from scipy.linalg import cho_solve
        from scipy.linalg.lapack import dpotrf, dpotri

        L = self.layout_
        n = len(z)
        e = np.exp(theta)
        K, parts = self._kernel(theta, cross)
        noise = e[L.pos["noise"]]
        K[np.diag_indices(n)] += noise + _JITTER
        chol, info = dpotrf(K, lower=1, clean=1, overwrite_a=0)
        if info != 0:
            return 1e10, np.zeros_like(theta)
        resid = z - self._mean(theta, basis)
        alpha = cho_solve((chol, True), resid, check_finite=False)
        nll = 0.5 * resid @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * np.log(2 * np.pi)
        inv, info = dpotri(chol, lower=1)
        inv = np.tril(inv) + np.tril(inv, -1).T
        W = inv - np.outer(alpha, alpha)
        grad = np.zeros_like(theta)
        if "hamming" in parts:
            i0 = L.pos["hamming_var"]
            G = W * parts["hamming"]
            total = G.sum()
            grad[i0] = 0.5 * total
            oh = cross["onehot_a"]
            same = np.add.reduceat(((G @ oh) * oh).sum(0), block_starts(self._space()))
            k = len(self.card_)
            w = e[i0 + 1 : i0 + 1 + k]
            grad[i0 + 1 : i0 + 1 + k] = -0.5 * w * (total - same)
        if "path" in parts:
            i0 = L.pos["path_var"]
            G = W * parts["path"]
            grad[i0] = 0.5 * G.sum()
            grad[i0 + 1] = 0.5 * np.sum(G * cross["path_d"]) / e[i0 + 1]
        if "side_lin" in parts:
            i0 = L.pos["side_lin"]
            grad[i0] = 0.5 * np.sum(W * parts["side_lin"])
            G = W * parts["side_rbf"]
            grad[i0 + 1] = 0.5 * G.sum()
            grad[i0 + 2] = 0.5 * np.sum(G * cross["side_sq"]) / e[i0 + 2] ** 2
        grad[L.pos["noise"]] = 0.5 * np.trace(W) * noise
        if self.prior_mean:
            i0 = L.pos["prior_scale"]
            grad[i0] = -e[i0] * (alpha @ basis)
        dev = (theta - L.prior_mean) / L.prior_sd
        return float(nll + 0.5 * dev @ dev), grad + dev / L.prior_sd

    # ---- contract -----------------------------------------------------------------------------------------
    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> GPPredictor:
        idx, y = self._check_xy(archs, y)
        with single_thread_blas():
            return self._fit(idx, y)

    def _fit(self, idx: np.ndarray, y: np.ndarray) -> GPPredictor:
        from scipy.linalg import cho_factor, cho_solve

        check_number("n_restarts", self.n_restarts, low=0, high=100, integer=True)
        check_number("max_iter", self.max_iter, low=1, high=100000, integer=True)
        check_number("warm_iter", self.warm_iter, low=1, high=100000, integer=True)
        check_choice("target", self.target, ("identity", "log-error"))
        warm = bool(self.warm_start) and getattr(self, "fitted_", False)
        prev = self.theta_ if warm else None
        space = self._space()
        parts = _parse_kernel(self.kernel)
        if "path" not in space.encodings:  # NB201-style path kernel: no paths in this space
            parts = tuple(p for p in parts if p != "path") or ("hamming",)
        self.parts_ = parts
        self.card_ = space.cardinalities.copy()
        train = self._data(idx)
        prior_sd = check_number("prior_sd", self.prior_sd, low=1e-3, high=1e3)
        self.layout_ = _Layout(
            self.parts_, "side" in train, prior_sd, bool(self.prior_mean), len(self.card_)
        )
        self.target_ = TargetTransform(self.target, y)
        z = self.target_.forward(y)
        if (
            self.prior_mean
        ):  # model space falls with accuracy for log-error: the prior points down there
            self.prior_sign_ = -1.0 if self.target == "log-error" else 1.0
            self.prior_center_ = float(np.mean(train["prior"]))
        basis = self._basis(train)
        cross = self._cross(train, train)
        rng = np.random.default_rng(self.seed)
        L = self.layout_
        if prev is not None and len(prev) == len(L.start):
            starts, iters = [prev], int(self.warm_iter)
        else:
            starts = [L.start] + [
                L.start + rng.normal(0.0, 1.0, len(L.start)) for _ in range(int(self.n_restarts))
            ]
            iters = int(self.max_iter)
        # every start runs a few iterations; only the best one is run to convergence
        scout = min(iters, 15) if len(starts) > 1 else iters
        best_theta, best_val = L.start, np.inf
        lo, hi = [b[0] for b in L.bounds], [b[1] for b in L.bounds]
        for x0 in starts:
            res = self._minimize(np.clip(x0, lo, hi), cross, z, basis, scout)
            if np.isfinite(res.fun) and res.fun < best_val:
                best_theta, best_val = res.x, float(res.fun)
        if scout < iters:
            res = self._minimize(best_theta, cross, z, basis, iters)
            if np.isfinite(res.fun) and res.fun <= best_val:
                best_theta = res.x
        self.theta_ = np.asarray(best_theta, dtype=np.float64)
        K, _ = self._kernel(self.theta_, cross, keep_parts=False)
        self.noise_ = float(np.exp(self.theta_[L.pos["noise"]]))
        K[np.diag_indices(len(z))] += self.noise_ + _JITTER
        self.chol_ = cho_factor(K, lower=True, check_finite=False)[0]
        self.alpha_ = cho_solve(
            (self.chol_, True), z - self._mean(self.theta_, basis), check_finite=False
        )
        # leave-one-out predictions in closed form: z_i - alpha_i / [K^-1]_ii (Rasmussen & Williams 5.4.2)
        inv_diag = np.diag(cho_solve((self.chol_, True), np.eye(len(z)), check_finite=False))
        self.held_out_, self.held_out_std_ = self.target_.inverse(
            z - self.alpha_ / inv_diag, np.sqrt(1.0 / inv_diag)
        )
        self.train_ = train
        self.n_train_ = len(idx)
        self.fitted_ = True
        return self

    def _minimize(
        self, x0: np.ndarray, cross: dict[str, Any], z: np.ndarray, basis: np.ndarray, iters: int
    ) -> Any:
        from scipy.optimize import minimize

        return minimize(
            self._objective,
            x0,
            args=(cross, z, basis),
            jac=True,
            method="L-BFGS-B",
            bounds=self.layout_.bounds,
            options={"maxiter": iters},
        )

    def hyperparameters(self) -> dict[str, float]:
        """Fitted hyperparameters by name (variances, weights, length scales, noise), for inspection."""
        self._check_predict([])
        return {n: float(np.exp(t)) for n, t in zip(self.layout_.names, self.theta_, strict=True)}

    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        idx = self._check_predict(archs)
        if len(idx) == 0:
            return output(np.zeros(0), np.zeros(0), return_std)
        with single_thread_blas():
            return self._predict(idx, return_std)

    def _predict(
        self, idx: np.ndarray, return_std: bool, chunk: int = 2048
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        from scipy.linalg import solve_triangular

        means, stds = [], []
        for start in range(0, len(idx), chunk):
            part = idx[start : start + chunk]
            test = self._data(part)
            Ks, _ = self._kernel(self.theta_, self._cross(test, self.train_), keep_parts=False)
            means.append(self._mean(self.theta_, self._basis(test)) + Ks @ self.alpha_)
            if return_std:
                v = solve_triangular(self.chol_, Ks.T, lower=True, check_finite=False)
                prior = self._prior_var(test)
                stds.append(np.sqrt(np.maximum(prior - (v**2).sum(0), 0.0) + self.noise_))
        mean_z = np.concatenate(means) if means else np.zeros(0)
        std_z = np.concatenate(stds) if stds else np.zeros_like(mean_z)
        mean, std = self.target_.inverse(mean_z, std_z)
        return output(mean, std, return_std)

    def _prior_var(self, data: dict[str, np.ndarray]) -> np.ndarray:
        L, e = self.layout_, np.exp(self.theta_)
        n = len(data["ops"])
        var = np.zeros(n)
        if "hamming" in self.parts_:
            var += e[L.pos["hamming_var"]]
        if "path" in self.parts_:
            var += e[L.pos["path_var"]]
        if "side" in data:
            z = data["side"]
            var += e[L.pos["side_lin"]] * (z**2).sum(1) / z.shape[1] + e[L.pos["side_var"]]
        return var
