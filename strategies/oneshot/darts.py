"""First-order DARTS (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019) on the
NB201 supernet.

Every edge of the cell carries architecture weights alpha (6 edges x 5 ops); the supernet runs the softmax
mixture of all ops (``Supernet.forward_mixed``). Each step first moves alpha by one Adam step on a batch of the
*architecture half* of the training images, then the shared weights by one SGD step on a batch of the *weight
half* (the order of DARTS's ``train_search.py``; first order: alpha's gradient is taken at the current weights,
no unrolled step). The validation split that scores cells is never used for either update. The search ends
with the argmax op of every edge.

Defaults, and whose they are:

- the paper's: two halves of the training images (``train_portion=0.5``); alpha initialised as 1e-3 * N(0, 1)
  (also NB201's ``TinyNetworkDarts``); Adam for alpha with lr 3e-4, betas (0.5, 0.999), weight decay 1e-3;
  alpha step before weight step, one each per batch;
- NB201's (Dong & Yang, ICLR 2020, the DARTS-V1 baseline on this space): the chosen cell is the argmax over all
  5 ops of every edge, ``none`` included (``argmax_none=True``); DARTS's own derivation on its space drops
  ``none`` (``argmax_none=False`` does that here, and both cells are in ``extra``);
- ours: the shared weights use the preset's optimiser and cosine schedule (``SharedWeights``: NB201's SGD
  Nesterov recipe, not DARTS's lr 0.025 / weight decay 3e-4), batch size from the preset; one budget epoch is
  one pass over the weight half (so half of ``SharedWeights``' usual steps, each on the 4 non-zero ops of every
  edge); scores are the inherited-weight validation accuracy of the argmax cell with BatchNorm recalibrated
  (``recal_batches``), measured after every epoch for the curve.

NB201 reports DARTS-V1 collapsing to all-skip-connect cells on CIFAR; the curve rows carry the mean softmax
weight of every op and the argmax cell after every epoch, and ``extra["softmax_trajectory"]`` the whole
(6 x 5) history, so what happens here is measured rather than assumed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from strategies.oneshot._checks import check_epochs, in_range, positive_int, reject_unknown
from strategies.oneshot.base import OneShotMethod, OneShotOutcome
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_EDGES, N_OPS, OPS, NB201Space
from surrogate.training.supernet import SharedWeights
from surrogate.training.trainer import derived_seed

_SPACE = NB201Space()
_OPTIONS = (
    "arch_lr",
    "arch_betas",
    "arch_weight_decay",
    "init_std",
    "train_portion",
    "argmax_none",
    "recal_batches",
)
_SHORT = {"none": "none", "skip_connect": "skip", "nor_conv_1x1": "conv1", "nor_conv_3x3": "conv3"}
_SHORT["avg_pool_3x3"] = "pool"


def argmax_cell(alpha: torch.Tensor, *, allow_none: bool) -> int:
    """The NB201 index of the cell taking the strongest op of every edge (``none`` excluded if not allowed)."""
    a = alpha.detach().clone()
    if not allow_none:
        a[:, 0] = -torch.inf
    return int(_SPACE.indices_from_ops(a.argmax(1).numpy())[0])


class DARTS(OneShotMethod):
    """First-order DARTS: softmax-relaxed ops on every edge, alternating alpha (Adam) / weight (SGD) steps on
    two disjoint halves of the training images, the argmax cell at the end."""

    name: ClassVar[str] = "darts"

    def __init__(
        self,
        sw: SharedWeights,
        *,
        seed: int,
        arch_lr: float = 3e-4,
        arch_betas: tuple[float, float] | list[float] = (0.5, 0.999),
        arch_weight_decay: float = 1e-3,
        init_std: float = 1e-3,
        train_portion: float = 0.5,
        argmax_none: bool = True,
        recal_batches: int = 4,
        **options: Any,
    ) -> None:
        super().__init__(sw, seed=seed)
        reject_unknown(self.name, options, _OPTIONS)
        lr = in_range(self.name, "arch_lr", arch_lr, 0.0, 10.0, open_low=True)
        betas = tuple(arch_betas) if isinstance(arch_betas, (tuple, list)) else ()
        if len(betas) != 2 or not all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas
        ):
            raise NasscoutError(
                f"darts: arch_betas={arch_betas!r} is invalid; accepted: two numbers in [0, 1)"
            )
        wd = in_range(self.name, "arch_weight_decay", arch_weight_decay, 0.0, 1.0)
        std = in_range(self.name, "init_std", init_std, 0.0, 10.0)
        portion = in_range(self.name, "train_portion", train_portion, 0.0, 1.0, open_low=True)
        if not isinstance(argmax_none, bool):
            raise NasscoutError(
                f"darts: argmax_none={argmax_none!r} is invalid; accepted: true or false"
            )
        self.argmax_none = argmax_none
        self.recal_batches = positive_int(self.name, "recal_batches", recal_batches, minimum=0)
        n = len(sw.splits.train_x)
        n_w = int(round(portion * n))
        if not 1 <= n_w < n:
            raise NasscoutError(
                f"darts: train_portion={train_portion!r} leaves {n_w} of {n} training images for the "
                f"weights; accepted: a fraction leaving at least one image for each half"
            )
        # the two halves: a seeded permutation of the training images (DARTS takes the first and second half
        # of CIFAR's ordered training set; ours are already a random subset, a permutation keeps classes mixed)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed(seed, 20)))
        self.weight_rows, self.arch_rows = perm[:n_w].sort().values, perm[n_w:].sort().values
        sw.use_training_rows(self.weight_rows)
        gen = torch.Generator().manual_seed(derived_seed(seed, 21))
        self.alpha = (std * torch.randn(N_EDGES, N_OPS, generator=gen)).requires_grad_(True)
        self.opt = torch.optim.Adam([self.alpha], lr=lr, betas=betas, weight_decay=wd)
        self.arch_gen = torch.Generator().manual_seed(derived_seed(seed, 22))
        self._arch_order = torch.empty(0, dtype=torch.long)
        self._arch_pos = 0
        self.trajectory: list[list[list[float]]] = []  # softmax(alpha) after every epoch
        self.epochs_done = 0

    # -- batches of the architecture half ---------------------------------------------------------------
    def _arch_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.sw.preset.batch_size
        if self._arch_pos >= len(self._arch_order):
            perm = torch.randperm(len(self.arch_rows), generator=self.arch_gen)
            self._arch_order, self._arch_pos = self.arch_rows[perm], 0
        idx = self._arch_order[self._arch_pos : self._arch_pos + b]
        self._arch_pos += b
        return self.sw.make_batch(idx, self.arch_gen)

    def _arch_step(self) -> float:
        """One Adam step of alpha on the architecture half, at the current shared weights (first order)."""
        xb, yb = self._arch_batch()
        self.sw.net.train()
        loss = F.cross_entropy(self.sw.net.forward_mixed(xb, torch.softmax(self.alpha, 1)), yb)
        (grad,) = torch.autograd.grad(loss, [self.alpha])
        self.opt.zero_grad(set_to_none=True)
        self.alpha.grad = grad
        self.opt.step()
        return float(loss.detach())

    # -- the contract -----------------------------------------------------------------------------------
    def run_epoch(self, epoch: int, n_epochs: int) -> dict[str, Any]:
        check_epochs(self.name, n_epochs, self.sw.epochs, epoch)
        arch_losses, losses = [], []
        for xb, yb in self.sw.epoch_batches():
            arch_losses.append(self._arch_step())
            weights = torch.softmax(self.alpha.detach(), 1)
            losses.append(self.sw.train_step(xb, yb, weights=weights))
        self.epochs_done += 1
        soft = torch.softmax(self.alpha.detach(), 1)
        self.trajectory.append(soft.tolist())
        cell = argmax_cell(self.alpha, allow_none=self.argmax_none)
        ops = _SPACE.ops(cell)[0]
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)),
            "arch_loss": float(np.mean(arch_losses)),
            "cell": cell,
            "score": float(self.sw.score([cell], recal_batches=self.recal_batches)[0]),
        }
        mean = soft.mean(0)
        for o, op in enumerate(OPS):
            row[f"p_{_SHORT[op]}"] = float(mean[o])
        for o, op in enumerate(OPS):
            row[f"n_{_SHORT[op]}"] = int((ops == o).sum())
        entropy = -(soft * soft.clamp_min(1e-12).log()).sum(1).mean()
        row["entropy"] = float(entropy)  # ln 5 = 1.609 is uniform
        return row

    def result(self) -> OneShotOutcome:
        cell = argmax_cell(self.alpha, allow_none=self.argmax_none)
        score = float(self.sw.score([cell], recal_batches=self.recal_batches)[0])
        return OneShotOutcome(
            method=self.name,
            chosen=[cell],
            scores=[score],
            extra={
                "argmax_none": self.argmax_none,
                "cell_with_none": argmax_cell(self.alpha, allow_none=True),
                "cell_without_none": argmax_cell(self.alpha, allow_none=False),
                "arch": _SPACE.format(cell),
                "alpha": self.alpha.detach().tolist(),
                "softmax": torch.softmax(self.alpha.detach(), 1).tolist(),
                "ops": list(OPS),
                "softmax_trajectory": [list(map(list, s)) for s in self.trajectory],
                "epochs": self.epochs_done,
                "weight_images": len(self.weight_rows),
                "arch_images": len(self.arch_rows),
            },
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha.detach().clone(),
            "optimizer": self.opt.state_dict(),
            "arch_gen": self.arch_gen.get_state(),
            "arch_order": self._arch_order.clone(),
            "arch_pos": self._arch_pos,
            "trajectory": torch.tensor(self.trajectory, dtype=torch.float32).reshape(
                -1, N_EDGES, N_OPS
            ),
            "epochs_done": self.epochs_done,
            "arch_rows": self.arch_rows.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not torch.equal(state["arch_rows"], self.arch_rows):
            raise NasscoutError(
                "darts: the saved state belongs to another run (other training halves); accepted: a "
                "state saved by a darts search with the same seed and options"
            )
        with torch.no_grad():
            self.alpha.copy_(state["alpha"])
        self.opt.load_state_dict(state["optimizer"])
        self.arch_gen.set_state(state["arch_gen"])
        self._arch_order = state["arch_order"].clone()
        self._arch_pos = int(state["arch_pos"])
        self.trajectory = state["trajectory"].tolist()
        self.epochs_done = int(state["epochs_done"])
