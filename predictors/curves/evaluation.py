"""How well do extrapolators predict the end of a real curve from its beginning? (``nasscout curves eval``)

Protocol. The source's complete curves are split into ``folds`` folds by *group* (one cell with all its seeds
and datasets, or one LCDB dataset): the groups are shuffled with ``default_rng(seed)`` and dealt round-robin,
so every curve is tested exactly once, by extrapolators fitted only on the other folds' complete curves
(never on a curve of the same cell). Every extrapolator is fitted on each training split (training-free ones
ignore it). The target is the source's last epoch ``T``; a cutoff fraction ``c`` shows the first
``k = max(1, floor(c * T + 0.5))`` epochs of every test curve. Slow extrapolators (``SLOW``) predict only a
seeded subset of ``slow_curves`` curves (the same curves at every cutoff); every other extrapolator is then
also scored on that subset, so the comparison is like for like.

Per extrapolator x cutoff: ``mae`` (metric units) and ``loglik`` (mean log density of the true final value per
unit of normalised value, so percent and [0, 1] sources compare) of the final value; ``coverage90`` (share of
true finals inside the 5-95 % quantiles); ``spearman`` of predicted means against true finals across the
test curves; ``time_per_curve_s`` (predict time / curves, quantiles included) and ``fit_s`` (all folds).
Models an extrapolator fits lazily on first use (LcSVR's and the baselines' per-cutoff models) are charged to
``fit_s``: every prediction except the slow ones is made twice and the second call is the one timed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from predictors.curves import EXTRAPOLATORS, extrapolator_class, make_extrapolator
from predictors.curves.sources import CurveSource, load_source
from surrogate.errors import NasscoutError

SLOW = ("mcmc",)  # predicted on a subset of ``slow_curves`` curves
DEFAULT_CUTOFFS = (0.1, 0.25, 0.5)


@dataclass(frozen=True)
class CurveEvalSpec:
    source: str
    extrapolators: tuple[str, ...]
    cutoffs: tuple[float, ...] = DEFAULT_CUTOFFS
    folds: int = 5
    seed: int = 0
    max_curves: int | None = None
    slow_curves: int = 20
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    skip_unusable: bool = (
        False  # drop (with a log line) extrapolators needing side data the source lacks
    )


@dataclass
class CurveEvalResult:
    spec: CurveEvalSpec
    source: CurveSource
    cutoff_epochs: tuple[int, ...]
    truth: np.ndarray  # (n,) the final values, metric units
    preds: dict[
        tuple[str, float], dict[str, np.ndarray]
    ]  # mean, std, logpdf, lo, hi; NaN = not predicted
    predict_s: dict[tuple[str, float], float]
    fit_s: dict[str, float]
    subset: np.ndarray  # (n,) bool: the curves slow extrapolators predicted
    rows: list[dict[str, Any]]
    meta: dict[str, Any]


def available(*, slow: bool = False) -> tuple[str, ...]:
    """The registered extrapolators this installation can load (without the slow ones unless asked)."""
    out = []
    for name in EXTRAPOLATORS:
        try:
            extrapolator_class(name)
        except ImportError:
            continue
        if slow or name not in SLOW:
            out.append(name)
    return tuple(out)


def target_text(src: CurveSource) -> str:
    """'epoch 20', or 'anchor 15 (training-set size 2048)' where the axis is not epochs."""
    T = src.target
    if src.axis == "epoch":
        return f"epoch {T}"
    return f"anchor {T} ({src.axis} {src.x[T - 1]:g})"


def cutoff_epoch(cutoff: float, target: int) -> int:
    return max(1, int(math.floor(cutoff * target + 0.5)))


def check_spec(spec: CurveEvalSpec, target: int | None = None) -> None:
    """Refuse bad names and numbers before any data is read or model fitted (``target`` once known)."""
    if not spec.extrapolators:
        raise NasscoutError(f"no extrapolator given; accepted: {', '.join(EXTRAPOLATORS)}")
    for name in spec.extrapolators:
        try:
            extrapolator_class(name)
        except ImportError as exc:
            raise NasscoutError(
                f"extrapolator {name!r} is registered but cannot be loaded in this installation ({exc})"
            ) from None
    for name, opts in spec.options.items():
        if name not in spec.extrapolators:
            raise NasscoutError(
                f"option for extrapolator {name!r}, which is not evaluated; accepted: options for "
                f"{', '.join(spec.extrapolators)}"
            )
        make_extrapolator(
            name, seed=max(spec.seed, 0), **opts
        )  # unknown options or values fail now
    if len(set(spec.extrapolators)) != len(spec.extrapolators):
        raise NasscoutError(f"extrapolators {','.join(spec.extrapolators)} name one twice")
    if not spec.cutoffs:
        raise NasscoutError("no cutoff given; accepted: fractions in (0, 1) such as 0.1,0.25,0.5")
    for c in spec.cutoffs:
        if not (isinstance(c, float) and 0.0 < c < 1.0):
            raise NasscoutError(
                f"cutoff {c!r} is invalid; accepted: fractions in (0, 1), e.g. 0.25"
            )
        if target is not None and cutoff_epoch(c, target) >= target:
            raise NasscoutError(
                f"cutoff {c:g} shows epoch {cutoff_epoch(c, target)} of {target}, at or past the target "
                f"epoch {target}; accepted: cutoffs below {(target - 0.5) / target:.3f} for this source"
            )
    for key, value, low in (("folds", spec.folds, 2), ("slow curves", spec.slow_curves, 1)):
        if value < low:
            raise NasscoutError(f"{key} = {value} is invalid; accepted: an integer >= {low}")
    if spec.max_curves is not None and spec.max_curves < 2:
        raise NasscoutError(f"max curves = {spec.max_curves} is invalid; accepted: an integer >= 2")
    if spec.seed < 0:
        raise NasscoutError(f"seed = {spec.seed} is invalid; accepted: an integer >= 0")


def fold_ids(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(n,) fold of every curve: shuffled groups dealt round-robin, so a group never spans two folds."""
    uniq = np.unique(groups)
    if len(uniq) < 2:
        raise NasscoutError(
            f"the curves come from {len(uniq)} group(s); accepted: at least 2 cells"
        )
    k = min(folds, len(uniq))
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of_group = np.empty(len(uniq), dtype=np.int64)
    fold_of_group[order] = np.arange(len(uniq)) % k
    return fold_of_group[np.searchsorted(uniq, groups)]


