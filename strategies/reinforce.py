"""REINFORCE with a factorised policy over the space's positions, as the NAS-Bench-201 paper's RL baseline.

The controller is one softmax per position over that position's choices (on NB201 logits ``(6, 5)``, one per
edge over the 5 ops), exactly the NB201/NATS-Bench RL policy (AutoDL-Projects ``exps/NATS-algos/reinforce.py``). Its gradient has a closed form, so the policy and
its Adam optimiser are a few numpy lines: no torch import, ~20 us per ask/tell, bit-for-bit reproducible.

``controller=lstm`` swaps the policy for Zoph & Le's (2017) NAS controller, the autoregressive LSTM of
``strategies.controller`` (torch, imported only then), trained by the same REINFORCE rule.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from strategies.base import Observation, SearchContext, Strategy, Trial
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace


class _Adam:
    """Adam (Kingma & Ba 2015) with torch.optim.Adam's defaults and update order."""

    def __init__(self, shape: tuple[int, ...], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, betas[0], betas[1], eps
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad * grad
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        params -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Reinforce(Strategy):
    """REINFORCE (Williams 1992) with a moving-average baseline, the NB201 paper's RL baseline.

    Defaults follow AutoDL-Projects (the NB201/NATS-Bench authors' code):

    - policy: independent softmax per position (NB201: per edge), logits initialised to ``1e-3 * N(0, 1)``;
      positions with fewer choices than the widest one hold ``-inf`` logits in the unused slots, so each
      categorical has exactly its position's cardinality;
    - optimiser: Adam, ``lr=0.01`` -- the value NATS-Bench (the benchmark's journal version) runs its topology
      search space with, after the NB201 grid search over {0.01, 0.02, 0.1, 0.2, 0.5}; the first NB201 script
      example used 0.001 (pass ``lr=0.001`` to reproduce it);
    - baseline: exponential moving average of the reward with momentum 0.9 and bias correction, updated with the
      new reward *before* the advantage ``reward - baseline`` is taken (as the reference code does);
    - reward: the observed validation accuracy in percent; one policy-gradient step per told trial.

    With several workers each trial is sampled from the policy of its ask time and its update uses the policy of
    its tell time (asynchronous REINFORCE); with one worker the two coincide. Repeated cells are allowed: the
    policy is meant to concentrate, and a repeat is a fresh noisy observation.

    ``controller="lstm"``: Zoph & Le's NAS controller (``strategies.controller.LSTMController``) emits the cell
    position by position, each choice conditioned on the earlier ones. Paper defaults: 2 layers of 35 units,
    weights uniform in [-0.08, 0.08], plain softmax (no tanh constant or temperature), Adam, an exponential
    moving-average baseline, no entropy bonus. Ours: Adam at this strategy's ``lr`` (0.01 by default; the
    paper's 0.0006 is ``lr=0.0006``, too slow for the few hundred trials of a tabular search), the reward is
    the validation accuracy in percent (the paper cubes the best of the last 5 epochs), one update per trial.
    The LSTM draws from a ``torch.Generator`` seeded from ``seed``.

    Spaces where a choice vector may be no cell: such a draw is rejected and the vector drawn again (the policy
    is then the categorical product conditioned on validity); the gradient uses the vector actually drawn,
    which may differ from the stored representative of its cell when several vectors name one cell.
    """

    name = "reinforce"
    summary = (
        "REINFORCE: factorised softmax policy per edge, EMA baseline, Adam (NB201 RL baseline)"
    )

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        context: SearchContext | None = None,
        lr: float = 0.01,
        ema_momentum: float = 0.9,
        controller: Literal["factorised", "lstm"] = "factorised",
        lstm_hidden: int = 35,
        lstm_layers: int = 2,
        entropy_weight: float = 0.0,
    ):
        super().__init__(space, seed=seed, context=context)
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise NasscoutError(f"reinforce: lr {lr!r} is invalid; accepted: a number > 0")
        if not (isinstance(ema_momentum, (int, float)) and 0 <= ema_momentum < 1):
            raise NasscoutError(
                f"reinforce: ema_momentum {ema_momentum!r} is invalid; accepted: 0 <= momentum < 1"
            )
        if controller not in ("factorised", "lstm"):
            raise NasscoutError(
                f"reinforce: controller {controller!r} is unknown; accepted: factorised, lstm"
            )
        for name, value in (("lstm_hidden", lstm_hidden), ("lstm_layers", lstm_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NasscoutError(
                    f"reinforce: {name} {value!r} is invalid; accepted: a positive integer"
                )
        if not (isinstance(entropy_weight, (int, float)) and entropy_weight >= 0):
            raise NasscoutError(
                f"reinforce: entropy_weight {entropy_weight!r} is invalid; accepted: a number >= 0"
            )
        self.controller = controller
        self.entropy_weight = float(entropy_weight)
        self.lr = float(lr)
        self.ema_momentum = float(ema_momentum)
        card = np.asarray(space.cardinalities, dtype=np.int64)
        self._card = card
        width = int(card.max())
        # one draw of P * width normals (NB201: the (6, 5) draw of the reference code), unused slots -inf
        self.logits = 1e-3 * self.rng.standard_normal((len(card), width))
        self.logits[np.arange(width)[None, :] >= card[:, None]] = -np.inf
        self._adam = _Adam(self.logits.shape, self.lr)
        self._ema_num = 0.0
        self._ema_den = 0.0
        self._rows = np.arange(len(card))
        self._actions: dict[int, np.ndarray] = {}  # trial_id -> the choice vector drawn for it
        self.lstm = None
        if controller == "lstm":
            from strategies.controller import LSTMController

            self.lstm = LSTMController(
                card.tolist(),
                seed=int(self.rng.integers(2**63)),
                hidden=lstm_hidden,
                layers=lstm_layers,
                tanh_constant=None,
                temperature=None,
                init_range=0.08,
                lr=self.lr,
                betas=(0.9, 0.999),
                eps=1e-8,
            )

    # ---- policy -------------------------------------------------------------------------------------
    def probabilities(self) -> np.ndarray:
        """Current policy, shape (positions, widest cardinality): row p is position p's choice distribution
        (zero beyond its cardinality)."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @property
    def baseline(self) -> float:
        return self._ema_num / self._ema_den if self._ema_den > 0 else float("nan")

    def _ask_lstm(self) -> Trial:
        for _ in range(16):  # batches of draws; the first that names a cell of the space wins
            drawn = self.lstm.sample(64)[0].numpy()
            indices = self.space.indices_from_ops(drawn, strict=False)
            hits = np.flatnonzero(indices >= 0)
            if hits.size:
                index, ops = int(indices[hits[0]]), drawn[hits[0]].astype(np.int64)
                break
        else:  # the policy has concentrated on non-cells: fall back to a uniform cell
            index = int(self.space.sample_indices(self.rng, 1)[0])
            ops = self.space.cell_ops[index].astype(np.int64)
        trial = self._new_trial(index)
        self._actions[trial.trial_id] = ops
        return trial

    def ask(self) -> Trial:
        if self.lstm is not None:
            return self._ask_lstm()
        cdf = np.cumsum(self.probabilities(), axis=1)
        for _ in range(1000):
            u = self.rng.random(len(self._card))[:, None]
            ops = np.minimum((u >= cdf).sum(axis=1), self._card - 1)
            index = int(self.space.indices_from_ops(ops, strict=False)[0])
            if index >= 0:
                break
        else:  # the policy has concentrated on non-cells: fall back to a uniform cell
            index = int(self.space.sample_indices(self.rng, 1)[0])
            ops = self.space.cell_ops[index].astype(np.int64)
        trial = self._new_trial(index)
        self._actions[trial.trial_id] = ops
        return trial

    def tell(self, trial: Trial, obs: Observation) -> None:
        actions = self._actions.pop(trial.trial_id, None)
        if actions is None:  # not proposed by this instance: its cell's own choice vector
            actions = self.space.cell_ops[trial.index].astype(np.int64)
        reward = float(obs.valid_acc)
        if not math.isfinite(reward):
            return  # nothing learnt from a missing answer
        m = self.ema_momentum
        self._ema_num = m * self._ema_num + (1 - m) * reward
        self._ema_den = m * self._ema_den + (1 - m)
        advantage = reward - self.baseline
        if self.lstm is not None:
            import torch

            self.lstm.reinforce(
                torch.from_numpy(actions[None].astype(np.int64)),
                torch.tensor([advantage], dtype=torch.float32),
                self.entropy_weight,
            )
            return
        grad_logp = -self.probabilities()
        grad_logp[self._rows, actions] += 1.0
        # minimise -advantage * log p(actions)
        self._adam.step(self.logits, -advantage * grad_logp)
