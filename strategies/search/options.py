"""The options of ``nasscout search``, checked in one line each before anything is trained or written.

What a search *is* (dataset, recipe, budget, seed, prior, early stopping) is recorded in ``meta.json`` and a
``--resume`` must repeat it; *where* it runs (``--workers``, ``--dask-scheduler``, ``--device``) may change
between sittings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from surrogate.errors import NasscoutError

SEARCH_DATASETS = ("fashion-mnist", "cifar10", "cifar100")
# the transfer prior by default: another dataset's NB201 table (a published result, never the searched one)
DEFAULT_PRIOR = {
    "fashion-mnist": "nb201:cifar10",
    "cifar10": "nb201:cifar100",
    "cifar100": "nb201:cifar10",
}
EARLY_STOP_RULES = ("domhan", "median", "none")
# where a training may be stopped, as fractions of its schedule (Domhan et al. check periodically; 25% first:
# on our Fashion-MNIST curves the first epochs say little, see strategies/pruning.py)
DEFAULT_CHECKPOINTS = (0.25, 0.5, 0.75)
# every candidate trains with seed 0, as our data sets: a search's trainings are comparable with them
TRAIN_SEED = 0
WHERE = ("workers", "dask_scheduler", "dask_local", "device")  # may differ on --resume
# an option's flag where it is not its field name with dashes
FLAGS = {
    "threshold": "--early-stop-threshold",
    "extrapolator": "--early-stop-extrapolator",
    "fit": "--early-stop-fit",
    "min_completed": "--early-stop-min-completed",
    "calibration": "--early-stop-calibration",
    "calibration_sha256": "--early-stop-calibration (the file's content)",
    "overrides": "--set",
}


@dataclass(frozen=True)
class SearchOptions:
    dataset: str
    preset: str = "cpu-mini"
    budget_epochs: int | None = None
    budget_hours: float | None = None
    seed: int = 0
    prior: str = "auto"
    early_stop: str = "domhan"
    threshold: float = 0.05
    extrapolator: str = "fast"  # domhan: a predictors.curves name
    fit: bool = False  # domhan: fit the extrapolator on the finished trainings
    min_completed: int | None = None  # finished trainings before any stop (None: 1, or 10 with fit)
    # an earlier study's store whose complete curves calibrate the fit, and the SHA-256 of those curves
    # (filled by check_options; a resume compares it)
    calibration: str | None = None
    calibration_sha256: str | None = None
    checkpoints: tuple[float, ...] = DEFAULT_CHECKPOINTS
    workers: int = 1
    dask_scheduler: str | None = None
    dask_local: int | None = None
    device: str = "auto"
    epochs: int | None = (
        None  # the training schedule; None = the preset's (filled by check_options)
    )
    overrides: tuple[tuple[str, Any], ...] = ()  # --set KEY=VALUE on the preset (sorted)

    def training_preset(self) -> Any:
        """The preset with this search's overrides and schedule (another recipe is another store)."""
        from surrogate.training.presets import get_preset

        extra = dict(self.overrides)
        if self.epochs is not None:
            extra["epochs"] = self.epochs
        return get_preset(self.preset, extra)

    @property
    def budget_unit(self) -> str:
        return "epochs" if self.budget_epochs is not None else "hours"

    @property
    def budget_total(self) -> float:
        return float(self.budget_epochs if self.budget_epochs is not None else self.budget_hours)

    def checkpoint_epochs(self) -> list[int]:
        """The epochs where a training is read and may be stopped (ascending, each < the schedule)."""
        if self.early_stop == "none":
            return []
        eps = {max(1, math.ceil(f * self.epochs)) for f in self.checkpoints}
        return sorted(e for e in eps if e < self.epochs)

    def what(self) -> dict[str, Any]:
        """The options that define the search (compared on resume)."""
        d = asdict(self)
        for k in WHERE:
            d.pop(k)
        d["checkpoints"] = list(self.checkpoints)
        d["overrides"] = dict(self.overrides)
        return d

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        d["overrides"] = dict(self.overrides)
        return d


