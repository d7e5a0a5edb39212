"""Domhan et al.'s curve ensemble (``predictors.curves.families``) and its two extrapolators, mcmc and fast.

The shared contract (shapes, determinism, awkward curves, bad input) is ``test_curve_contract.py``; here:
the families and the prior, the analytic derivatives of the MAP fit, recovery of a known curve, and a
quality floor on real Fashion-MNIST curves.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from predictors.curves import Curves, make_extrapolator
from predictors.curves import families as F
from predictors.curves import map_fit as M
from surrogate.errors import NasscoutError

MINI = Path(__file__).resolve().parents[1] / "datasets" / "nb201-fmnist-mini.h5"
SMALL_MCMC = {"n_walkers": 24, "burn_in": 40, "n_samples": 60}


def _z_with(family: str, values: dict[str, float], *, weight: float = 8.0) -> np.ndarray:
    """The initial z with one family's parameters set and nearly all weight on that family."""
    z = F.initial_z()
    k = [f.name for f in F.FAMILIES].index(family)
    s = int(np.flatnonzero(F.FAMILY_OF == k)[0])
    for i, name in enumerate(F.FAMILIES[k].params):
        if name in values:
            lo, hi = F.LOWER[s + i], F.UPPER[s + i]
            p = (values[name] - lo) / (hi - lo)
            z[s + i] = np.log(p / (1 - p))
    z[F.N_THETA + k] = weight
    return z


@pytest.mark.parametrize("target", [2, 20, 50, 200, 10_000])
def test_every_family_is_finite_and_rising_at_its_initial_values(target: int) -> None:
    theta, weights, sigma, _ = F.unpack(F.initial_z())
    t = np.arange(1, target + 1, dtype=np.float64)
    fam = F.family_values(theta, t)
    assert fam.shape == (F.K, target) and np.isfinite(fam).all()
    assert (np.diff(fam, axis=1) >= -1e-12).all(), (
        "every family rises at the authors' initial values"
    )
    assert np.allclose(weights, 1.0 / F.K) and sigma == pytest.approx(0.05)
    final, _, ok = F.predict_final(F.initial_z(), target)
    assert ok and 0.0 < final < 1.0


def test_families_are_finite_anywhere_in_their_bounds() -> None:
    rng = np.random.default_rng(0)
    z = rng.uniform(-15, 15, size=(2000, F.N_DIM))
    theta, _, _, _ = F.unpack(z)
    assert ((theta >= F.LOWER) & (theta <= F.UPPER)).all()
    with np.errstate(all="ignore"):
        fam, d = F.family_values(theta, np.array([1.0, 2.0, 50.0, 1000.0]), grad=True)
    assert np.isfinite(fam).all() and np.isfinite(d).all()


def test_analytic_derivatives_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    z = F.initial_z()[None] + 0.7 * rng.standard_normal((4, F.N_DIM))
    y, mask = rng.random((4, 7)), np.ones((4, 7))
    mask[0, 3] = 0.0
    _, J, _, _ = M._terms(z, y, mask, 30, jac=True)
    num = np.empty_like(J)
    for i in range(M.N_FREE):
        dz = np.zeros(F.N_DIM)
        dz[i] = 1e-6
        num[:, :, i] = (
            M._terms(z + dz, y, mask, 30, False) - M._terms(z - dz, y, mask, 30, False)
        ) / 2e-6
    assert np.allclose(J, num, rtol=1e-5, atol=1e-6)


def test_prior_rejects_decreasing_or_out_of_range_curves() -> None:
    y, mask = np.full((1, 5), 0.5), np.ones((1, 5))
    assert np.isfinite(F.log_posterior(F.initial_z()[None], y, mask, 20)).all()
    falling = _z_with("log_power", {"a": 0.9, "b": 1.0, "c": 2.0})  # a / (1 + (t/e)^2) falls
    curve = F.combined_curve(falling, [1.0, 20.0])
    assert curve[0] > curve[1], "the test curve must really fall"
    assert F.log_posterior(falling[None], y, mask, 20)[0] == -np.inf
    above_one = _z_with("pow3", {"c": 1.4, "a": 0.05, "alpha": 0.5})  # rises to ~1.39 > 1
    assert F.combined_curve(above_one, [20.0])[0] > 1.0
    assert F.log_posterior(above_one[None], y, mask, 20)[0] == -np.inf
    assert not F.predict_final(np.stack([falling, above_one]), 20)[2].any()


