"""The NB201 supernet: every edge of every cell holds all 5 ops, so one set of weights serves all 15,625 cells.

Weight sharing (ENAS, SPOS, CARS, DARTS, random search with weight sharing) trains this network once and then
scores any cell by the accuracy it reaches with the weights it inherits. The layout is NB201's TinyNetwork
(``surrogate.network``) with the same C, N, classes and input size; only the cells differ: edge ``e`` of a
cell owns one module per op, and

* ``forward(x, cell)`` runs the single path of one cell (the ops it names, skipping ``none`` edges and edges
  that never reach the output, exactly as ``surrogate.network.Cell`` does), so a cell's inherited network is
  bit-for-bit ``inherit(supernet, cell)``, a plain ``NB201Network`` with the shared weights copied in;
* ``forward_mixed(x, weights)`` runs DARTS's continuous relaxation: every edge outputs the weighted sum of its
  ops' outputs (``none`` contributes zero), with ``weights`` of shape (6 edges, 5 ops).

``SharedWeights`` is the training state every weight-sharing method drives: the supernet, NB201's optimiser
and per-iteration cosine schedule from the preset, the batch stream, and scoring of cells by inherited weights
with BatchNorm statistics recalibrated on a few fixed training batches (the shared running statistics are a
mixture over all the cells trained, wrong for any single one). Everything random flows from ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from surrogate.errors import NasscoutError
from surrogate.network import NB201Network, ReLUConvBN, ResNetBlock, _norm, reset_parameters
from surrogate.spaces.nb201 import EDGES, N_EDGES, N_OPS, NB201Space
from surrogate.training.data import Splits, augment, canonical_dataset, load_splits
from surrogate.training.presets import Preset
from surrogate.training.trainer import derived_seed, resolve_device

_SPACE = NB201Space()
_NONE, _SKIP, _CONV1, _CONV3, _POOL = range(N_OPS)


def cell_ops(cell: Any) -> tuple[int, ...]:
    """The 6 op ids of a cell given as NB201 index, arch string or ``Arch`` (outside the space: one line)."""
    return tuple(int(o) for o in _SPACE.arch(cell))


def _live_edges(ops: tuple[int, ...]) -> tuple[int, ...]:
    """Edges that carry signal from the cell input to its output (as ``surrogate.network.Cell``)."""
    reaches_input = {0}
    for (src, dst), op in zip(EDGES, ops):
        if op != _NONE and src in reaches_input:
            reaches_input.add(dst)
    reaches_output = {3}
    for (src, dst), op in reversed(list(zip(EDGES, ops))):
        if op != _NONE and dst in reaches_output:
            reaches_output.add(src)
    return tuple(
        e
        for e, ((src, dst), op) in enumerate(zip(EDGES, ops))
        if op != _NONE and src in reaches_input and dst in reaches_output
    )


class MixedEdge(nn.Module):
    """All 5 ops of one edge; ``ops[0]`` (none) is a placeholder that is never called."""

    def __init__(self, channels: int, bn: bool = True) -> None:
        super().__init__()
        self.ops = nn.ModuleList(
            [
                nn.Identity(),  # none: never called, contributes exact zeros
                nn.Identity(),  # skip_connect
                ReLUConvBN(channels, channels, 1, 1, bn),
                ReLUConvBN(channels, channels, 3, 1, bn),
                nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
            ]
        )


class SuperCell(nn.Module):
    def __init__(self, channels: int, bn: bool = True) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedEdge(channels, bn) for _ in range(N_EDGES))
        self._live: dict[tuple[int, ...], tuple[int, ...]] = {}

    def forward(self, x: torch.Tensor, ops: tuple[int, ...]) -> torch.Tensor:
        live = self._live.get(ops)
        if live is None:
            live = self._live[ops] = _live_edges(ops)
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for e in live:
            src, dst = EDGES[e]
            out = self.edges[e].ops[ops[e]](nodes[src])
            nodes[dst] = out if nodes[dst] is None else nodes[dst] + out
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)

    def forward_mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor] = [x]
        for dst in (1, 2, 3):
            total = torch.zeros_like(x)
            for e, (src, d) in enumerate(EDGES):
                if d != dst:
                    continue
                for o in range(1, N_OPS):  # op 0 (none) adds weights[e, 0] * 0
                    total = total + weights[e, o] * self.edges[e].ops[o](nodes[src])
            nodes.append(total)
        return nodes[3]


class Supernet(nn.Module):
    """NB201's TinyNetwork with super-cells; ``config`` is what a supernet file records and checks."""

    def __init__(
        self, *, C: int = 16, N: int = 5, n_classes: int = 10, in_channels: int = 3, bn: bool = True
    ) -> None:
        super().__init__()
        self.config = {"C": C, "N": N, "n_classes": n_classes, "in_channels": in_channels, "bn": bn}
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), _norm(C, bn))
        layers: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage:
                layers.append(ResNetBlock(width // 2, width, bn))
            layers.extend(SuperCell(width, bn) for _ in range(N))
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(_norm(4 * C, bn), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, n_classes)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.lastact(x)).flatten(1))

    def forward(self, x: torch.Tensor, cell: Any) -> torch.Tensor:
        ops = cell if isinstance(cell, tuple) and len(cell) == N_EDGES else cell_ops(cell)
        x = self.stem(x)
        for layer in self.cells:
            x = layer(x, ops) if isinstance(layer, SuperCell) else layer(x)
        return self._head(x)

    def forward_mixed(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if tuple(weights.shape) != (N_EDGES, N_OPS):
            raise NasscoutError(
                f"mixed-op weights of shape {tuple(weights.shape)}; accepted: ({N_EDGES}, {N_OPS})"
            )
        x = self.stem(x)
        for layer in self.cells:
            x = layer.forward_mixed(x, weights) if isinstance(layer, SuperCell) else layer(x)
        return self._head(x)


def build_supernet(
    *, C: int, N: int, n_classes: int, in_channels: int, seed: int, bn: bool = True
) -> Supernet:
    """A supernet with PyTorch's default initialisation drawn from ``seed`` (never the global RNG)."""
    net = Supernet(C=C, N=N, n_classes=n_classes, in_channels=in_channels, bn=bn)
    return reset_parameters(net, torch.Generator().manual_seed(int(seed)))


def inherit(supernet: Supernet, cell: Any) -> NB201Network:
    """The stand-alone network of ``cell`` holding the supernet's weights for it (BN statistics included)."""
    ops = cell_ops(cell)
    net = NB201Network(cell, **supernet.config)
    shared = supernet.state_dict()
    state = {}
    for key in net.state_dict():
        parts = key.split(".")
        if (
            parts[0] == "cells" and parts[2] == "edges"
        ):  # cells.k.edges.e.REST -> ...edges.e.ops.OP.REST
            e = int(parts[3])
            key_in = ".".join([*parts[:4], "ops", str(ops[e]), *parts[4:]])
        else:
            key_in = key
        state[key] = shared[key_in]
    net.load_state_dict(state)
    return net


class SharedWeights:
    """The supernet with its optimiser, schedule and batch stream: what every weight-sharing method trains.

    ``epochs`` sets the length of the cosine schedule (one epoch = one pass over the preset's training images,
    whatever cells the steps train). ``train_step`` takes one SGD step on one cell (single path) or on mixed
    weights (DARTS); ``score`` evaluates cells by inherited weights. ``state_dict``/``load_state_dict`` hold
    everything needed to resume bit for bit (weights, optimiser, schedule, batch RNG, position in the epoch).
    """

    def __init__(
        self,
        dataset: str,
        preset: Preset,
        *,
        seed: int,
        epochs: int,
        device: str = "auto",
        threads: int = 1,
        splits: Splits | None = None,
    ) -> None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise NasscoutError(f"epochs={epochs!r} is invalid; accepted: a positive integer")
        self.dataset = canonical_dataset(dataset)
        self.preset, self.seed, self.epochs = preset, int(seed), epochs
        self.device = resolve_device(device)
        torch.set_num_threads(threads)
        self.splits = splits if splits is not None else load_splits(self.dataset, preset)
        s = self.splits
        self.net = build_supernet(
            C=preset.C,
            N=preset.N,
            n_classes=s.n_classes,
            in_channels=s.in_channels,
            seed=derived_seed(seed, 0),
        ).to(self.device)
        p = preset
        self.opt = torch.optim.SGD(
            self.net.parameters(),
            lr=p.lr,
            momentum=p.momentum,
            nesterov=p.nesterov and p.momentum > 0,
            weight_decay=p.weight_decay,
        )
        self._rows: torch.Tensor | None = None  # training images the batches come from (None: all)
        self._make_schedule(len(s.train_x))
        self.data_gen = torch.Generator().manual_seed(derived_seed(seed, 1))
        self._mean, self._std = s.mean.to(self.device), s.std.to(self.device)
        self.step = 0  # SGD steps taken
        self._order: torch.Tensor | None = None

    def _make_schedule(self, n_images: int) -> None:
        p = self.preset
        self.steps_per_epoch = math.ceil(n_images / p.batch_size)
        total = self.steps_per_epoch * self.epochs
        floor = p.lr_min / p.lr if p.lr > 0 else 0.0
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt,
            lambda it: (
                floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(it, total) / total))
            ),
        )

    def use_training_rows(self, rows: Any) -> None:
        """Draw the shared weights' batches from these training images only (DARTS keeps the others for its
        architecture step); an epoch becomes one pass over them and the cosine schedule is rescaled to match.

        Only before the first step, or again with the same rows (a resumed run whose state set them); the rows
        are part of the state, and loading a state adopts its rows.
        """
        rows = torch.as_tensor(np.asarray(rows), dtype=torch.long).flatten()
        n = len(self.splits.train_x)
        if self._rows is not None and torch.equal(rows, self._rows):
            return
        if self.step:
            raise NasscoutError(
                f"use_training_rows after {self.step} steps; accepted: only before the first step"
            )
        if (
            not len(rows)
            or int(rows.min()) < 0
            or int(rows.max()) >= n
            or len(rows.unique()) < len(rows)
        ):
            raise NasscoutError(
                f"training rows {rows.tolist()[:5]}... are invalid; accepted: distinct indices 0..{n - 1}"
            )
        self._rows = rows
        self._make_schedule(len(rows))

    def make_batch(
        self, idx: torch.Tensor, gen: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training images ``idx`` as a normalised batch on the device, augmented with ``gen`` (None: not)."""
        p, s = self.preset, self.splits
        x = s.train_x[idx]
        if gen is not None:
            x = augment(x, p.crop_padding, p.flip, gen)
        return (x.to(self.device) - self._mean) / self._std, s.train_y[idx].to(self.device)

    # -- batches ------------------------------------------------------------------------------------------
    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next augmented training batch; a new epoch order is drawn when the previous one is used up."""
        b = self.preset.batch_size
        pos = self.step % self.steps_per_epoch
        if pos == 0 or self._order is None:
            if self._rows is None:
                self._order = torch.randperm(len(self.splits.train_x), generator=self.data_gen)
            else:
                self._order = self._rows[torch.randperm(len(self._rows), generator=self.data_gen)]
        return self.make_batch(self._order[pos * b : (pos + 1) * b], self.data_gen)

    def epoch_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches left in the current epoch (call ``train_step`` on each to advance)."""
        for _ in range(self.steps_per_epoch - self.step % self.steps_per_epoch):
            yield self.next_batch()

    # -- training -----------------------------------------------------------------------------------------
    def train_step(
        self,
        xb: torch.Tensor,
        yb: torch.Tensor,
        cell: Any = None,
        *,
        weights: torch.Tensor | None = None,
    ) -> float:
        """One SGD step of the shared weights on one cell, or on ``weights`` (mixed ops); returns the loss."""
        self.net.train()
        out = self.net(xb, cell) if weights is None else self.net.forward_mixed(xb, weights)
        loss = F.cross_entropy(out, yb)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)  # as NB201's weight-sharing baselines
        self.opt.step()
        self.sched.step()
        self.step += 1
        return float(loss.detach())

    # -- scoring ------------------------------------------------------------------------------------------
    def recalibration_batches(self, n_batches: int) -> list[torch.Tensor]:
        """Fixed (seeded, unaugmented) training batches: the same for every cell, so scores are comparable."""
        s, b = self.splits, self.preset.batch_size
        gen = torch.Generator().manual_seed(derived_seed(self.seed, 3))
        order = torch.randperm(len(s.train_x), generator=gen)[: n_batches * b]
        return [
            (s.train_x[order[i : i + b]].to(self.device) - self._mean) / self._std
            for i in range(0, len(order), b)
        ]

    @torch.no_grad()
    def score(
        self,
        cells: Sequence[Any],
        *,
        recal_batches: int = 4,
        split: str = "valid",
        max_images: int | None = None,
    ) -> np.ndarray:
        """Accuracy (percent) of each cell with inherited weights on ``split`` (valid or test).

        With ``recal_batches > 0`` every BatchNorm's running statistics are reset and re-estimated on that
        many fixed training batches for each cell before it is evaluated; the trained statistics are restored
        afterwards, so scoring never changes the training state.
        """
        if split not in ("valid", "test"):
            raise NasscoutError(f"unknown split {split!r}; accepted: valid, test")
        s = self.splits
        x, y = (s.valid_x, s.valid_y) if split == "valid" else (s.test_x, s.test_y)
        if max_images is not None:
            x, y = x[:max_images], y[:max_images]
        bns = [m for m in self.net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [
            (
                m.running_mean.clone(),
                m.running_var.clone(),
                m.num_batches_tracked.clone(),
                m.momentum,
            )
            for m in bns
        ]
        recal = self.recalibration_batches(recal_batches) if recal_batches else []
        eb = self.preset.eval_batch_size
        xs = [
            ((x[i : i + eb]).to(self.device) - self._mean) / self._std for i in range(0, len(x), eb)
        ]
        ys = [y[i : i + eb].to(self.device) for i in range(0, len(y), eb)]
        out = np.empty(len(cells))
        try:
            for k, cell in enumerate(cells):
                ops = cell_ops(cell)
                if recal:
                    self.net.train()
                    for m in bns:
                        m.reset_running_stats()
                        m.momentum = None  # cumulative average over the recalibration batches
                    for xb in recal:
                        self.net(xb, ops)
                self.net.eval()
                correct = sum(
                    int((self.net(xb, ops).argmax(1) == yb).sum()) for xb, yb in zip(xs, ys)
                )
                out[k] = 100.0 * correct / len(x)
        finally:
            for m, (mean, var, tracked, momentum) in zip(bns, saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(tracked)
                m.momentum = momentum
        return out

    # -- checkpointing ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain data only (a checkpoint loads with ``torch.load(weights_only=True)``)."""
        return {
            "model": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "data_gen": self.data_gen.get_state(),
            "order": self._order if self._order is not None else torch.empty(0, dtype=torch.long),
            "step": self.step,
            "train_rows": self._rows
            if self._rows is not None
            else torch.empty(0, dtype=torch.long),
            "epochs": self.epochs,
            "seed": self.seed,
            "dataset": self.dataset,
            "preset": self.preset.settings(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, want in (
            ("dataset", self.dataset),
            ("preset", self.preset.settings()),
            ("seed", self.seed),
            ("epochs", self.epochs),
        ):
            if state.get(key) != want:
                raise NasscoutError(
                    f"supernet state belongs to another run ({key}={state.get(key)!r}, this run has "
                    f"{want!r})"
                )
        rows = state.get("train_rows", torch.empty(0, dtype=torch.long))
        if len(rows) and self._rows is None:  # the state restricts the batches: adopt its rows
            self._rows = rows.clone()
            self._make_schedule(len(rows))
        mine = self._rows if self._rows is not None else torch.empty(0, dtype=torch.long)
        if not torch.equal(rows, mine):
            raise NasscoutError(
                f"supernet state belongs to another run (it trains on {len(rows) or 'all'} training "
                f"images, this run on {len(mine) or 'all'})"
            )
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.data_gen.set_state(state["data_gen"])
        self._order = state["order"] if len(state["order"]) else None
        self.step = int(state["step"])
