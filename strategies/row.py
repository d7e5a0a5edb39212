"""One evaluation, one type: what the runner records, the journal stores, ``results.csv`` holds and the
report reads. Field order is the journal's line order; CSV columns are named in ``strategies.results``."""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple


class Outcome(NamedTuple):
    """What evaluating one trial yields (accuracies in percent, or the benchmark's metric; seconds)."""

    observed_acc: float  # what the strategy sees: one seed's value, or the seed-mean (--observe)
    true_acc: float  # seed-mean validation value at the benchmark's final fidelity (regret's truth)
    test_acc: float  # seed-mean test value where the benchmark has one, else NaN
    cost_s: float  # seconds of training this evaluation costs
    params_m: float
    latency_s: float
    train_time_s: float
    flops_m: float
    # early stopping (strategies.pruning); the defaults describe a training run to its end
    stopped_at: int = 0  # epochs trained before the pruner stopped it; 0 = not stopped
    predicted_acc: float = math.nan  # the extrapolated final when it was stopped (NaN: none)
    final_acc: float = math.nan  # the real final of the stopped training, where the data has it


class Row(NamedTuple):
    """One finished evaluation of one search (strategy x seed)."""

    strategy: str
    seed: int
    trial: int
    index: int
    fidelity: int
    observed_acc: float
    true_acc: float
    test_acc: float
    cost_s: float
    sim_time_s: float  # finish time on the backend's clock (simulated seconds, or wall seconds)
    wall_time_s: float
    params_m: float
    latency_s: float
    train_time_s: float
    flops_m: float
    # see Outcome; fields with defaults, so journals written before them still load
    stopped_at: int = 0
    predicted_acc: float = math.nan
    final_acc: float = math.nan

    @classmethod
    def make(
        cls, strategy: str, seed: int, trial: int, index: int, fidelity: int, outcome: Outcome,
        finish: float, wall: float,
    ) -> Row:  # fmt: skip
        o = outcome
        return cls(
            strategy, seed, trial, index, fidelity, o.observed_acc, o.true_acc, o.test_acc, o.cost_s,
            finish, wall, o.params_m, o.latency_s, o.train_time_s, o.flops_m, o.stopped_at,
            o.predicted_acc, o.final_acc,
        )  # fmt: skip

    @property
    def outcome(self) -> Outcome:
        return Outcome(
            self.observed_acc, self.true_acc, self.test_acc, self.cost_s, self.params_m,
            self.latency_s, self.train_time_s, self.flops_m, self.stopped_at, self.predicted_acc,
            self.final_acc,
        )  # fmt: skip

    @property
    def stopped(self) -> bool:
        """Stopped early by a pruner: no final observation, so never an incumbent."""
        return self.stopped_at > 0

    @property
    def told_acc(self) -> float:
        """What the strategy is told: a stopped training's extrapolated final where there is one (as Domhan
        et al. 2015 report it to the optimiser), else the last value observed."""
        if self.stopped_at > 0 and math.isfinite(self.predicted_acc):
            return self.predicted_acc
        return self.observed_acc

    def to_json(self) -> str:
        """One journal line (no newline): JSON with unknown numbers (NaN, inf) as null; the early-stopping
        fields only on a stopped row, so a run without it writes exactly the lines it always wrote."""
        fields = ROW_FIELDS if self.stopped_at else BASE_FIELDS
        return json.dumps(
            {k: _finite_or_none(v) for k, v in zip(fields, self)},
            separators=(",", ":"),
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Row:
        """From a parsed journal line (null -> NaN); raises KeyError/TypeError/ValueError when malformed."""
        return cls(
            str(obj["strategy"]),
            _as_int(obj["seed"]),
            _as_int(obj["trial"]),
            _as_int(obj["index"]),
            _as_int(obj["fidelity"]),
            *(_as_float(obj[k]) for k in BASE_FIELDS[5:]),
            _as_int(obj.get("stopped_at", 0)),
            *(_as_float(obj.get(k)) for k in STOP_FIELDS[1:]),
        )


ROW_FIELDS: tuple[str, ...] = Row._fields
# early stopping, written only on a stopped row
STOP_FIELDS: tuple[str, ...] = ("stopped_at", "predicted_acc", "final_acc")
BASE_FIELDS: tuple[str, ...] = ROW_FIELDS[: -len(STOP_FIELDS)]  # every journal line has these
OUTCOME_FIELDS: tuple[str, ...] = Outcome._fields


def _finite_or_none(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _as_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected an integer, got {v!r}")
    if not -(2**63) <= v < 2**63:  # journal numbers become int64 arrays
        raise ValueError("integer out of the int64 range")
    return v


def _as_float(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"expected a number, got {v!r}")
    return float(v)
