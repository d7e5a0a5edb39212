"""Analytic parameter count and FLOPs of the NB201 network built around a cell.

Predictors and cost-aware strategies need params/FLOPs for every cell (the public tables carry FLOPs for only
491 cells), and for other widths, depths and class counts than the benchmark's. The network is NB201's
``TinyNetwork``:

* stem: 3x3 conv (3 -> C, no bias) + BN;
* three stages of ``N`` cells at C, 2C, 4C channels and full, 1/2, 1/4 resolution;
* between stages a ResNet basic block with stride 2: ReLU-conv3x3(stride 2)-BN, ReLU-conv3x3-BN, and a
  shortcut of 2x2 avg-pool + 1x1 conv (no bias, no BN);
* final BN-ReLU, global average pooling, linear head with bias.

Every edge of a cell owns its module whether or not its output reaches the cell output, so costs add up per
edge: ``nor_conv_kxk`` is ReLU-conv(no bias)-BN(affine, 2C params); ``avg_pool_3x3`` (stride 1, C_in ==
C_out, so no 1x1 preprocess), ``skip_connect`` (identity) and ``none`` have no parameters. All BNs are
affine. Both quantities are therefore linear in the op counts of a cell, so we precompute op counts for the
whole space and per-op costs per configuration.

FLOP counters (``counter=``):

* ``"torchstat"`` (default): what NASLib's zero-cost benchmark reports (``zc_nasbench201.json``, computed with
  tensorwatch's torchstat counter): conv and linear multiply-adds (linear without bias), plus 2 per element
  for affine BN, 1 per element for ReLU, k*k per output element for pooling and (h+1)*(w+1) per channel for
  the global pool. It reproduces NASLib's numbers exactly.
* ``"macs"``: multiply-adds of convolutions and the linear layer (with bias) only, the counter of NB201's
  ``get_model_infos`` in AutoDL-Projects (``lib/utils/flop_benchmark.py``). Not checked against NB201's own
  tables, which we have no copy of.

Units are 1e6, as in the NB201 tables (``params`` "MB" = millions of parameters). ``params_m`` equals the
NATS-Bench ``params`` of 15,475 of the 15,625 cells; for the other 150, NATS stores the count of another cell
of the same isomorphism class, while NASLib's independent numbers agree with ours (tests/test_costmodel.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_CELLS, OPS, NB201Space

DATASET_CLASSES: dict[str, int] = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
DATASET_INPUT_HW: dict[str, int] = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}
COUNTERS: tuple[str, ...] = ("torchstat", "macs")

_SPACE = NB201Space()
_KERNEL = {OPS.index("nor_conv_1x1"): 1, OPS.index("nor_conv_3x3"): 3}
_POOL = OPS.index("avg_pool_3x3")
_OP_COUNTS: np.ndarray | None = None  # (15625, 5): how many edges of each cell carry each op


def _op_counts() -> np.ndarray:
    global _OP_COUNTS
    if _OP_COUNTS is None:
        ops = _SPACE.ops(_SPACE.all_indices).astype(np.int64)
        counts = np.zeros((N_CELLS, len(OPS)), dtype=np.int64)
        np.add.at(counts, (np.repeat(np.arange(N_CELLS), ops.shape[1]), ops.ravel()), 1)
        _OP_COUNTS = counts
    return _OP_COUNTS


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise NasscoutError(f"{name}={value!r} is invalid; accepted: a positive integer")
    return int(value)


def _stages(C: int, hw: int) -> list[tuple[int, int]]:
    """(channels, side) of the three stages."""
    return [(C, hw), (2 * C, hw // 2), (4 * C, hw // 4)]


def _channels(C: int) -> tuple[int, int, int]:
    return C, 2 * C, 4 * C


def _per_op_params(C: int, N: int) -> np.ndarray:
    """Parameters one edge with each op adds to the whole network (it is repeated in N cells per stage)."""
    out = np.zeros(len(OPS), dtype=np.int64)
    for op, k in _KERNEL.items():
        out[op] = N * sum(k * k * c * c + 2 * c for c in _channels(C))
    return out


def _fixed_params(n_classes: int, C: int) -> int:
    c1, c2, c3 = _channels(C)
    stem = 9 * 3 * c1 + 2 * c1
    reductions = sum(
        9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout + cin * cout
        for cin, cout in ((c1, c2), (c2, c3))
    )
    head = 2 * c3 + c3 * n_classes + n_classes
    return stem + reductions + head


def _per_op_flops(C: int, N: int, hw: int, counter: str) -> np.ndarray:
    elementwise = counter == "torchstat"  # ReLU (1) + affine BN (2) per element, pooling k*k
    out = np.zeros(len(OPS), dtype=np.int64)
    for op, k in _KERNEL.items():
        out[op] = N * sum((k * k * c + 3 * elementwise) * c * s * s for c, s in _stages(C, hw))
    if elementwise:
        out[_POOL] = N * sum(9 * c * s * s for c, s in _stages(C, hw))
    return out


def _fixed_flops(n_classes: int, C: int, hw: int, counter: str) -> int:
    (c1, s1), (c2, s2), (c3, s3) = _stages(C, hw)
    total = 9 * 3 * c1 * s1 * s1  # stem conv
    for cin, cout, s in ((c1, c2, s2), (c2, c3, s3)):
        # conv_a (stride 2), conv_b, shortcut 1x1 conv; all produce s x s maps
        total += (9 * cin * cout + 9 * cout * cout + cin * cout) * s * s
    total += c3 * n_classes
    if counter == "macs":
        return total + n_classes  # linear bias
    total += 2 * c1 * s1 * s1  # stem BN
    for cin, s_in, cout, s in ((c1, s1, c2, s2), (c2, s2, c3, s3)):
        relus = cin * s_in * s_in + cout * s * s
        bns = 2 * 2 * cout * s * s
        shortcut_pool = 4 * cin * s * s
        total += relus + bns + shortcut_pool
    total += 3 * c3 * s3 * s3  # final BN + ReLU
    total += c3 * (s3 + 1) * (s3 + 1)  # global pool as torchstat counts it
    return total


def params_m(indices: Any, n_classes: int = 10, C: int = 16, N: int = 5) -> np.ndarray:
    """Trainable parameters in millions, as NB201 reports ``params``; float64, shape (n,)."""
    n_classes, C, N = (
        _positive_int(k, v) for k, v in (("n_classes", n_classes), ("C", C), ("N", N))
    )
    idx = _SPACE.indices(indices)
    total = _op_counts()[idx] @ _per_op_params(C, N) + _fixed_params(n_classes, C)
    return total / 1e6


def flops_m(
    indices: Any,
    n_classes: int = 10,
    C: int = 16,
    N: int = 5,
    input_hw: int = 32,
    counter: str = "torchstat",
) -> np.ndarray:
    """FLOPs per image in millions (multiply-add = 1); float64, shape (n,).

    ``input_hw`` is the side of the square input: 32 for CIFAR, 16 for ImageNet16-120
    (``DATASET_INPUT_HW``). It must be divisible by 4 so that both stride-2 reductions halve it exactly, as
    the network's shortcut requires. ``counter`` is explained in the module docstring.
    """
    n_classes, C, N, input_hw = (
        _positive_int(k, v)
        for k, v in (("n_classes", n_classes), ("C", C), ("N", N), ("input_hw", input_hw))
    )
    if input_hw % 4:
        raise NasscoutError(
            f"input_hw={input_hw} is invalid; accepted: a positive multiple of 4 (e.g. 32 or 16)"
        )
    if counter not in COUNTERS:
        raise NasscoutError(
            f"unknown FLOP counter {counter!r}; accepted: {', '.join(repr(c) for c in COUNTERS)}"
        )
    idx = _SPACE.indices(indices)
    per_op = _per_op_flops(C, N, input_hw, counter)
    return (_op_counts()[idx] @ per_op + _fixed_flops(n_classes, C, input_hw, counter)) / 1e6
