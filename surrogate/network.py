"""The NAS-Bench-201 network in torch, built around one cell (NB201's ``TinyNetwork``).

Zero-cost proxies (synflow, jacov) and real training need the actual network a cell stands for, with exactly
the layers, shapes and parameter count of the benchmark, so that a score or a training run here means the same
as in NB201. Layout (``C`` channels, ``N`` cells per stage):

* stem: 3x3 conv (``in_channels`` -> C, no bias) + BN;
* three stages of N cells at C, 2C, 4C channels, separated by ResNet basic blocks with stride 2
  (ReLU-conv3x3/2-BN, ReLU-conv3x3-BN, shortcut 2x2 avg-pool + 1x1 conv);
* BN-ReLU, global average pooling, linear head.

In a cell every edge owns a module (so the parameter count matches ``surrogate.costmodel.params_m`` for every
cell), but the forward pass skips work that cannot change the result: ``none`` edges (exact zeros) and edges
into nodes that never reach the cell output. Node values that are exact zeros stay exact zeros through every op
at default initialisation, so skipping them is bit-for-bit the same output, only faster.

This is the only module of ``surrogate`` that imports torch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from surrogate.costmodel import DATASET_CLASSES, DATASET_INPUT_HW
from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import EDGES, OPS, NB201Space

_SPACE = NB201Space()
_NONE, _SKIP, _CONV1, _CONV3, _POOL = range(len(OPS))
DATASET_INPUT_CHANNELS: dict[str, int] = {"cifar10": 3, "cifar100": 3, "ImageNet16-120": 3}


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NasscoutError(f"{name}={value!r} is invalid; accepted: a positive integer")
    return value


def _norm(channels: int, bn: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if bn else nn.Identity()


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, bn: bool = True) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
            _norm(c_out, bn),
        )


class ResNetBlock(nn.Module):
    """NB201's reduction block between stages: halves the resolution, changes the width."""

    def __init__(self, c_in: int, c_out: int, bn: bool = True) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, bn)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def _edge_module(op: int, c: int, bn: bool) -> nn.Module:
    if op == _CONV1:
        return ReLUConvBN(c, c, 1, 1, bn)
    if op == _CONV3:
        return ReLUConvBN(c, c, 3, 1, bn)
    if op == _POOL:
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    return (
        nn.Identity()
    )  # skip_connect; `none` edges are never called (their output is exact zeros)


class Cell(nn.Module):
    """One NB201 cell: node j = sum over edges (i -> j) of op(node i); node 3 is the output."""

    def __init__(self, ops: tuple[int, ...], channels: int, bn: bool = True) -> None:
        super().__init__()
        self.ops = tuple(int(o) for o in ops)
        self.edges = nn.ModuleList(_edge_module(op, channels, bn) for op in self.ops)
        # edges that carry signal from the input to the output, in topological (arch-string) order
        reaches_input = {0}
        for (src, dst), op in zip(EDGES, self.ops):
            if op != _NONE and src in reaches_input:
                reaches_input.add(dst)
        reaches_output = {3}
        for (src, dst), op in reversed(list(zip(EDGES, self.ops))):
            if op != _NONE and dst in reaches_output:
                reaches_output.add(src)
        self.live = tuple(
            e
            for e, ((src, dst), op) in enumerate(zip(EDGES, self.ops))
            if op != _NONE and src in reaches_input and dst in reaches_output
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for e in self.live:
            src, dst = EDGES[e]
            out = self.edges[e](nodes[src])
            nodes[dst] = out if nodes[dst] is None else nodes[dst] + out
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)


class NB201Network(nn.Module):
    """NB201's TinyNetwork for one cell; ``forward`` returns logits, ``features`` the pooled vector."""

    def __init__(
        self,
        arch: Any,
        *,
        C: int = 16,
        N: int = 5,
        n_classes: int = 10,
        in_channels: int = 3,
        bn: bool = True,
    ) -> None:
        super().__init__()
        C, N, n_classes, in_channels = (
            _positive_int(k, v)
            for k, v in (("C", C), ("N", N), ("n_classes", n_classes), ("in_channels", in_channels))
        )
        self.arch = _SPACE.arch(arch)
        self.config = {"C": C, "N": N, "n_classes": n_classes, "in_channels": in_channels, "bn": bn}
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), _norm(C, bn))
        layers: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage:
                layers.append(ResNetBlock(width // 2, width, bn))
            layers.extend(Cell(tuple(self.arch), width, bn) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(_norm(4 * C, bn), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.lastact(self.cells(self.stem(x)))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def reset_parameters(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """PyTorch's default initialisation, drawn from ``generator`` (never the global RNG), for reproducibility."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()
                    bound = 1.0 / math.sqrt(fan_in)
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
    return net


def build_network(
    arch: Any,
    *,
    dataset: str | None = None,
    C: int = 16,
    N: int = 5,
    n_classes: int | None = None,
    in_channels: int | None = None,
    bn: bool = True,
    seed: int | None = 0,
) -> NB201Network:
    """The network for ``arch``; ``dataset`` sets the class count and input channels unless given.

    ``seed`` (an int) draws the initial weights from ``torch.Generator().manual_seed(seed)``, so the same seed
    gives the same network bit for bit; ``seed=None`` keeps torch's global-RNG initialisation.
    """
    if dataset is not None and dataset not in DATASET_CLASSES:
        raise NasscoutError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASET_CLASSES)}")
    if n_classes is None:
        n_classes = DATASET_CLASSES[dataset] if dataset else 10
    if in_channels is None:
        in_channels = DATASET_INPUT_CHANNELS[dataset] if dataset else 3
    net = NB201Network(arch, C=C, N=N, n_classes=n_classes, in_channels=in_channels, bn=bn)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise NasscoutError(
                f"seed={seed!r} is invalid; accepted: a non-negative integer or None"
            )
        reset_parameters(net, torch.Generator().manual_seed(seed))
    return net


def input_shape(dataset: str, in_channels: int | None = None) -> tuple[int, int, int]:
    """(channels, height, width) of one input image of ``dataset`` as NB201 trains on it."""
    if dataset not in DATASET_INPUT_HW:
        raise NasscoutError(f"unknown dataset {dataset!r}; accepted: {', '.join(DATASET_INPUT_HW)}")
    hw = DATASET_INPUT_HW[dataset]
    return (in_channels or DATASET_INPUT_CHANNELS[dataset], hw, hw)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