def evaluate_curves(
    spec: CurveEvalSpec, log: Callable[[str], None] | None = None
) -> CurveEvalResult:
    log = log or (lambda _line: None)
    check_spec(spec)
    t_start = time.perf_counter()
    src = load_source(spec.source)
    check_spec(spec, src.target)
    for name in spec.extrapolators:
        for side in extrapolator_class(name).uses:
            if getattr(src.curves, side) is not None:
                continue
            if not spec.skip_unusable:
                raise NasscoutError(
                    f"extrapolator {name!r} needs {side}, which source {src.name!r} does not record; "
                    "accepted: leave it out for this source"
                )
            log(f"skipping {name}: source {src.name} records no {side}")
            spec = replace(spec, extrapolators=tuple(n for n in spec.extrapolators if n != name))
    rng = np.random.default_rng(spec.seed)
    if spec.max_curves is not None and spec.max_curves < len(src.curves):
        keep = np.sort(rng.choice(len(src.curves), spec.max_curves, replace=False))
        src = CurveSource(
            **{
                **src.__dict__,
                "curves": src.curves.subset(keep),
                "groups": src.groups[keep],
                "labels": tuple(src.labels[i] for i in keep),
            }
        )
    curves, T = src.curves, src.target
    n = len(curves)
    truth = curves.values[:, T - 1]
    folds = fold_ids(src.groups, spec.folds, spec.seed)
    subset = np.zeros(n, dtype=bool)
    subset[rng.choice(n, min(spec.slow_curves, n), replace=False)] = True
    ks = tuple(cutoff_epoch(c, T) for c in spec.cutoffs)
    log(f"{src.description}; {len(np.unique(folds))} folds by group, target {target_text(src)}")

    preds = {
        (name, c): {f: np.full(n, np.nan) for f in ("mean", "std", "logpdf", "lo", "hi")}
        for name in spec.extrapolators
        for c in spec.cutoffs
    }
    predict_s = {key: 0.0 for key in preds}
    fit_s = dict.fromkeys(spec.extrapolators, 0.0)
    for f in np.unique(folds):
        train, test_rows = curves.subset(np.flatnonzero(folds != f)), np.flatnonzero(folds == f)
        for name in spec.extrapolators:
            rows = test_rows[subset[test_rows]] if name in SLOW else test_rows
            if len(rows) == 0:
                continue
            ex = make_extrapolator(name, seed=spec.seed, **spec.options.get(name, {}))
            t0 = time.perf_counter()
            ex.fit(train, T)
            fit_s[name] += time.perf_counter() - t0
            test = curves.subset(rows)
            for c, k in zip(spec.cutoffs, ks, strict=True):
                partial = test.cut(k)
                t0 = time.perf_counter()
                p = ex.predict(partial, T)
                q = p.quantiles([0.05, 0.95])
                first = time.perf_counter() - t0
                if name not in SLOW:  # again, timed: models fitted lazily on first use count as fit
                    t0 = time.perf_counter()
                    p = ex.predict(partial, T)
                    q = p.quantiles([0.05, 0.95])
                    again = time.perf_counter() - t0
                    fit_s[name] += max(first - again, 0.0)
                    first = again
                out = preds[(name, c)]
                out["mean"][rows], out["std"][rows] = p.mean, p.std
                out["logpdf"][rows] = p.logpdf(truth[rows])
                out["lo"][rows], out["hi"][rows] = q[:, 0], q[:, 1]
                predict_s[(name, c)] += first
        log(f"fold {f + 1}/{len(np.unique(folds))}: {len(test_rows)} test curves done")

    rows_out: list[dict[str, Any]] = []
    partial = any(s in spec.extrapolators for s in SLOW) and subset.sum() < n
    for on in ("all", "subset") if partial else ("all",):
        for name in spec.extrapolators:
            if on == "all" and name in SLOW and partial:
                continue
            mask = subset if on == "subset" else np.ones(n, dtype=bool)
            for c, k in zip(spec.cutoffs, ks, strict=True):
                rows_out.append(
                    _metrics(name, c, k, T, preds[(name, c)], truth, mask, predict_s[(name, c)])
                    | {"fit_s": fit_s[name], "on": on, "source": src.name, "axis": src.axis}
                )
    meta = {
        "source": src.name,
        "description": src.description,
        "axis": src.axis,
        "target": T,
        "target_x": float(src.x[T - 1]),
        "target_text": target_text(src),
        "n_curves": n,
        "n_groups": int(len(np.unique(src.groups))),
        "folds": int(len(np.unique(folds))),
        "cutoffs": list(spec.cutoffs),
        "cutoff_epochs": list(ks),
        "extrapolators": list(spec.extrapolators),
        "seed": spec.seed,
        "max_curves": spec.max_curves,
        "slow": [s for s in SLOW if s in spec.extrapolators],
        "slow_curves": int(subset.sum()),
        "options": spec.options,
        "bounds": list(curves.bounds),
        "wall_time_s": time.perf_counter() - t_start,
    }
    return CurveEvalResult(spec, src, ks, truth, preds, predict_s, fit_s, subset, rows_out, meta)


def _metrics(
    name: str,
    cutoff: float,
    k: int,
    T: int,
    p: dict[str, np.ndarray],
    truth: np.ndarray,
    mask: np.ndarray,
    seconds: float,
) -> dict[str, Any]:
    from scipy.stats import spearmanr

    done = mask & np.isfinite(p["mean"])
    m, y = p["mean"][done], truth[done]
    n = int(done.sum())
    rho = float("nan")
    if n >= 3 and np.ptp(m) > 0 and np.ptp(y) > 0:
        rho = float(spearmanr(m, y)[0])
    predicted = int(np.isfinite(p["mean"]).sum())
    return {
        "extrapolator": name,
        "cutoff": cutoff,
        "cutoff_epoch": k,
        "target": T,
        "n_curves": n,
        "mae": float(np.mean(np.abs(m - y))) if n else float("nan"),
        "loglik": float(np.mean(p["logpdf"][done])) if n else float("nan"),
        "coverage90": float(np.mean((p["lo"][done] <= y) & (y <= p["hi"][done])))
        if n
        else float("nan"),
        "spearman": rho,
        "time_per_curve_s": seconds / predicted if predicted else float("nan"),
    }
