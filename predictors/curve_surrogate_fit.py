"""Fitting a curve surrogate: whole validation curves of any cell, learned from a table's training runs.

NAS-Bench-x11's recipe (Yan et al. 2021) on our own data: each training cell's seed-mean validation curve is
reduced to a few latent numbers (:mod:`surrogate.curve_parts`: SVD coefficients by default, or power-law
parameters), one registered predictor per latent number learns it from the architecture (XGBoost by
default), and the residual curves of the training cells around their own smooth fit become the noise model.
Every answerable cell's curve is then predicted once and stored compactly (:mod:`surrogate.fitted_curves`).

Why SVD (``benchmarks/bench_curve_surrogate.py``, held-out cells of both Fashion-MNIST sets): its curves
are closer to the real ones at every epoch and rank finals better than predicting the power law's three
parameters, whose (c, a, alpha) trade off against each other (a small alpha with large, opposite c and a
draws nearly the same curve), so a regressor that averages neighbours' parameters draws a curve none of them
had. The power law also cannot dip or rise late, which our curves do.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from predictors.io import library_versions
from predictors.registry import make_predictor
from predictors.state import dumps_state, loads_state
from predictors.surrogate_fit import (
    _static,
    _test_affine,
    answerable_cells,
    check_fraction,
    check_model,
    split_cells,
)
from surrogate.curve_parts import (
    MAX_COMPONENTS,
    CurveNoise,
    check_method,
    fit_representation,
    leverage,
    reconstruct,
)
from surrogate.errors import NasscoutError
from surrogate.fitted import SCHEMA, SCHEMA_VERSION, source_fingerprint
from surrogate.fitted_curves import CURVES_VERSION, CurveSurrogateBenchmark
from surrogate.fitted_parts import CostModel

# per latent number, a smaller model than the per-fidelity surrogate's: ~160 training curves, up to 8 models
# in one file (about 1 MB each as 5 x 300 trees of depth 4)
CURVE_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "xgb": {"n_members": 5, "n_estimators": 300, "max_depth": 4}
}
MIN_DONORS = 5  # cells with every seed recorded before the seed spread is learned from them
MIN_CURVES = 3
DEFAULT_FRACTION = 0.8  # a table of a few hundred runs: keep a fifth of them to validate on
ETA = 3


def default_rungs(epochs: int) -> tuple[int, ...]:
    """Hyperband's ladder T, T/3, T/9, ... down to 2 epochs (epoch 1 is mostly noise): 20 -> 2, 7, 20."""
    out, r = [int(epochs)], float(epochs)
    while round(r / ETA) >= 2:
        r /= ETA
        out.append(int(round(r)))
    return tuple(sorted(set(out)))


def check_rungs(rungs: Any, epochs: int) -> tuple[int, ...]:
    """Rungs as given (``"2,6,18,50"`` or a sequence): ascending epochs in 1..T ending at T."""
    try:
        items = rungs.split(",") if isinstance(rungs, str) else list(rungs)
        r = [int(str(x).strip()) for x in items]
    except (TypeError, ValueError):
        r = []
    if not r or r != sorted(set(r)) or r[0] < 1 or r[-1] != epochs:
        raise NasscoutError(
            f"rungs {rungs!r} are invalid; accepted: ascending epochs in 1..{epochs} ending at {epochs} "
            f"(e.g. {','.join(map(str, default_rungs(epochs)))})"
        )
    return tuple(r)


