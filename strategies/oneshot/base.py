"""The contract of a weight-sharing search method (rsws, enas, cars, darts) on an NB201 supernet.

A method owns its own search state (a controller, a population, architecture weights) and drives the shared
weights of a ``surrogate.training.supernet.SharedWeights`` through ``train_step``. The driver
(``strategies.oneshot.driver``) calls ``run_epoch`` once per budget epoch and checkpoints both states after
each, so a killed search resumes at the last finished epoch with the same result bit for bit. One budget epoch
is ``sw.steps_per_epoch`` SGD steps of the shared weights (a pass over the preset's training images), whatever
else the method does in it; the measured seconds of everything (method updates and scoring included) are what
the search reports as its cost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from surrogate.training.supernet import SharedWeights


@dataclass
class OneShotOutcome:
    """What a search ends with: the chosen cell(s) (NB201 indices; CARS: its Pareto front, best first) and
    their inherited-weight scores (validation accuracy in percent), plus anything method-specific to report
    (e.g. the DARTS architecture weights as a plain list)."""

    method: str
    chosen: list[int]
    scores: list[float]
    extra: dict[str, Any] = field(default_factory=dict)


class OneShotMethod(ABC):
    """One weight-sharing search; constructor options are keyword arguments with documented defaults."""

    name: ClassVar[str]

    def __init__(self, sw: SharedWeights, *, seed: int) -> None:
        self.sw = sw
        self.seed = int(seed)

    @abstractmethod
    def run_epoch(self, epoch: int, n_epochs: int) -> dict[str, Any]:
        """Run budget epoch ``epoch`` (0-based) of ``n_epochs``; return its curve row: plain numbers/ints,
        always ``train_loss`` (mean loss of the shared-weight steps; the driver plots and shows it), plus
        anything method-specific (the current best cell and its score...)."""

    def finish_if_last(self, row: dict[str, Any], epoch: int, n_epochs: int) -> dict[str, Any]:
        """On the last budget epoch, choose the final cells (the method's ``_select()``, kept as
        ``self.outcome``) and add the best one and its score to the epoch's row."""
        if epoch + 1 == n_epochs:
            self.outcome = self._select()  # type: ignore[attr-defined]
            row["best_cell"], row["best_score"] = (
                self.outcome["chosen"][0],
                self.outcome["scores"][0],
            )
        return row

    @abstractmethod
    def result(self) -> OneShotOutcome:
        """The chosen cell(s) given the state now (called after the last epoch, or earlier to peek)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The method's own state (tensors and plain data only: it is saved with torch.save and loaded with
        weights_only=True); the shared weights are checkpointed separately by the driver."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