def _synthetic(n_obs: int = 15, target: int = 50, seed: int = 0) -> tuple[Curves, float]:
    """A pow3-shaped accuracy curve with 1-point noise; its true noiseless value at the target."""
    t = np.arange(1, target + 1)
    clean = 85.0 - 50.0 * t**-0.7
    noisy = clean + np.random.default_rng(seed).normal(0.0, 1.0, size=target)
    return Curves(noisy[None]).cut(n_obs), float(clean[target - 1])


@pytest.mark.parametrize(
    ("name", "options", "tol"),
    [
        ("fast", {"predictive": "linear"}, 3.0),
        ("fast", {"predictive": "sample"}, 5.0),
        ("fast", {}, 5.0),  # auto: 15 of 50 epochs seen is below 40%, so "sample"
        ("mcmc", SMALL_MCMC, 3.0),
    ],
)
def test_recovers_a_known_curve(name: str, options: dict, tol: float) -> None:
    """15 noisy epochs of a pow3 curve: the final at 50 within ``tol`` points and inside the 90% interval
    (measured on this curve: linear 78.9, sample 77.7, small mcmc 79.6 vs the true 81.8)."""
    curves, truth = _synthetic()
    pred = make_extrapolator(name, seed=0, **options).predict(curves, 50)
    assert abs(pred.mean[0] - truth) < tol, f"{name}: {pred.mean[0]:.2f} vs {truth:.2f}"
    lo, hi = pred.quantiles([0.05, 0.95])[0]
    assert lo < truth < hi and hi - lo < 40.0


def test_mcmc_is_seeded_and_keeps_the_papers_defaults() -> None:
    ex = make_extrapolator("mcmc")
    assert (ex.n_walkers, ex.burn_in, ex.n_samples) == (100, 300, 800)
    curves, _ = _synthetic(n_obs=6)
    a = make_extrapolator("mcmc", seed=1, **SMALL_MCMC).predict(curves, 50)
    b = make_extrapolator("mcmc", seed=1, **SMALL_MCMC).predict(curves, 50)
    c = make_extrapolator("mcmc", seed=2, **SMALL_MCMC).predict(curves, 50)
    assert np.array_equal(a.means, b.means) and np.array_equal(a.stds, b.stds)
    assert not np.array_equal(a.means, c.means)


def test_fast_draws_depend_on_the_seed_only() -> None:
    curves, _ = _synthetic(n_obs=6)
    a, b = (make_extrapolator("fast", seed=s).predict(curves, 50) for s in (4, 5))
    assert np.array_equal(a.means, make_extrapolator("fast", seed=4).predict(curves, 50).means)
    assert not np.array_equal(a.means, b.means)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("mcmc", {"burn_in": 300, "n_samples": 300}, "n_samples=300"),
        ("mcmc", {"n_walkers": 0}, "n_walkers=0"),
        ("mcmc", {"thin": 0}, "thin=0"),
        ("mcmc", {"init_ball": -1.0}, "init_ball"),
        ("fast", {"steps": 0}, "steps=0"),
        ("fast", {"n_draws": 1.5}, "n_draws"),
        ("fast", {"walkers": 3}, "unknown option 'walkers'"),
        ("fast", {"predictive": "exact"}, "predictive='exact'"),
    ],
)
def test_bad_options_are_one_clear_line(name: str, options: dict, match: str) -> None:
    with pytest.raises(NasscoutError, match=match):
        make_extrapolator(name, **options)


