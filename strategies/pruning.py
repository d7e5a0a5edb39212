"""Early stopping of trainings inside a search: a pruner watches a trial's learning curve at checkpoint epochs.

Rules (``EarlyStop.rule``):

- ``domhan`` (Domhan et al. 2015): stop at epoch k when P(final > best final so far) < ``threshold``, the
  probability from a learning-curve extrapolator (``predictors.curves``) given the curve's first k epochs.
- ``median`` (Golovin et al. 2017, Google Vizier's median stopping rule): stop at epoch k when the trial's
  best value so far is worse than the median of the completed trials' running averages at k.
- ``none``: train every trial to the end.

With ``fit`` (``--early-stop-fit``) Domhan's extrapolator is fitted on the complete curves of the trainings
finished so far (refitted each time one completes): a calibration on this search's own data, which the
baselines and LcSVR-style extrapolators need. Nothing is stopped before ``MIN_FIT`` (10) trainings completed
(``min_completed``, ``--early-stop-min-completed``): calibrated on fewer, the rule stops good cells.

A stopped trial costs only the epochs it trained (the table's per-epoch seconds, ``epoch_time_s`` +
``valid_time_s``, where it has them; else ``cost * k / T``), is recorded with ``stopped_at``,
``predicted_acc`` and ``final_acc`` (what the full training would have reached: tables know it) and never
becomes an incumbent. The strategy is told the extrapolated final where there is one (as Domhan et al. report
it to their optimiser), else the last value it saw.

Where it runs: on the simulated clock over a table with per-epoch ``valid_acc`` curves, or a curve
surrogate (``surrogate:FILE`` from ``nasscout surrogate fit --curves``). The decision for a
trial is taken when it starts, from the trials completed by then; with one worker that is exactly the
sequential protocol, with several a trial that finishes while another trains does not inform that one.
Real training (``TrainingBenchmark``) trains a cell to its end inside one ``query`` call, so nothing can be
stopped there yet and the option is refused rather than simulated after the fact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from strategies.evaluators import NOISE_BLOCK, noise_uniforms
from strategies.row import Outcome, Row
from surrogate.errors import NasscoutError

RULES = ("none", "median", "domhan")
DEFAULT_MIN_COMPLETED = {"none": 0, "median": 5, "domhan": 1}
# --early-stop-fit: completed curves before the fitted extrapolator may stop anything (the default warm-up;
# --early-stop-min-completed sets it, at least FIT_FLOOR: a calibration line needs 3 curves). Measured with
# benchmarks/bench_early_stop.py --search-seeds on the long Fashion-MNIST set: from 3 curves the calibration
# is overconfident and no threshold keeps the extra regret under 0.3 points (p < 1e-4: 1.64x at 0.18); from 10,
# p < 0.001 saves 1.6x at 0.05.
MIN_FIT = 10
FIT_FLOOR = 3


@dataclass(frozen=True)
class EarlyStop:
    """Validated early-stopping options (what meta.json records)."""

    rule: str = "none"
    threshold: float = 0.05  # domhan: stop when P(final > best so far) is below this
    extrapolator: str = "fast"  # domhan: a name from predictors.curves
    min_epochs: int | None = None  # first checkpoint (None: 25% of the schedule, at least 2 epochs)
    min_completed: int | None = None  # completed trials before any stop (None: the rule's default)
    fit: bool = False  # domhan: fit the extrapolator on the completed trainings' curves (refit as they come)

    @property
    def active(self) -> bool:
        return self.rule != "none"

    def first_checkpoint(self, epochs: int) -> int:
        # 25%: on our Fashion-MNIST curves the first epochs are noise (the best cell of the mini set is at
        # 15% after one epoch and 35% after two), and earlier checks stopped it (benchmarks/bench_early_stop.py)
        return self.min_epochs if self.min_epochs is not None else max(2, math.ceil(0.25 * epochs))

    def n_completed(self) -> int:
        if self.min_completed is not None:
            return self.min_completed
        return MIN_FIT if self.fit else DEFAULT_MIN_COMPLETED[self.rule]

    def to_json(self) -> dict[str, Any]:
        if not self.active:
            return {"rule": "none"}
        d = asdict(self)
        if self.rule == "median":
            del d["threshold"], d["extrapolator"], d["fit"]
        elif not self.fit:
            del d["fit"]  # as recorded before the option existed
        return d


def make_early_stop(
    rule: str = "none",
    *,
    threshold: float = 0.05,
    extrapolator: str = "fast",
    min_epochs: int | None = None,
    min_completed: int | None = None,
    fit: bool = False,
) -> EarlyStop:
    """Check the options (one clear line per bad value) without loading anything heavy."""
    if not isinstance(fit, (bool, np.bool_)):
        raise NasscoutError(f"--early-stop-fit {fit!r} is invalid; accepted: true or false")
    if rule not in RULES:
        raise NasscoutError(f"--early-stop {rule!r} is invalid; accepted: {', '.join(RULES)}")
    try:
        thr = float(threshold)
    except (TypeError, ValueError):
        thr = math.nan
    if not 0.0 < thr < 1.0:
        raise NasscoutError(
            f"--early-stop-threshold {threshold!r} is invalid; accepted: a probability in (0, 1)"
        )
    for flag, v, low in (
        ("--early-stop-min-epochs", min_epochs, 1),
        ("--early-stop-min-completed", min_completed, 0),
    ):
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low
        ):
            raise NasscoutError(f"{flag} {v!r} is invalid; accepted: an integer >= {low}")
    if rule == "domhan":
        from predictors.curves import EXTRAPOLATORS, extrapolator_class

        if extrapolator not in EXTRAPOLATORS:
            raise NasscoutError(
                f"--early-stop-extrapolator {extrapolator!r} is invalid; accepted: {', '.join(EXTRAPOLATORS)}"
            )
        try:
            cls = extrapolator_class(extrapolator)
        except ImportError as exc:
            raise NasscoutError(
                f"--early-stop-extrapolator {extrapolator!r} is not available in this install ({exc}); "
                "choose another"
            ) from None
        if cls.uses:
            raise NasscoutError(
                f"--early-stop-extrapolator {extrapolator!r} reads {', '.join(cls.uses)}, which the pruner "
                "does not pass; accepted: one that reads the curve alone (e.g. fast, mcmc, pfn, last, best)"
            )
        if cls.needs_training and not fit:
            raise NasscoutError(
                f"--early-stop-extrapolator {extrapolator!r} must be trained on complete curves first; add "
                "--early-stop-fit (it learns from the trainings completed so far) or choose one that reads "
                "a single curve (e.g. fast, mcmc, pfn, last)"
            )
    if fit and rule == "domhan" and min_completed is not None and min_completed < FIT_FLOOR:
        raise NasscoutError(
            f"--early-stop-min-completed {min_completed} is invalid with --early-stop-fit; accepted: an "
            f"integer >= {FIT_FLOOR} (the fit calibrates on that many complete curves)"
        )
    return EarlyStop(
        rule,
        thr,
        str(extrapolator),
        None if min_epochs is None else int(min_epochs),
        None if min_completed is None else int(min_completed),
        bool(fit) and rule == "domhan",
    )


def early_stop_from_json(d: dict[str, Any] | None) -> EarlyStop:
    """The options as meta.json records them (None or absent: a run from before early stopping)."""
    return make_early_stop(**(d or {"rule": "none"}))


def describe_early_stop(d: dict[str, Any] | None) -> str:
    """One phrase for messages: ``domhan (threshold 0.05, extrapolator fast)``."""
    d = dict(d or {"rule": "none"})
    rule = d.pop("rule", "none")
    opts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in d.items() if v is not None)
    return f"{rule} ({opts})" if opts else str(rule)


# ---- the curves a pruner reads ---------------------------------------------------------------------------------
class CurveTable:
    """One dataset x fidelity of a table as arrays: per-seed ``valid_acc`` curves and the cost fraction spent
    after each epoch (row = position of the cell in ``cells_for``)."""

    def __init__(self, benchmark: Any, dataset: str, fidelity: int) -> None:
        self.cells = np.asarray(benchmark.cells_for(dataset), dtype=np.int64)
        self.row = {c: i for i, c in enumerate(self.cells.tolist())}
        seeds = benchmark.seeds(dataset, fidelity)
        kw = {"dataset": dataset, "fidelity": fidelity}
        self.curves = np.stack([benchmark.curves(self.cells, seed=s, **kw) for s in seeds], axis=1)
        finals = np.column_stack(
            [benchmark.query(self.cells, seed=s, **kw).valid_acc for s in seeds]
        )
        # the seeds a noisy observation draws from, in column order (as strategies.evaluators.TableLookup)
        self.present = [np.flatnonzero(~np.isnan(r)) for r in finals]
        # the benchmark's own seed-mean curve (a table: the mean of its seeds; a curve surrogate: its
        # smooth predicted curve, which is what it answers for seed="mean")
        self.mean = np.asarray(benchmark.curves(self.cells, seed="mean", **kw), dtype=np.float64)
        self.epochs = self.curves.shape[2]
        # the metric's range for an extrapolator: percent, or the table's own span with a margin
        if "%" in benchmark.metric(dataset).name:
            self.bounds = (0.0, 100.0)
        else:
            lo, hi = float(np.nanmin(self.curves)), float(np.nanmax(self.curves))
            pad = 0.05 * max(hi - lo, 1e-9)
            self.bounds = (lo - pad, hi + pad)
        have = set(benchmark.curve_metrics(dataset, fidelity))
        if "epoch_time_s" in have:
            t = benchmark.curves(self.cells, metric="epoch_time_s", **kw)
            if "valid_time_s" in have:
                t = t + benchmark.curves(self.cells, metric="valid_time_s", **kw)
            t = np.nan_to_num(t, nan=0.0)
            total = t.sum(axis=1, keepdims=True)
            ok = (total > 0).ravel()
            frac = np.where(
                ok[:, None], np.cumsum(t, axis=1) / np.where(total > 0, total, 1.0), 0.0
            )
        else:
            ok = np.zeros(len(self.cells), dtype=bool)
            frac = np.zeros((len(self.cells), self.epochs))
        linear = np.arange(1, self.epochs + 1) / self.epochs
        self.cost_fraction = np.where(ok[:, None], frac, linear[None, :])

    def observed_curve(self, index: int, u: float | None) -> np.ndarray:
        """The curve a trial sees: the seed drawn by uniform ``u`` (None: the seed-mean)."""
        r = self.row[index]
        if u is None:
            return self.mean[r]
        cols = self.present[r]
        return self.curves[r, cols[int(u * len(cols))]] if len(cols) else self.mean[r]


_TABLES: dict[tuple[int, str, int], CurveTable] = {}


def curve_table(benchmark: Any, dataset: str, fidelity: int) -> CurveTable:
    key = (id(benchmark), dataset, fidelity)
    if key not in _TABLES:
        _TABLES[key] = CurveTable(benchmark, dataset, fidelity)
    return _TABLES[key]


def has_curves(benchmark: Any, dataset: str, fidelity: int) -> bool:
    """A table or a curve surrogate (``surrogate.fitted_curves``) with per-epoch valid_acc curves there."""
    reader = getattr(benchmark, "curve_metrics", None)
    if benchmark.kind not in ("tabular", "surrogate") or reader is None:
        return False
    return "valid_acc" in reader(dataset, fidelity)


def check_benchmark(config: EarlyStop, benchmark: Any, dataset: str) -> None:
    """Refuse (one line) a benchmark whose final fidelity has no per-epoch validation curves."""
    if not config.active:
        return
    top = max(benchmark.fidelities_for(dataset))
    if benchmark.kind == "training":
        raise NasscoutError(
            f"--early-stop {config.rule} needs per-epoch curves as a training runs; {benchmark.name} trains "
            "a cell to its end in one call, so nothing could be stopped; use a table with curves "
            "(e.g. --benchmark datasets/nb201-fmnist-mini.h5)"
        )
    if not has_curves(benchmark, dataset, top):
        raise NasscoutError(
            f"--early-stop {config.rule} needs per-epoch valid_acc curves, and {benchmark.name} has none for "
            f"{dataset} at {top} epochs; use --early-stop none or a table with curves "
            "(e.g. datasets/nb201-fmnist-mini.h5)"
        )
    if config.min_epochs is not None and config.min_epochs >= top:
        raise NasscoutError(
            f"--early-stop-min-epochs {config.min_epochs} is invalid for {top}-epoch trainings; accepted: "
            f"1..{top - 1}"
        )


def calibration_curves(path: str | Path, dataset: str, epochs: int) -> np.ndarray:
    """The complete ``valid_acc`` curves (one row per training, ``epochs`` long) of a table or run store:
    an earlier study's trainings that calibrate a fitted extrapolator from a search's first decision
    (``--early-stop-calibration``), instead of waiting for the search's own trainings to finish."""
    from surrogate.errors import DataError
    from surrogate.tabular import TabularBenchmark

    flag = "--early-stop-calibration"
    accepted = f"accepted: a table or run store (.h5) with {epochs}-epoch valid_acc curves"
    if not Path(path).is_file():
        raise NasscoutError(f"{flag} {str(path)!r} does not exist; {accepted}")
    try:
        bench = TabularBenchmark.open(path)
    except DataError as exc:
        raise NasscoutError(f"{flag} {str(path)!r}: {exc}; {accepted}") from None
    names = tuple(bench.datasets)
    ds = dataset if dataset in names else names[0] if len(names) == 1 else None
    if ds is None:
        raise NasscoutError(
            f"{flag} {str(path)!r} holds {', '.join(names)}, not {dataset}; {accepted} of one dataset"
        )
    if epochs not in bench.fidelities_for(ds) or "valid_acc" not in bench.curve_metrics(ds, epochs):
        raise NasscoutError(
            f"{flag} {str(path)!r} has no {epochs}-epoch valid_acc curves for {ds}; {accepted}"
        )
    curves = CurveTable(bench, ds, epochs).curves.reshape(-1, epochs)
    curves = curves[np.isfinite(curves).all(axis=1)]
    if len(curves) < FIT_FLOOR:
        raise NasscoutError(
            f"{flag} {str(path)!r} holds {len(curves)} complete {epochs}-epoch curves for {ds}; "
            f"{accepted}, at least {FIT_FLOOR}"
        )
    return curves