def check_components(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        value = -1
    if not 1 <= value <= MAX_COMPONENTS:
        raise NasscoutError(
            f"components {value!r} is invalid; accepted: an integer 1..{MAX_COMPONENTS}"
        )
    return int(value)


def schedule(truth: Any, ds: str) -> int:
    """The one schedule (epochs) whose per-epoch valid_acc curves the table records, or one line."""
    fids = [f for f in truth.fidelities_for(ds) if "valid_acc" in _curve_metrics(truth, ds, f)]
    if not fids:
        raise NasscoutError(
            f"{truth.name} records no per-epoch valid_acc curves for {ds}; a curve surrogate needs a table "
            "with curves (e.g. datasets/nb201-fmnist-mini.h5)"
        )
    return int(max(fids))


def _curve_metrics(truth: Any, ds: str, f: int) -> tuple[str, ...]:
    reader = getattr(truth, "curve_metrics", None)
    return tuple(reader(ds, f)) if reader is not None else ()


def seed_curves(truth: Any, cells: np.ndarray, ds: str, T: int) -> tuple[np.ndarray, list[int]]:
    """Per-seed curves (cells, seeds, T), NaN where a seed or epoch is missing, and the seed ids."""
    seeds = [int(s) for s in truth.seeds(ds, T)]
    runs = np.stack(
        [truth.curves(cells, dataset=ds, fidelity=T, seed=s) for s in seeds], axis=1
    ).astype(np.float64)
    return runs, seeds


def fit_noise(
    runs: np.ndarray, smooth: np.ndarray, seeds: list[int], lev: np.ndarray | None = None
) -> tuple[CurveNoise, list[int], str]:
    """The noise model, the virtual seed ids and where the spread comes from (``seeds`` or ``jitter``).

    With ``MIN_DONORS`` cells that have every seed, their residuals (seed-to-seed offset and jitter) are the
    pool; otherwise the most recorded seed's residuals alone (jitter only: one virtual seed)."""
    complete = np.all(np.isfinite(runs), axis=2)  # (cells, seeds)
    full = complete.all(axis=1)
    if len(seeds) >= 2 and full.sum() >= MIN_DONORS:
        return CurveNoise.fit(runs[full], smooth[full], lev), seeds, "seeds"
    col = int(np.argmax(complete.sum(axis=0)))
    have = complete[:, col]
    one = runs[have][:, col : col + 1]
    return CurveNoise.fit(one, smooth[have], lev), [seeds[col]], "jitter"


def fit_curve_surrogate(
    truth: Any,
    dataset: str,
    *,
    method: str = "svd",
    model: str = "xgb",
    train_fraction: float = DEFAULT_FRACTION,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    rungs: Any = None,
    components: int | None = None,
    source_name: str | None = None,
) -> CurveSurrogateBenchmark:
    """A curve surrogate of ``truth``'s ``dataset`` (a table with per-epoch curves), fitted on a sample."""
    ds = truth.dataset(dataset)
    method, model = check_method(method), check_model(model)
    fraction = check_fraction(train_fraction)
    components = check_components(components)
    options = {**CURVE_MODEL_DEFAULTS.get(model, {}), **(options or {})}
    space = truth.space
    T = schedule(truth, ds)
    rungs = default_rungs(T) if rungs is None else check_rungs(rungs, T)
    cells = np.asarray(truth.cells_for(ds), dtype=np.int64)
    train = split_cells(cells, fraction, seed)
    runs, seeds = seed_curves(truth, train, ds, T)
    with np.errstate(all="ignore"):
        mean = np.nanmean(runs, axis=1)
    ok = np.all(np.isfinite(mean), axis=1)
    if ok.sum() < MIN_CURVES:
        raise NasscoutError(
            f"only {int(ok.sum())} training cells have a complete {T}-epoch curve; at least {MIN_CURVES} "
            "are needed (raise --train-fraction)"
        )
    latent, shared = fit_representation(method, mean[ok], components)
    smooth = reconstruct(method, latent, shared)
    noise, v_seeds, noise_source = fit_noise(runs[ok], smooth, seeds, leverage(method, shared))
    domain = answerable_cells(space, cells)
    pred = np.empty((len(domain), latent.shape[1]))
    arrays: dict[str, np.ndarray] = {"cells": domain, "train_cells": train}
    for j in range(latent.shape[1]):
        reg = make_predictor(model, seed=seed, space=space, **options)
        reg.fit(train[ok], latent[:, j])
        pred[:, j] = np.asarray(reg.predict(domain), dtype=np.float64)
        arrays[f"curve/{j}/model"] = np.frombuffer(dumps_state(reg), dtype=np.uint8)
    finals = reconstruct(method, pred, shared)[:, -1]
    donor, perm = noise.assign(finals, np.random.default_rng([seed, 1]))
    cost = CostModel.fit(space, train, truth.cost(train, dataset=ds, fidelity=T))
    arrays.update(
        {
            "curve/latent": pred,
            "curve/center": shared["center"],
            "curve/basis": shared["basis"],
            "curve/donor": donor,
            "curve/perm": perm,
            "curve/cost": cost.predict(space, domain),
            **noise.to_arrays("curve/noise"),
            **_static(truth, ds, cells, domain),
        }
    )
    header = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "space": space.name,
        "dataset": ds,
        "metric": truth.metric(ds).to_json(),
        "fidelities": list(rungs),
        "seeds": {str(r): v_seeds for r in rungs},
        "test_affine": _test_affine(truth, ds, train, T),
        "model": model,
        "model_options": options,
        "train_fraction": fraction,
        "seed": int(seed),
        "n_train_cells": int(len(train)),
        "curves": {
            "version": CURVES_VERSION,
            "method": method,
            "transform": "logit",
            "epochs": T,
            "components": int(latent.shape[1]),
            "train_curves": int(ok.sum()),
            "noise_source": noise_source,
            "donors": int(len(noise.pool)),
        },
        "source": {
            "benchmark": source_name or truth.name,
            "kind": truth.kind,
            "dataset": ds,
            "cells": int(len(cells)),
            "fingerprint": source_fingerprint(truth, ds),
        },
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }
    return CurveSurrogateBenchmark(header, arrays)


def load_component_models(surrogate: CurveSurrogateBenchmark) -> list[Any]:
    """The fitted predictors of a curve surrogate's latent numbers (decoded by the safe state reader)."""
    n = int(surrogate.header["curves"]["components"])
    return [loads_state(surrogate.component_model_bytes(j)) for j in range(n)]
