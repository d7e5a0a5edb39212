"""ENAS (Pham et al., ICML 2018): an LSTM controller samples cells; the shared weights are trained on the cells
it samples, and the controller is trained with REINFORCE on their accuracy with the shared weights.

Each budget epoch alternates ENAS's two phases:

1. shared weights: one SGD step per minibatch, each on a cell drawn from the current controller;
2. controller: ``controller_steps`` REINFORCE updates, each on ``controller_aggregate`` cells drawn from the
   controller and rewarded with their accuracy (fraction) on one validation minibatch with the shared weights
   (BatchNorm on batch statistics, as NB201's ENAS), plus ``entropy_weight`` times the sample's entropy; the
   baseline is a moving average of the reward (``baseline += (1 - baseline_decay) * (reward - baseline)``).

At the end ``final_samples`` cells are drawn from the controller, screened with the shared weights on
``screen_images`` validation images and the ``top_k`` best re-scored on the whole validation split; the best
is the result (the paper: sample several cells, keep the one with the best reward on a validation minibatch).
With ``candidates`` (``--cells table``) the final pool is the ``final_samples`` candidates the controller
finds most likely instead.

Defaults. From the paper / its code: REINFORCE with a moving-average baseline of decay 0.99, entropy bonus
1e-4 added to the reward, Adam for the controller at lr 0.001 (macro search; micro used 0.0035), one cell per
minibatch for the shared weights. From NB201's ENAS on this space (AutoDL-Projects): a 2-layer LSTM of 32
units emitting one op per edge, logits ``2.5 * tanh(logits / 5)``, Adam betas (0, 0.999), eps 1e-3,
initialisation uniform in [-0.1, 0.1]. Ours: 10 controller steps x 10 cells per epoch (ENAS: 30-50 x 10-20 on
~350 shared steps per CIFAR epoch; ours has 40 shared steps per ``cpu-mini`` epoch, so the proportion of
controller work is kept), 100 final samples, and the BN-recalibrated two-stage selection shared with ``rsws``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from strategies.controller import LSTMController
from strategies.oneshot.base import OneShotMethod, OneShotOutcome
from strategies.oneshot.common import (
    SPACE,
    _candidates,
    batch_accuracy,
    check_positive,
    select,
    valid_batches,
)
from surrogate.errors import NasscoutError
from surrogate.training.supernet import SharedWeights, cell_ops
from surrogate.training.trainer import derived_seed


def _indices(actions: torch.Tensor) -> list[int]:
    return SPACE.indices_from_ops(actions.numpy()).tolist()


class ENAS(OneShotMethod):
    """LSTM controller + REINFORCE alternating with shared-weight training of the cells it samples."""

    name = "enas"

    def __init__(
        self,
        sw: SharedWeights,
        *,
        seed: int,
        lstm_hidden: int = 32,
        lstm_layers: int = 2,
        tanh_constant: float | None = 2.5,
        temperature: float | None = 5.0,
        controller_lr: float = 0.001,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        controller_steps: int = 10,
        controller_aggregate: int = 10,
        final_samples: int = 100,
        screen_images: int = 500,
        screen_recal: int = 2,
        top_k: int = 10,
        recal_batches: int = 4,
        candidates: list[int] | None = None,
    ) -> None:
        super().__init__(sw, seed=seed)
        for name, value in (
            ("controller_lr", controller_lr),
            ("entropy_weight", entropy_weight),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise NasscoutError(f"{name}={value!r} is invalid; accepted: a number >= 0")
        if not (isinstance(baseline_decay, (int, float)) and 0 <= baseline_decay < 1):
            raise NasscoutError(
                f"baseline_decay={baseline_decay!r} is invalid; accepted: 0 <= decay < 1"
            )
        self.controller_steps = check_positive("controller_steps", controller_steps)
        self.controller_aggregate = check_positive("controller_aggregate", controller_aggregate)
        self.final_samples = check_positive("final_samples", final_samples)
        self.screen_images = check_positive("screen_images", screen_images)
        self.screen_recal = check_positive("screen_recal", screen_recal, allow_zero=True)
        self.top_k = check_positive("top_k", top_k)
        self.recal_batches = check_positive("recal_batches", recal_batches, allow_zero=True)
        self.candidates = _candidates(candidates)
        self.entropy_weight, self.baseline_decay = float(entropy_weight), float(baseline_decay)
        self.controller = LSTMController(
            [5] * 6,
            seed=derived_seed(seed, 11),
            hidden=check_positive("lstm_hidden", lstm_hidden),
            layers=check_positive("lstm_layers", lstm_layers),
            tanh_constant=tanh_constant,
            temperature=temperature,
            init_range=0.1,
            lr=float(controller_lr),
            betas=(0.0, 0.999),
            eps=1e-3,
        )
        self.baseline: float | None = None
        self.valid_pos = 0  # next validation minibatch for a reward
        self.outcome: dict[str, Any] | None = None
        self._valid: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def run_epoch(self, epoch: int, n_epochs: int) -> dict[str, Any]:
        sw = self.sw
        steps = sw.steps_per_epoch - sw.step % sw.steps_per_epoch
        cells = _indices(self.controller.sample(steps)[0])
        losses = [
            sw.train_step(xb, yb, cell_ops(c)) for (xb, yb), c in zip(sw.epoch_batches(), cells)
        ]
        if self._valid is None:
            self._valid = valid_batches(sw)
        rewards, entropies = [], []
        for _ in range(self.controller_steps):
            actions = self.controller.sample(self.controller_aggregate)[0]
            xb, yb = self._valid[self.valid_pos % len(self._valid)]
            self.valid_pos += 1
            acc = batch_accuracy(sw, xb, yb, _indices(actions))
            _, ent = self.controller.log_prob(actions)
            reward = acc + self.entropy_weight * ent.detach().numpy()
            for r in reward:  # moving-average baseline, updated sample by sample
                b = self.baseline if self.baseline is not None else float(r)
                self.baseline = b - (1.0 - self.baseline_decay) * (b - float(r))
            adv = torch.as_tensor(reward - self.baseline, dtype=torch.float32)
            stats = self.controller.reinforce(actions, adv, 0.0)
            rewards.append(float(acc.mean()))
            entropies.append(stats["entropy"])
        greedy = int(SPACE.indices_from_ops(np.asarray(self.controller.argmax()))[0])
        row: dict[str, Any] = {
            "train_loss": float(np.mean(losses)),
            "reward_acc": 100.0 * float(np.mean(rewards)),
            "baseline": 100.0 * float(self.baseline),
            "entropy": float(np.mean(entropies)),
            "greedy_cell": greedy,
        }
        return self.finish_if_last(row, epoch, n_epochs)

    def _select(self) -> dict[str, Any]:
        if self.candidates is None:
            sampled = _indices(self.controller.sample(self.final_samples)[0])
        else:  # the candidates the controller finds most likely
            ops = torch.from_numpy(SPACE.cell_ops[self.candidates].astype(np.int64))
            with torch.no_grad():
                logp = self.controller.log_prob(ops)[0].numpy()
            top = np.argsort(-logp, kind="stable")[: self.final_samples]
            sampled = [self.candidates[i] for i in top]
        chosen, scores, info = select(
            self.sw,
            sampled,
            screen_images=self.screen_images,
            screen_recal=self.screen_recal,
            top_k=self.top_k,
            recal_batches=self.recal_batches,
        )
        info["greedy_cell"] = int(SPACE.indices_from_ops(np.asarray(self.controller.argmax()))[0])
        return {"chosen": chosen, "scores": scores, "info": info}

    def result(self) -> OneShotOutcome:
        out = self.outcome if self.outcome is not None else self._select()
        extra = {"finalists": out["chosen"], "finalist_scores": out["scores"], **out["info"]}
        return OneShotOutcome(self.name, out["chosen"][:1], out["scores"][:1], extra)

    def state_dict(self) -> dict[str, Any]:
        return {
            "controller": self.controller.full_state(),
            "baseline": self.baseline,
            "valid_pos": self.valid_pos,
            "outcome": self.outcome,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_full_state(state["controller"])
        self.baseline = state["baseline"]
        self.valid_pos = int(state["valid_pos"])
        self.outcome = state["outcome"]
