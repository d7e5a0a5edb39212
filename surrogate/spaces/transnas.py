"""The TransNAS-Bench-101 micro cell space: NB201's 4-node DAG with 4 ops, 4,096 cells.

Arch string: NB201's ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` with ops none, skip_connect, nor_conv_1x1,
nor_conv_3x3 (no ``avg_pool_3x3``). Op ids are positions in ``OPS``; they equal TransNAS-Bench-101's own
micro codes (0 zeroize, 1 skip, 2 conv1x1, 3 conv3x3) and NB201's ids of the same ops.

Index: the base-4 number of the op ids in arch-string edge order, edge e(0->1) most significant, so cell 0
is all-``none`` and cell 4,095 all-``nor_conv_3x3``. NASLib's op-index tuple for this space (the key of its
``transbench101_micro`` files, e.g. ``(2, 3, 2, 3, 2, 3)``) is the same vector in the same order
(TransNAS-Bench's arch string ``64-41414-{e01}_{e02}{e12}_{e03}{e13}{e23}``), so
``index = int(''.join(map(str, naslib_tuple)), 4)``: :func:`naslib_to_indices` / :func:`indices_to_naslib`.
Isomorphism classes and encodings are those of the NB201 cell (``surrogate.isomorphism``,
``surrogate.encodings``) over these 4 ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from surrogate import encodings as _enc
from surrogate.encodings import CELL_EDGES
from surrogate.isomorphism import cell_class_ids
from surrogate.space import SearchSpace
from surrogate.spaces.cellstring import OPS_BY_SPACE, format_cell, parse_cell

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
N_OPS = len(OPS)
N_EDGES = len(CELL_EDGES)
N_CELLS = N_OPS**N_EDGES
_PLACE = N_OPS ** np.arange(N_EDGES - 1, -1, -1)
OPS_BY_SPACE["transnas-micro"] = OPS


class TransNASMicroSpace(SearchSpace):
    """TransNAS-Bench-101 micro (cell-level) search space."""

    name = "transnas-micro"
    positions = tuple(f"{s}->{d}" for s, d in CELL_EDGES)
    choices = (OPS,) * N_EDGES
    arch_format = "an arch string '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with ops " + ", ".join(OPS)

    def _cell_ops(self) -> np.ndarray:
        codes = np.arange(N_CELLS, dtype=np.int64)
        return ((codes[:, None] // _PLACE[None, :]) % N_OPS).astype(np.int8)

    def _parse_string(self, text: str) -> int:
        return int(np.dot(parse_cell(text, OPS, self.name), _PLACE))

    def _format(self, index: int) -> str:
        return format_cell(self.cell_ops[index].tolist(), OPS)

    def _class_ids(self) -> np.ndarray:
        return cell_class_ids(self.cell_ops, OPS)

    def _encoders(self) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
        return _enc.cell_encoders(N_OPS, none=OPS.index("none"))


def naslib_to_indices(op_tuples: Any) -> np.ndarray:
    """NASLib ``transbench101_micro`` op-index tuples (n, 6) -> our indices (the same base-4 code)."""
    return TransNASMicroSpace().indices_from_ops(np.asarray(op_tuples, dtype=np.int64))


def indices_to_naslib(indices: Any) -> np.ndarray:
    """Our indices -> NASLib op-index tuples, (n, 6) int64."""
    space = TransNASMicroSpace()
    return space.ops(indices).astype(np.int64)