@pytest.mark.parametrize("name", ["fast", "mcmc"])
def test_one_point_far_from_a_long_target(name: str) -> None:
    """One observed epoch and a target 200 epochs away: the prior alone carries it, finitely."""
    curves = Curves(np.array([[42.0] + [np.nan] * 9, [10.0] * 3 + [np.nan] * 7]))
    pred = make_extrapolator(name, **(SMALL_MCMC if name == "mcmc" else {})).predict(curves, 200)
    assert np.isfinite(pred.mean).all() and (pred.std > 0).all()
    assert ((pred.mean >= 0) & (pred.mean <= 100)).all()


@lru_cache(maxsize=1)
def _mini() -> np.ndarray:
    from surrogate.tabular import TabularBenchmark

    bench = TabularBenchmark.open(MINI)
    cells = bench.cells_for("fashion-mnist")
    return np.asarray(
        bench.curves(cells, dataset="fashion-mnist", metric="valid_acc", seed=0), float
    )


def test_fast_quality_floor_on_real_curves() -> None:
    """Half of 200 real 20-epoch curves: fast beats carrying the last value forward, and its predictive
    is calibrated enough (measured: loglik 0.98, MAE 6.4 points vs 10.2, 90% coverage 0.99)."""
    acc = _mini()
    pred = make_extrapolator("fast", seed=0).predict(Curves(acc).cut(10), 20)
    truth = acc[:, 19]
    mae = np.mean(np.abs(pred.mean - truth))
    assert mae < np.mean(np.abs(acc[:, 9] - truth)) - 2.0
    assert np.mean(pred.logpdf(truth)) > 0.6
    q = pred.quantiles([0.05, 0.95])
    assert np.mean((truth >= q[:, 0]) & (truth <= q[:, 1])) >= 0.8


@pytest.mark.slow
def test_mcmc_quality_floor_on_real_curves() -> None:
    acc = _mini()[::10]
    pred = make_extrapolator("mcmc", seed=0, **SMALL_MCMC).predict(Curves(acc).cut(10), 20)
    truth = acc[:, 19]
    assert np.mean(np.abs(pred.mean - truth)) < np.mean(np.abs(acc[:, 9] - truth))
    assert np.mean(pred.logpdf(truth)) > 0.0


def test_truncated_mixture_is_a_distribution_on_the_metric_range() -> None:
    from predictors.curves.parametric import TruncatedMixture

    curves = Curves(np.array([[50.0], [90.0]]))
    means = np.array([[0.05, 0.5, 0.97], [0.9, 0.95, 0.99]])
    stds = np.array([[0.1, 0.3, 0.05], [0.02, 0.2, 0.5]])
    pred = TruncatedMixture(curves, means, stds, np.array([0.2, 0.5, 0.3]))
    u = np.linspace(0.0, 1.0, 20001)
    cdf = pred._cdf(np.tile(u, (2, 1)))  # (2, 20001), vectorised over the grid
    assert np.allclose(cdf[:, 0], 0.0) and np.allclose(cdf[:, -1], 1.0)
    mean = np.trapezoid(1.0 - cdf, u, axis=1)  # E[U] = int (1 - F)
    second = np.trapezoid(2.0 * u * (1.0 - cdf), u, axis=1)  # E[U^2] = int 2u (1 - F)
    assert np.allclose(pred.mean / 100, mean, atol=1e-4)
    assert np.allclose(pred.std / 100, np.sqrt(second - mean**2), atol=1e-4)
    for x in (0.0, 0.3, 0.96, 1.0):  # the density is the CDF's slope, inside and at the edges
        i = int(round(x * 20000))
        lo, hi = max(i - 1, 0), min(i + 1, 20000)
        slope = (cdf[:, hi] - cdf[:, lo]) / (u[hi] - u[lo])
        assert np.allclose(np.exp(pred.logpdf(100 * x)), slope, rtol=2e-3)
    assert np.allclose(pred.prob_above(0.0), 1.0) and np.allclose(pred.prob_above(100.0), 0.0)
