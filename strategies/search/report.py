"""The end-of-search report, made only from ``summary.json`` (schema in ``strategies.search``).

``write_report(out_dir)`` writes ``best_curve.png``, ``pareto.png``, ``budget.png``, ``trials.csv`` and one
self-contained ``report.html`` (the PNGs embedded as data URIs) next to the summary, each atomically, so a
search that is still running (or was killed) can be reported at any time and a reader never sees half a file.
Plots live in ``report_plots``, the page in ``report_html``; this module reads and checks the summary and
derives what both need (Pareto front, budget order, spent vs avoided).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.atomic import atomic_write
from surrogate.errors import NasscoutError, describe_os_error

FORMAT = "nasscout-search-1"
SUMMARY_NAME = "summary.json"
STATUSES = ("queued", "training", "finished", "stopped", "diverged")
SUMMARY_KEYS = ("format", "dataset", "preset", "epochs", "seed", "finished", "budget", "avoided")
SUMMARY_KEYS += ("best", "trials")
TRIAL_REQUIRED = ("trial", "arch", "status", "epochs_done", "curve")
# every scalar field of a trial, in the schema's order, then the two curves (';'-joined in the CSV)
TRIAL_SCALARS = ("trial", "cell", "arch", "status", "epochs_done", "valid_acc", "test_acc")
TRIAL_SCALARS += ("predicted_final", "p_better", "reason", "params_m", "flops_m", "train_s")
TRIAL_SCALARS += ("screen_score",)
CSV_COLUMNS = TRIAL_SCALARS + ("curve", "test_curve")
FILES = ("best_curve.png", "pareto.png", "budget.png", "trials.csv", "report.html")


def num(x: Any) -> float:
    """A schema number as float (``null`` and non-numbers -> NaN), so plots and tables need no None checks."""
    if isinstance(x, bool) or x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def curve(x: Any) -> np.ndarray:
    """A schema curve (list of per-epoch accuracies, or null) as a float array (nulls -> NaN)."""
    if not isinstance(x, list):
        return np.zeros(0)
    return np.array([num(v) for v in x], dtype=np.float64)


def _refuse(path: Path, what: str) -> NasscoutError:
    return NasscoutError(
        f"{path}: {what}; expected the {SUMMARY_NAME} of a `nasscout search --out DIR` directory "
        f"(format {FORMAT!r}, schema in strategies/search/__init__.py)"
    )


def load_summary(path: str | Path) -> dict[str, Any]:
    """Read and check a summary; a missing, unreadable or other-format file is refused in one line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _refuse(path, "no such file") from None
    except UnicodeDecodeError:
        raise _refuse(path, "not UTF-8 text") from None
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({describe_os_error(exc)})") from None
    try:
        s = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(path, f"not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(s, dict):
        raise _refuse(path, f"holds a JSON {type(s).__name__}, not an object")
    if s.get("format") != FORMAT:
        raise _refuse(path, f"has format {s.get('format')!r}")
    missing = [k for k in SUMMARY_KEYS if k not in s]
    if missing:
        raise _refuse(path, f"lacks {', '.join(missing)}")
    for key in ("budget", "avoided"):
        if not isinstance(s[key], dict):
            raise _refuse(path, f"{key!r} is {type(s[key]).__name__}, not an object")
    if s["best"] is not None and not isinstance(s["best"], dict):
        raise _refuse(path, "'best' is neither null nor an object")
    if not isinstance(s["trials"], list):
        raise _refuse(path, "'trials' is not a list")
    for i, t in enumerate(s["trials"]):
        if not isinstance(t, dict):
            raise _refuse(path, f"trials[{i}] is not an object")
        lacking = [k for k in TRIAL_REQUIRED if k not in t]
        if lacking:
            raise _refuse(path, f"trials[{i}] lacks {', '.join(lacking)}")
        if t["status"] not in STATUSES:
            raise _refuse(
                path, f"trials[{i}] has status {t['status']!r} (accepted: {', '.join(STATUSES)})"
            )
    if not num(s["epochs"]) > 0:
        raise _refuse(path, f"'epochs' is {s['epochs']!r}, not a positive number")
    return s


@dataclass(frozen=True)
class Derived:
    """What the plots and the page share, computed once from the summary (vectorised over trials)."""

    status: np.ndarray  # (n,) str
    epochs_done: np.ndarray  # (n,) float
    valid: np.ndarray  # (n,) last epoch's valid_acc, NaN if none
    params: np.ndarray  # (n,) params_m, NaN if unknown
    front: (
        np.ndarray
    )  # indices of finished trials on the Pareto front (max valid, min params), by params
    spent_x: np.ndarray  # (n,) cumulative epochs after each trial, in list order
    best_so_far: np.ndarray  # (n,) best finished valid_acc after each trial (NaN before the first)
    spent_epochs: float
    stopped_epochs: float
    screened_out: int
    screened_epochs: float  # screened_out x epochs: what training them fully would have cost


def derive(s: dict[str, Any]) -> Derived:
    """Pareto front of the finished trials; the budget order (see ``report_plots.plot_budget``)."""
    from strategies.pareto import pareto_front

    trials = s["trials"]
    status = np.array([t["status"] for t in trials], dtype=object)
    done = np.array([max(num(t.get("epochs_done")), 0.0) for t in trials])
    done = np.nan_to_num(done, nan=0.0)
    valid = np.array([num(t.get("valid_acc")) for t in trials])
    params = np.array([num(t.get("params_m")) for t in trials])
    finished = status == "finished"
    ok = np.flatnonzero(finished & np.isfinite(valid) & np.isfinite(params))
    front = ok[pareto_front(np.c_[valid[ok], params[ok]])] if len(ok) else ok
    front = front[np.argsort(params[front], kind="stable")]
    spent_x = np.cumsum(done)
    incumbent = np.where(finished & np.isfinite(valid), valid, -np.inf)
    best = np.maximum.accumulate(incumbent) if len(trials) else incumbent
    best = np.where(np.isfinite(best), best, np.nan)
    budget, avoided = s["budget"], s["avoided"]
    spent = num(budget.get("spent_epochs"))
    screened = int(np.nan_to_num(num(avoided.get("screened_out"))))
    return Derived(
        status=status,
        epochs_done=done,
        valid=valid,
        params=params,
        front=front,
        spent_x=spent_x,
        best_so_far=best,
        spent_epochs=float(spent_x[-1]) if math.isnan(spent) and len(trials) else spent,
        stopped_epochs=np.nan_to_num(num(avoided.get("stopped_epochs"))),
        screened_out=screened,
        screened_epochs=screened * num(s["epochs"]),
    )


def _cell(v: Any) -> str:
    """A CSV field: numbers in full precision (repr round-trips), null as empty, curves ';'-joined."""
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(_cell(x) for x in v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return str(v)


def trials_csv(s: dict[str, Any]) -> str:
    """One row per trial, every scalar field of the schema plus ``curve`` and ``test_curve`` (';'-joined)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for t in s["trials"]:
        w.writerow([_cell(t.get(k)) for k in CSV_COLUMNS])
    return buf.getvalue()


def write_report(out_dir: str | Path) -> dict[str, Path]:
    """Write the five report files of a search directory from its ``summary.json``; file name -> path.

    Works on a search that is still running (the page says so). Everything is rendered in memory first, so a
    bad summary leaves the previous report untouched.
    """
    from strategies.search.report_html import render_html
    from strategies.search.report_plots import plot_best_curve, plot_budget, plot_pareto

    out_dir = Path(out_dir)
    s = load_summary(out_dir / SUMMARY_NAME)
    d = derive(s)
    data: dict[str, str | bytes] = {
        "best_curve.png": plot_best_curve(s, d),
        "pareto.png": plot_pareto(s, d),
        "budget.png": plot_budget(s, d),
        "trials.csv": trials_csv(s),
    }
    pngs = {k: v for k, v in data.items() if k.endswith(".png") and isinstance(v, bytes)}
    data["report.html"] = render_html(s, d, pngs)
    paths: dict[str, Path] = {}
    try:
        for name in FILES:
            paths[name] = atomic_write(out_dir / name, data[name])
    except OSError as exc:
        raise NasscoutError(
            f"cannot write the search report to {out_dir}: {describe_os_error(exc)}"
        ) from None
    return paths
