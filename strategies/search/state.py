"""A search's state: its trials, its budget, and the journal that rebuilds both after ``kill -9``.

Every change is an event appended to ``events.jsonl`` (one fsynced JSON line) *before* the search acts on
it, and applying the events in order gives the state back, so a resumed search knows exactly what was
asked, trained, stopped and told. ``summary.json`` is derived from the state after every event.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from surrogate.atomic import atomic_write
from surrogate.errors import NasscoutError

EVENTS = "events.jsonl"
SUMMARY = "summary.json"
FORMAT = "nasscout-search-1"


@dataclass
class TrialState:
    trial: int
    cell: int
    arch: str
    screen_score: float | None = None
    status: str = "queued"  # queued | training | finished | stopped | diverged
    epochs_done: int = 0
    target: int = 0  # the epoch the current segment trains to
    valid_acc: float | None = None
    test_acc: float | None = None
    predicted_final: float | None = None
    p_better: float | None = None
    reason: str = ""
    params_m: float | None = None
    flops_m: float | None = None
    train_s: float = 0.0
    curve: list[float | None] = field(default_factory=list)
    test_curve: list[float | None] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "training")


def _num(x: Any) -> float | None:
    """JSON has no NaN: None stands for it."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


class SearchState:
    """Trials by number, the budget spent, and what screening cost; ``apply`` is the only mutator."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.trials: dict[int, TrialState] = {}
        self.screen_s = 0.0
        self.screened = 0  # candidates scored by the screen (pool sizes)
        self.told: set[int] = set()
        self.wall_s = 0.0  # seconds of earlier sittings (from the last summary.json)

    # ---- events ------------------------------------------------------------------------------------
    def apply(self, ev: dict[str, Any]) -> None:
        kind = ev["e"]
        if kind == "ask":
            self.trials[ev["trial"]] = TrialState(
                trial=ev["trial"], cell=ev["cell"], arch=ev["arch"], screen_score=ev.get("score")
            )
            self.screen_s += float(ev.get("screen_s", 0.0))
            self.screened = max(self.screened, int(ev.get("screened", 0)))
        elif kind == "segment":
            t = self.trials[ev["trial"]]
            r = ev["result"]
            t.curve = [_num(v) for v in r["curve"]]  # None where an epoch diverged (NaN)
            t.test_curve = [_num(v) for v in r["test_curve"]]
            t.epochs_done = int(r["epochs_done"])
            t.valid_acc, t.test_acc = _num(r["valid_acc"]), _num(r["test_acc"])
            t.params_m, t.flops_m = _num(r["params_m"]), _num(r["flops_m"])
            t.train_s = float(r["train_s"])
            if r["status"] == "diverged":
                t.status, t.reason = "diverged", f"diverged at epoch {t.epochs_done}"
            elif r["status"] == "ok":
                t.status, t.reason = "finished", "trained to the end"
        elif kind == "decision":
            t = self.trials[ev["trial"]]
            t.predicted_final, t.p_better = ev.get("predicted_final"), ev.get("p_better")
            t.reason = ev["reason"]
            if ev["stop"]:
                t.status = "stopped"
            else:
                t.status, t.target = "training", int(ev["target"])
        elif kind == "submit":
            t = self.trials[ev["trial"]]
            t.status, t.target = "training", int(ev["target"])
        elif kind == "tell":
            self.told.add(ev["trial"])
        else:
            raise NasscoutError(f"unknown event {kind!r} in {EVENTS}")

    # ---- figures -----------------------------------------------------------------------------------
    @property
    def spent_epochs(self) -> int:
        return sum(t.epochs_done for t in self.trials.values())

    @property
    def spent_train_s(self) -> float:
        return sum(t.train_s for t in self.trials.values())

    def best(self) -> TrialState | None:
        done = [
            t for t in self.trials.values() if t.status == "finished" and t.valid_acc is not None
        ]
        return max(done, key=lambda t: (t.valid_acc, -t.trial)) if done else None

    def summary(self, opts: Any, *, finished: bool, wall_s: float, where: str) -> dict[str, Any]:
        stopped = [t for t in self.trials.values() if t.status == "stopped"]
        spent = self.spent_epochs if opts.budget_unit == "epochs" else self.spent_hours
        best = self.best()
        stop_epochs = sum(self.epochs - t.epochs_done for t in stopped)
        per_epoch = [t.train_s / t.epochs_done for t in stopped if t.epochs_done]
        trained = len(self.trials)
        return {
            "format": FORMAT,
            "dataset": opts.dataset,
            "preset": opts.preset,
            "epochs": self.epochs,
            "seed": opts.seed,
            "finished": finished,
            "wall_s": self.wall_s + wall_s,
            "workers": opts.workers,
            "where": where,
            "budget": {
                "unit": opts.budget_unit,
                "total": opts.budget_total,
                "spent": spent,
                "spent_epochs": self.spent_epochs,
                "spent_train_s": self.spent_train_s,
                "screen_s": self.screen_s,
                "fraction": spent / opts.budget_total,
            },
            "avoided": {
                "screened_out": max(self.screened - trained, 0),
                "stopped_trials": len(stopped),
                "stopped_epochs": stop_epochs,
                "stopped_train_s_est": sum(
                    (self.epochs - t.epochs_done) * s for t, s in zip(stopped, per_epoch)
                ),
            },
            "best": None
            if best is None
            else {
                "trial": best.trial,
                "cell": best.cell,
                "arch": best.arch,
                "valid_acc": best.valid_acc,
                "test_acc": best.test_acc,
                "params_m": best.params_m,
                "flops_m": best.flops_m,
                "curve": best.curve,
                "test_curve": best.test_curve,
            },
            "early_stop": {
                "rule": opts.early_stop,
                "threshold": opts.threshold,
                "extrapolator": opts.extrapolator,
                "fit": opts.fit,
                "min_completed": opts.min_completed,
                "calibration": opts.calibration,
                "checkpoints": opts.checkpoint_epochs(),
            },
            "prior": None if opts.prior == "none" else opts.prior,
            "trials": [
                {k: v for k, v in asdict(t).items() if k != "target"}
                for _, t in sorted(self.trials.items())
            ],
        }

    @property
    def spent_hours(self) -> float:
        return (self.spent_train_s + self.screen_s) / 3600.0


class EventLog:
    """``events.jsonl``: append (fsynced) and read back; a line cut by ``kill -9`` is dropped on open."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / EVENTS

    def read(self) -> list[dict[str, Any]]:
        from strategies.journal import drop_partial_tail

        if not self.path.exists():
            return []
        drop_partial_tail(self.path)
        out = []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            try:
                out.append(json.loads(line))
            except ValueError:
                raise NasscoutError(
                    f"{self.path} line {n} is damaged; the search cannot be resumed from it"
                ) from None
        return out

    def append(self, ev: dict[str, Any]) -> None:
        line = json.dumps(ev, allow_nan=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def write_summary(folder: Path, summary: dict[str, Any]) -> None:
    atomic_write(folder / SUMMARY, json.dumps(summary, indent=1, allow_nan=False) + "\n")