# ---- the decision rules, vectorised (shared by the runner and benchmarks/bench_early_stop.py) ---------------
def median_stop_epoch(
    curves: np.ndarray, completed: np.ndarray, checkpoints: np.ndarray
) -> np.ndarray:
    """Per row of ``curves`` (n, T), the first checkpoint (1-based epoch) where its best so far is below
    the median of the ``completed`` (m, T) curves' running averages; 0 = never (trained to the end)."""
    n = len(curves)
    if len(completed) == 0 or len(checkpoints) == 0:
        return np.zeros(n, dtype=np.int64)
    k = np.asarray(checkpoints) - 1
    running = np.cumsum(completed, axis=1) / np.arange(1, completed.shape[1] + 1)
    median = np.median(running[:, k], axis=0)  # (K,)
    best = np.fmax.accumulate(curves, axis=1)[:, k]  # (n, K)
    return first_true(best < median[None, :], checkpoints)


def first_true(stop: np.ndarray, checkpoints: np.ndarray) -> np.ndarray:
    """Per row of the (n, K) decisions, the checkpoint of the first True; 0 where none is."""
    hit = stop.any(axis=1)
    return np.where(hit, np.asarray(checkpoints)[np.argmax(stop, axis=1)], 0).astype(np.int64)


def checkpoint_curves(curve: np.ndarray, checkpoints: np.ndarray) -> np.ndarray:
    """One curve cut at every checkpoint: (K, T) with NaN after each cutoff (a batch for one predict call)."""
    keep = np.arange(len(curve))[None, :] < np.asarray(checkpoints)[:, None]
    return np.where(keep, curve[None, :], np.nan)


