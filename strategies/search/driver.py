"""The search loop: ``lowcost`` proposes, real workers train in segments, the stop rule reads the curves.

A candidate trains to its first checkpoint epoch (25% of the schedule), then to the next, and so on; between
segments the stop rule decides from the curve so far. A segment is one task on the executor (a local process
pool or Dask workers, ``surrogate.training.executors.run_segment``); it resumes the run's checkpoint, so a
segment cut by a crash loses nothing that finished. The strategy hears the final value of a finished training
and, for a stopped one, the extrapolated final (as Domhan et al. report it to their optimiser; the last value
under the median rule).

Budget: a new candidate starts only when what is spent plus what running trainings may still take plus one
whole training fits (``--budget-epochs``: epochs; ``--budget-hours``: measured training + screening seconds of
all workers), so no training is ever cut by the budget; the search ends when nothing more fits and nothing
runs.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from strategies.base import Observation, SearchContext
from strategies.pruning import calibration_curves
from strategies.search.options import TRAIN_SEED, SearchOptions
from strategies.search.screen import StopRule, screen_tables
from strategies.search.state import EventLog, SearchState, write_summary
from surrogate.errors import NasscoutError

POLL_S = 1.0  # the live view's refresh period while trainings run
MAX_POOL_RESTARTS = 3


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def _finite(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def segment_event(trial: int, r: dict[str, Any]) -> dict[str, Any]:
    """The journal line of a finished segment (NaN written as null)."""

    def clean(xs: list[float]) -> list[float | None]:
        return [None if x != x else float(x) for x in xs]

    num = lambda x: None if x is None or x != x else float(x)  # noqa: E731
    done = int(r.get("epochs_done", r["epochs"]))
    return {
        "e": "segment",
        "trial": trial,
        "result": {
            "status": r["status"],
            "epochs_done": done,
            "curve": clean(r["curves"]["valid_acc"][:done]),
            "test_curve": clean(r["curves"]["test_acc"][:done]),
            "valid_acc": num(r["valid_acc"]),
            "test_acc": num(r["test_acc"]),
            "params_m": num(r["params_m"]),
            "flops_m": num(r["flops_m"]),
            "train_s": float(np.nansum(np.asarray(r["curves"]["epoch_time_s"][:done], dtype=float)))
            + float(np.nansum(np.asarray(r["curves"]["valid_time_s"][:done], dtype=float))),
        },
    }


class Search:
    """One search in ``folder`` (created by the CLI); ``run`` drives it to the end of its budget."""

    def __init__(
        self,
        opts: SearchOptions,
        folder: Path,
        *,
        on_event: Callable[[str, SearchState], None] | None = None,
        full_training_s: float | None = None,
    ) -> None:
        from strategies.lowcost import LowCost
        from surrogate.spaces.nb201 import NB201Space

        self.opts, self.folder = opts, folder
        self.preset = opts.training_preset()
        self.T = self.preset.epochs
        self.space = NB201Space()
        self.log = EventLog(folder)
        self.state = SearchState(self.T)
        self.on_event = on_event or (lambda msg, state: None)
        self.store = folder / "runs.h5"
        self.checkpoints = opts.checkpoint_epochs()
        self.rule = StopRule(
            opts.early_stop,
            opts.threshold,
            self.T,
            seed=opts.seed,
            extrapolator=opts.extrapolator,
            fit=opts.fit,
            min_completed=opts.min_completed,
            calibration=None
            if opts.calibration is None
            else calibration_curves(opts.calibration, opts.dataset, self.T),
        )
        ctx = SearchContext(
            fidelities=(self.T,), n_workers=opts.workers, dataset=opts.dataset, benchmark=None
        )
        self.strategy = LowCost(self.space, seed=opts.seed, context=ctx, proxies="none")
        proxies, names, prior = screen_tables(opts.dataset, self.preset, opts.prior, self.space)
        self.strategy.set_screen_tables(proxies, names, 0.0, prior)
        self.trial_of: dict[int, Any] = {}  # trial number -> the strategy's Trial
        self.full_training_s = full_training_s  # estimate of one whole training (hours budget)
        self.where = ""
        self._t0 = time.monotonic()

    # ---- journal -----------------------------------------------------------------------------------
    def record(self, ev: dict[str, Any], message: str = "") -> None:
        self.log.append(ev)
        self.state.apply(ev)
        self.write_summary(finished=False)
        if message:
            self.on_event(message, self.state)

    def write_summary(self, *, finished: bool) -> dict[str, Any]:
        s = self.state.summary(
            self.opts, finished=finished, wall_s=time.monotonic() - self._t0, where=self.where
        )
        write_summary(self.folder, s)
        return s

    def replay(self) -> None:
        """Rebuild the state and the strategy from the journal (the strategy is asked and told again in the
        recorded order, and must propose the recorded cells: it is seeded)."""
        from strategies.search.state import SUMMARY

        try:  # the seconds of earlier sittings, killed ones included (the summary follows every event)
            self.state.wall_s = float(json.loads((self.folder / SUMMARY).read_text())["wall_s"])
        except (OSError, ValueError, KeyError, TypeError):
            self.state.wall_s = 0.0
        for ev in self.log.read():
            if ev["e"] == "ask":
                trial = self.strategy.ask()
                if int(trial.index) != ev["cell"]:
                    raise NasscoutError(
                        f"cannot resume: {self.log.path} asked cell {ev['cell']} as trial {ev['trial']}, "
                        f"this nasscout proposes {int(trial.index)} (another version?); start a new search"
                    )
                self.trial_of[ev["trial"]] = trial
            self.state.apply(ev)
            if ev["e"] == "tell":
                self._tell(ev["trial"], ev["value"])

    # ---- strategy ----------------------------------------------------------------------------------
    def _tell(self, k: int, value: float | None) -> None:
        t = self.state.trials[k]
        if (
            t.status == "finished"
        ):  # a complete curve: the stop rule compares later trainings with it
            self.rule.learn([_nan(v) for v in t.curve])
        obs = Observation(
            valid_acc=_nan(value),
            fidelity=self.T,
            cost_s=t.train_s,
            params_m=_nan(t.params_m),
            flops_m=_nan(t.flops_m),
        )
        self.strategy.tell(self.trial_of[k], obs)

    def _ask(self) -> int:
        t0 = time.perf_counter()
        trial = self.strategy.ask()
        screen_s = time.perf_counter() - t0
        k = len(self.state.trials)
        self.trial_of[k] = trial
        idx = int(trial.index)
        scored = self.strategy.n_screened
        self.record(
            {
                "e": "ask",
                "trial": k,
                "cell": idx,
                "arch": self.space.format(idx),
                "score": _finite(trial.info.get("score")),
                "screen_s": screen_s,
                "screened": scored,
            },
            f"trial {k}: cell {idx}, the screen's pick ({scored} candidates scored so far)",
        )
        return k

    # ---- budget ------------------------------------------------------------------------------------
    def _per_training(self) -> float:
        """Budget units one whole training takes (epochs, or hours as measured so far)."""
        if self.opts.budget_unit == "epochs":
            return float(self.T)
        rates = [t.train_s / t.epochs_done for t in self.state.trials.values() if t.epochs_done]
        if rates:
            return float(np.median(rates)) * self.T / 3600.0
        return (self.full_training_s or 0.0) / 3600.0

    def _committed(self) -> float:
        """What the active trainings may still take, in budget units."""
        left = sum(self.T - t.epochs_done for t in self.state.trials.values() if t.active)
        return left * self._per_training() / self.T

    def _spent(self) -> float:
        s = self.state
        return s.spent_epochs if self.opts.budget_unit == "epochs" else s.spent_hours

    def can_start(self) -> bool:
        need = self._spent() + self._committed() + self._per_training()
        return need <= self.opts.budget_total + 1e-9

    # ---- segments ----------------------------------------------------------------------------------
    def _next_target(self, done: int) -> int:
        later = [c for c in self.checkpoints if c > done]
        return later[0] if later else self.T

    def _submit(self, ex: Any, k: int, running: dict[Future, int]) -> None:
        from surrogate.training.executors import run_segment

        t = self.state.trials[k]
        target = t.target if t.status == "training" and t.target > t.epochs_done else None
        if target is None:
            target = self._next_target(t.epochs_done)
            self.record({"e": "submit", "trial": k, "target": target})
        stop_after = None if target >= self.T else target
        fut = ex.submit(
            run_segment, str(self.store), t.cell, TRAIN_SEED, stop_after, self.opts.device, 1
        )
        running[fut] = k
        span = (
            f"epoch {target}"
            if target == t.epochs_done + 1
            else f"epochs {t.epochs_done + 1}-{target}"
        )
        self.on_event(f"trial {k} (cell {t.cell}): training {span}", self.state)

    def _finished_segment(self, k: int, result: dict[str, Any]) -> int | None:
        """Journal a segment; returns the trial number when it must train on."""
        self.record(segment_event(k, result))
        return self._conclude(k)

    def _conclude(self, k: int) -> int | None:
        """After a segment (also one whose decision or tell a kill cut off): decide, tell, or train on."""
        t = self.state.trials[k]
        if t.status in ("finished", "diverged"):
            value = t.valid_acc if t.status == "finished" else None
            best = self.state.best()
            shown = "diverged" if value is None else f"valid {value:.2f}%"
            self.record(
                {"e": "tell", "trial": k, "value": value},
                f"trial {k} (cell {t.cell}) {t.status}: {shown}"
                + (" — new best" if best is not None and best.trial == k else ""),
            )
            self._tell(k, value)
            return None
        if t.status == "stopped":  # decided, not yet told
            self._tell_stopped(k)
            return None
        d = self.rule.decide([_nan(v) for v in t.curve])
        self.record(
            {
                "e": "decision",
                "trial": k,
                "stop": d["stop"],
                "predicted_final": d["predicted_final"],
                "p_better": d["p_better"],
                "reason": d["reason"],
                "target": self._next_target(t.epochs_done),
            },
            f"trial {k} (cell {t.cell}): {d['reason']}",
        )
        if not d["stop"]:
            return k
        self._tell_stopped(k)
        return None

    def _tell_stopped(self, k: int) -> None:
        """A stopped training's value for the strategy: the extrapolated final (Domhan et al.), else the
        last value seen."""
        t = self.state.trials[k]
        value = t.predicted_final if t.predicted_final is not None else t.valid_acc
        self.record({"e": "tell", "trial": k, "value": value})
        self._tell(k, value)

    # ---- the loop ----------------------------------------------------------------------------------
    def run(self, executor_factory: Callable[[], Any]) -> dict[str, Any]:
        """Drive the search to its end; ``executor_factory()`` is a context manager giving (executor, where,
        slots)."""
        from surrogate.training.runstore import RunStore

        store = RunStore(self.store, self.opts.dataset, self.preset)  # created or checked first
        restarts = 0
        while True:
            try:
                with executor_factory() as (ex, where, slots):
                    self.where = where
                    self._loop(ex, slots)
                break
            except BrokenProcessPool:
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    raise NasscoutError(
                        f"training workers died {restarts} times; rerun with --resume to continue"
                    ) from None
                print("nasscout: a training worker died; resuming its training", file=sys.stderr)
        store.consolidate()  # runs.h5 answers like any benchmark (nasscout bench info / query)
        return self.write_summary(finished=True)

    def _loop(self, ex: Any, slots: int) -> None:
        running: dict[Future, int] = {}
        for k, t in sorted(self.state.trials.items()):  # resumed: finish what a kill cut short
            if k not in self.state.told and (
                not t.active or (t.epochs_done and t.epochs_done >= t.target)
            ):
                if self._conclude(k) is None:
                    continue
            if t.active:
                self._submit(ex, k, running)
        while True:
            while len(running) < slots and self.can_start():
                self._submit(ex, self._ask(), running)
            if not running:
                return
            done, _ = wait(list(running), timeout=POLL_S, return_when=FIRST_COMPLETED)
            if not done:
                self.on_event("", self.state)  # refresh the live view
                continue
            for fut in done:
                k = running.pop(fut)
                on = self._finished_segment(k, fut.result())
                if on is not None:
                    self._submit(ex, on, running)
