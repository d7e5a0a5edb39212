"""Pieces every weight-sharing search uses: per-epoch RNG streams, two-stage selection by inherited weights, and
accuracy on one validation batch with batch statistics (ENAS's cheap reward)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space
from surrogate.training.supernet import SharedWeights, cell_ops

SPACE = NB201Space()


def epoch_rng(seed: int, stream: int, epoch: int) -> np.random.Generator:
    """An independent generator per (seed, purpose, epoch): nothing to checkpoint, the same after a resume."""
    return np.random.default_rng([int(seed), int(stream), int(epoch)])


def uniform_cells(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` cells drawn uniformly from the 15,625 of NB201 (with replacement)."""
    return rng.integers(0, SPACE.n_cells, size=int(n), dtype=np.int64)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        what = "an integer >= 0" if allow_zero else "a positive integer"
        raise NasscoutError(f"{name}={value!r} is invalid; accepted: {what}")
    return int(value)


def _candidates(cells: Any) -> list[int] | None:
    """Checked candidate cells for the final pick (None: the whole space)."""
    if cells is None:
        return None
    if not isinstance(cells, (list, tuple)) or not cells:
        raise NasscoutError(
            f"candidates={cells!r} is invalid; accepted: a non-empty list of NB201 cells"
        )
    return sorted({int(SPACE.index(c)) for c in cells})


def select(
    sw: SharedWeights,
    cells: Sequence[int],
    *,
    screen_images: int,
    screen_recal: int,
    top_k: int,
    recal_batches: int,
) -> tuple[list[int], list[float], dict[str, Any]]:
    """Screen ``cells`` (distinct, in order) on the first ``screen_images`` validation images, re-score the
    ``top_k`` best on the whole validation split, and return them best first with their full scores."""
    cells = list(dict.fromkeys(int(c) for c in cells))
    screen = sw.score(cells, recal_batches=screen_recal, max_images=screen_images)
    order = np.argsort(-screen, kind="stable")[: max(1, top_k)]
    finalists = [cells[i] for i in order]
    full = sw.score(finalists, recal_batches=recal_batches)
    best = np.argsort(-full, kind="stable")
    chosen = [finalists[i] for i in best]
    scores = [float(full[i]) for i in best]
    info = {
        "screened": len(cells),
        "screen_images": int(min(screen_images, len(sw.splits.valid_x))),
        "screen_best": float(screen.max()),
        "screen_mean": float(screen.mean()),
    }
    return chosen, scores, info


class frozen_bn_stats:
    """Run the supernet in training mode (BatchNorm normalises with the batch's statistics) without moving
    the running statistics: momentum 0 leaves them as they are, and the counters are restored."""

    def __init__(self, net: nn.Module) -> None:
        self.bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.net = net

    def __enter__(self) -> None:
        self.saved = [(m.momentum, m.num_batches_tracked.clone()) for m in self.bns]
        for m in self.bns:
            m.momentum = 0.0
        self.net.train()

    def __exit__(self, *exc: Any) -> None:
        for m, (momentum, tracked) in zip(self.bns, self.saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


@torch.no_grad()
def batch_accuracy(
    sw: SharedWeights, xb: torch.Tensor, yb: torch.Tensor, cells: Sequence[int]
) -> np.ndarray:
    """Accuracy (fraction) of each cell on one normalised batch, BatchNorm on batch statistics (ENAS's
    reward, as NB201's ENAS with ``track_running_stats=False``)."""
    out = np.empty(len(cells))
    with frozen_bn_stats(sw.net):
        for k, c in enumerate(cells):
            out[k] = float((sw.net(xb, cell_ops(int(c))).argmax(1) == yb).float().mean())
    return out


def valid_batches(sw: SharedWeights) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The validation split in training-batch-sized chunks, normalised (fixed order)."""
    s, b = sw.splits, sw.preset.batch_size
    mean, std = s.mean.to(sw.device), s.std.to(sw.device)
    return [
        ((s.valid_x[i : i + b].to(sw.device) - mean) / std, s.valid_y[i : i + b].to(sw.device))
        for i in range(0, len(s.valid_x), b)
    ]
