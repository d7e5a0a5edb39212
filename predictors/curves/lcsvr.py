"""LcSVR (Baker et al. 2017, "Accelerating neural architecture search using performance prediction").

One ν-SVR with an RBF kernel per observed length ``k`` (their "sequential regression models"), trained on
complete curves cut at ``k``. Features, as in the paper: the observed values (normalised, gaps forward-filled),
their first and second differences, and the architecture encoding (``curves.features``), standardised.
Hyperparameters by their procedure, a random search with 3-fold cross-validation, over C ~ logU(1e-2, 1e2),
ν ~ U(0, 1], γ ~ logU(1e-4, 1): ranges for standardised features and normalised targets (NASLib's
reimplementation draws C and γ from logU(1e-5, 10), where most of 20 draws are useless: on the fmnist-mini
curves that made the choice unstable, MAE 0.8 to 1.8 points by seed). The budget is ``n_hypers``
configurations (default 20): the search reruns per cutoff and per evaluation fold.

The regression target is itself chosen by the cross-validation: half the drawn configurations learn the
final value (as in the paper), half the gain from the last observed value to it (easier for an RBF machine
when curves are smooth and training curves many; worse when the last value is a noisy dip, as in our 50-epoch
Fashion-MNIST curves). The prediction is the mean of the configurations whose
cross-validated MSE is within 20 % of the best (at most ``n_members``; Baker et al. also use small
ensembles), and its std is the standard deviation of that ensemble's own 3-fold out-of-fold residuals at
that cutoff (one spread per cutoff, kept in ``cv_std_``). Models are fitted lazily for the lengths a
``predict`` call needs, and cached.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from predictors.curves.base import CurveExtrapolator, CurvePrediction, Curves, GaussianPrediction
from surrogate.errors import NasscoutError

C_RANGE = (1e-2, 1e2)
GAMMA_RANGE = (1e-4, 1.0)
NEAR_BEST = 1.2


def _features(u: np.ndarray, feats: np.ndarray, k: int) -> np.ndarray:
    """Values up to ``k``, first and second differences, and the architecture encoding."""
    v = u[:, :k]
    d1 = np.diff(v, n=1, axis=1)
    d2 = np.diff(v, n=2, axis=1)
    return np.hstack([v, d1, d2, feats])


class LcSVRExtrapolator(CurveExtrapolator):
    name: ClassVar[str] = "lcsvr"
    summary: ClassVar[str] = (
        "nu-SVR per cutoff on values, differences and the architecture (Baker 2017)"
    )
    needs_training: ClassVar[bool] = True
    uses: ClassVar[tuple[str, ...]] = ("features",)

    def __init__(
        self, *, seed: int = 0, n_hypers: int = 20, n_members: int = 5, folds: int = 3
    ) -> None:
        super().__init__(seed=seed)
        checks = (("n_hypers", n_hypers, 1), ("n_members", n_members, 1), ("folds", folds, 2))
        for key, value, low in checks:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise NasscoutError(f"{key}={value!r} is invalid; accepted: an integer >= {low}")
        self.n_hypers = int(n_hypers)
        self.n_members = min(int(n_members), self.n_hypers)
        self.folds = int(folds)

    def _fit(self, curves: Curves, target: int) -> None:
        if curves.features is None:
            raise NasscoutError(
                f"extrapolator {self.name!r} needs features with the training curves; none given"
            )
        if len(curves) < self.folds:
            raise NasscoutError(
                f"extrapolator {self.name!r} needs at least {self.folds} training curves, got {len(curves)}"
            )
        self.train_u_ = curves.cut(target).filled()
        self.train_f_ = curves.features
        self.target_ = target
        self.models_: dict[tuple[int, int], tuple[object, list, float]] = {}
        self.cv_std_: dict[tuple[int, int], float] = {}

    def _model(self, k: int, target: int) -> tuple[object, list, float]:
        """(scaler, the ensemble's NuSVRs, its out-of-fold residual std) for curves seen up to epoch ``k``."""
        key = (k, target)
        if key in self.models_:
            return self.models_[key]
        from sklearn.model_selection import KFold
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import NuSVR

        X = _features(self.train_u_, self.train_f_, k)
        final, last = self.train_u_[:, target - 1], self.train_u_[:, k - 1]
        rng = np.random.default_rng([self.seed, k, target])
        C = np.exp(rng.uniform(*np.log(C_RANGE), self.n_hypers))
        nu = 1.0 - rng.uniform(0.0, 1.0, self.n_hypers)  # (0, 1]
        gamma = np.exp(rng.uniform(*np.log(GAMMA_RANGE), self.n_hypers))
        gain = np.arange(self.n_hypers) % 2 == 0  # half the draws learn the gain, half the final
        splits = list(
            KFold(self.folds, shuffle=True, random_state=int(rng.integers(2**31))).split(X)
        )
        oof = np.empty((self.n_hypers, len(final)))  # out-of-fold predictions of the final value
        for h in range(self.n_hypers):
            y = final - last if gain[h] else final
            for tr, te in splits:
                sc = StandardScaler().fit(X[tr])
                m = NuSVR(C=C[h], nu=nu[h], gamma=gamma[h], kernel="rbf")
                oof[h, te] = m.fit(sc.transform(X[tr]), y[tr]).predict(sc.transform(X[te]))
            oof[h] += last if gain[h] else 0.0
        mse = np.mean((oof - final[None, :]) ** 2, axis=1)
        top = np.argsort(mse, kind="stable")[: self.n_members]
        top = top[mse[top] <= NEAR_BEST * mse[top[0]]]
        resid = oof[top].mean(axis=0) - final  # out-of-fold residuals of the ensemble itself
        scaler = StandardScaler().fit(X)
        Xs = scaler.transform(X)
        members = [
            (
                NuSVR(C=C[h], nu=nu[h], gamma=gamma[h], kernel="rbf").fit(
                    Xs, final - last if gain[h] else final
                ),
                bool(gain[h]),
            )
            for h in top
        ]
        std = float(np.std(resid, ddof=1)) if len(final) > 1 else 0.05
        self.models_[key] = (scaler, members, max(std, 1e-4))
        self.cv_std_[key] = self.models_[key][2]
        return self.models_[key]

    def _predict(self, curves: Curves, target: int) -> CurvePrediction:
        if target > self.target_:
            raise NasscoutError(
                f"extrapolator {self.name!r} was fitted for epoch {self.target_}, not {target}; "
                f"accepted: targets up to {self.target_} (fit again on longer curves)"
            )
        if curves.features.shape[1] != self.train_f_.shape[1]:
            raise NasscoutError(
                f"features have {curves.features.shape[1]} columns, the training curves had "
                f"{self.train_f_.shape[1]}; accepted: the same encoding"
            )
        u = curves.filled()
        k = curves.lengths
        mu = np.empty(len(curves))
        sd = np.empty(len(curves))
        for kk in np.unique(k):  # one model per observed length, vectorised over its curves
            rows = k == kk
            scaler, members, std = self._model(int(kk), target)
            X = scaler.transform(_features(u[rows], curves.features[rows], int(kk)))
            last = u[rows, kk - 1]
            mu[rows] = np.mean([m.predict(X) + (last if g else 0.0) for m, g in members], axis=0)
            sd[rows] = std
        return GaussianPrediction(curves, np.clip(mu, 0.0, 1.0), sd)