class Pruner:
    """One search's pruner: decides at submit time, learns from every completed row (replayed ones too)."""

    def __init__(
        self,
        config: EarlyStop,
        benchmark: Any,
        dataset: str,
        *,
        seed: int,
        observe: str = "seed",
    ) -> None:
        self.config = config
        self.benchmark = benchmark
        self.dataset = dataset
        self.seed = seed
        self.by_seed = observe == "seed"
        # fidelity -> the observed curves of completed trials, and the best of their finals
        self._completed: dict[int, list[np.ndarray]] = {}
        self._best: dict[int, float] = {}
        self._extrapolator: Any = None
        self._fitted_on = 0  # completed curves the extrapolator was last fitted on (fit=True)
        self._block, self._uniforms = -1, []

    def _u(self, trial: int) -> float | None:
        """The uniform that picks trial ``trial``'s seed, exactly as ``TableEvaluator`` draws it."""
        if not self.by_seed:
            return None
        block, pos = divmod(trial, NOISE_BLOCK)
        if block != self._block:
            self._uniforms, self._block = noise_uniforms(self.seed, block), block
        return self._uniforms[pos]

    def _curve(self, index: int, fidelity: int, trial: int) -> tuple[CurveTable, np.ndarray] | None:
        if not has_curves(self.benchmark, self.dataset, fidelity):
            return None
        table = curve_table(self.benchmark, self.dataset, fidelity)
        return table, table.observed_curve(index, self._u(trial))

    def observed_curve(self, index: int, fidelity: int, trial: int) -> np.ndarray | None:
        """The per-epoch values trial ``trial`` of cell ``index`` observes (None: no curves there)."""
        got = self._curve(index, fidelity, trial)
        return None if got is None else got[1]

    def apply(self, index: int, fidelity: int, trial: int, outcome: Outcome) -> Outcome:
        """The outcome of training ``index`` under the rule: unchanged, or stopped with its cost cut."""
        got = self._curve(index, fidelity, trial)
        done = self._completed.get(fidelity, [])
        if (
            got is None
            or len(done) < max(1, self.config.n_completed())
            or (self.config.rule == "domhan" and fidelity not in self._best)
        ):
            return outcome
        table, curve = got
        T = table.epochs
        checkpoints = np.arange(self.config.first_checkpoint(T), T)
        if np.isnan(curve).any() or len(checkpoints) == 0:
            return outcome
        predicted = math.nan
        if self.config.rule == "median":
            k = int(median_stop_epoch(curve[None, :], np.array(done), checkpoints)[0])
        else:
            probs, means = self._domhan(
                curve, checkpoints, self._best[fidelity], table.bounds, done
            )
            stop = probs < self.config.threshold
            k = int(first_true(stop[None, :], checkpoints)[0])
            if k:
                predicted = float(means[int(np.argmax(stop))])
        if not k:
            return outcome
        frac = float(table.cost_fraction[table.row[index], k - 1])
        return outcome._replace(
            observed_acc=float(curve[k - 1]),
            cost_s=outcome.cost_s * frac,
            stopped_at=k,
            predicted_acc=predicted,
            final_acc=float(curve[-1]),
        )

    def _domhan(
        self,
        curve: np.ndarray,
        checkpoints: np.ndarray,
        best: float,
        bounds: tuple[float, float],
        done: list[np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        from predictors.curves import Curves, make_extrapolator

        if self._extrapolator is None:
            self._extrapolator = make_extrapolator(self.config.extrapolator, seed=self.seed)
        lo, hi = bounds
        if self.config.fit and len(done) != self._fitted_on:  # learn from every completed training
            self._extrapolator.fit(Curves(np.clip(np.array(done), lo, hi), bounds=(lo, hi)))
            self._fitted_on = len(done)
        batch = Curves(np.clip(checkpoint_curves(curve, checkpoints), lo, hi), bounds=(lo, hi))
        pred = self._extrapolator.predict(batch, len(curve))
        return pred.prob_above(best), pred.mean

    def completed(self, row: Row) -> None:
        """A trial finished (or was replayed from the journal): a completed one informs later decisions."""
        if row.stopped_at or not self.config.active:
            return
        got = self._curve(row.index, row.fidelity, row.trial)
        if got is None:
            return
        self._completed.setdefault(row.fidelity, []).append(got[1])
        if row.observed_acc == row.observed_acc:
            self._best[row.fidelity] = max(
                self._best.get(row.fidelity, -math.inf), row.observed_acc
            )