def _positive_int(flag: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise NasscoutError(f"{flag} {v!r} is invalid; accepted: a positive integer")
    return v


def parse_checkpoints(text: str) -> tuple[float, ...]:
    """``0.25,0.5`` -> (0.25, 0.5); one line for anything else."""
    try:
        vals = tuple(float(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        vals = ()
    if not vals or any(not 0.0 < v < 1.0 for v in vals):
        raise NasscoutError(
            f"--checkpoints {text!r} is invalid; accepted: fractions of the schedule in (0, 1), e.g. 0.25,0.5"
        )
    return tuple(sorted(set(vals)))


def check_options(opts: SearchOptions) -> SearchOptions:
    """Validated options with the preset's epochs and the prior resolved (nothing heavy is loaded)."""
    from surrogate.training.data import canonical_dataset
    from surrogate.training.presets import get_preset
    from surrogate.training.userdata import is_user_dataset

    if is_user_dataset(opts.dataset):
        ds = canonical_dataset(opts.dataset)  # one line when the file does not exist
    else:
        try:
            ds = canonical_dataset(opts.dataset)
        except NasscoutError:
            ds = None
        if ds not in SEARCH_DATASETS:
            raise NasscoutError(
                f"--dataset {opts.dataset!r} is invalid; accepted: {', '.join(SEARCH_DATASETS)}, or "
                "npz:PATH (your own images)"
            )
    preset = get_preset(opts.preset, dict(opts.overrides))  # one line for an unknown name or option
    if (opts.budget_epochs is None) == (opts.budget_hours is None):
        raise NasscoutError("give exactly one budget: --budget-epochs E or --budget-hours H")
    if opts.budget_epochs is not None:
        _positive_int("--budget-epochs", opts.budget_epochs)
    else:
        h = opts.budget_hours
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0 < h < math.inf:
            raise NasscoutError(
                f"--budget-hours {h!r} is invalid; accepted: a positive number of hours"
            )
    if isinstance(opts.seed, bool) or not isinstance(opts.seed, int) or opts.seed < 0:
        raise NasscoutError(f"--seed {opts.seed!r} is invalid; accepted: an integer >= 0")
    _positive_int("--workers", opts.workers)
    if opts.dask_local is not None:
        _positive_int("--dask-local", opts.dask_local)
        if opts.dask_scheduler is not None:
            raise NasscoutError("give either --dask-local or --dask-scheduler, not both")
    if opts.early_stop not in EARLY_STOP_RULES:
        raise NasscoutError(
            f"--early-stop {opts.early_stop!r} is invalid; accepted: {', '.join(EARLY_STOP_RULES)}"
        )
    if not 0.0 < float(opts.threshold) < 1.0:
        raise NasscoutError(
            f"--early-stop-threshold {opts.threshold!r} is invalid; accepted: a probability in (0, 1)"
        )
    from strategies.pruning import make_early_stop

    if opts.calibration is not None and opts.early_stop != "domhan":
        raise NasscoutError(
            f"--early-stop-calibration calibrates an extrapolator; --early-stop {opts.early_stop} has none; "
            "accepted: --early-stop domhan"
        )
    calibrated = opts.calibration is not None
    fit = bool(opts.fit) or calibrated  # a calibration is a fit made before the first training
    # the extrapolator, the fit and the warm-up are checked as `nasscout run` checks them (same flags); a
    # calibration brings its own curves, so the fit's floor on the warm-up does not apply to it
    make_early_stop(
        opts.early_stop,
        threshold=opts.threshold,
        extrapolator=opts.extrapolator,
        fit=fit,
        min_completed=None if calibrated else opts.min_completed,
    )
    if calibrated:
        make_early_stop("median", min_completed=opts.min_completed)  # an integer >= 0, or None
    prior = str(opts.prior).strip()
    if prior == "auto":  # your own data: NB201 CIFAR-10 (the most general of NB201's three)
        prior = DEFAULT_PRIOR.get(ds, "nb201:cifar10")
    if prior != "none":
        bench, _, source = prior.partition(":")
        if bench != "nb201" or not source:
            raise NasscoutError(
                f"--prior {opts.prior!r} is invalid; accepted: auto, none, or nb201:DATASET (another "
                "dataset's NB201 table, e.g. nb201:cifar10)"
            )
    epochs = preset.epochs if opts.epochs is None else opts.epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 2 <= epochs <= 1000:
        raise NasscoutError(f"--epochs {opts.epochs!r} is invalid; accepted: an integer in 2..1000")
    calibration, sha = None, None
    if calibrated:
        import hashlib

        from strategies.pruning import calibration_curves

        curves = calibration_curves(opts.calibration, ds, epochs)  # one line if none is usable
        calibration = str(Path(opts.calibration).resolve())
        sha = hashlib.sha256(curves.astype("<f8").tobytes()).hexdigest()  # what the decisions read
    from surrogate.training.trainer import check_device

    check_device(opts.device)
    return SearchOptions(
        dataset=ds,
        preset=preset.name,
        budget_epochs=opts.budget_epochs,
        budget_hours=None if opts.budget_hours is None else float(opts.budget_hours),
        seed=opts.seed,
        prior=prior,
        early_stop=opts.early_stop,
        threshold=float(opts.threshold),
        extrapolator=str(opts.extrapolator),
        fit=fit and opts.early_stop == "domhan",
        min_completed=None if opts.min_completed is None else int(opts.min_completed),
        calibration=calibration,
        calibration_sha256=sha,
        checkpoints=tuple(opts.checkpoints),
        workers=opts.workers,
        dask_scheduler=opts.dask_scheduler,
        dask_local=opts.dask_local,
        device=opts.device,
        epochs=epochs,
        overrides=tuple(sorted(opts.overrides)),
    )


def compare_for_resume(had: dict[str, Any], opts: SearchOptions) -> None:
    """One line naming the first option that differs from the interrupted search's."""
    now = opts.what()
    for key, value in now.items():
        if key in had and had[key] != value:
            flag = FLAGS.get(key, "--" + key.replace("_", "-"))
            raise NasscoutError(
                f"cannot resume: {flag} {value!r} differs from the search's {had[key]!r} (meta.json); "
                "repeat the original options (only --workers, --dask-scheduler, --dask-local and --device may change)"
            )
