"""A small search space for tests: 3 positions with unequal cardinalities, some choice vectors no cell.

It has only the generic encodings (``onehot``, ``tokens``): no path, no adjacency, no DAG, no NB201 network,
so every predictor must take what it needs from the SearchSpace API. Cells are listed in a shuffled order
(index != mixed-radix code) and the 6 vectors with a = a3 and c = c4 are no cells.
"""

from __future__ import annotations

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace


class ToySpace(SearchSpace):
    name = "toy"
    positions = ("a", "b", "c")
    choices = (
        ("a0", "a1", "a2", "a3"),
        ("b0", "b1", "b2", "b3", "b4", "b5"),
        ("c0", "c1", "c2", "c3", "c4"),
    )
    arch_format = "an arch string 'a=aI,b=bJ,c=cK' (I < 4, J < 6, K < 5)"

    def _cell_ops(self) -> np.ndarray:
        grid = np.stack(np.meshgrid(np.arange(4), np.arange(6), np.arange(5), indexing="ij"), -1)
        grid = grid.reshape(-1, 3)
        keep = ~((grid[:, 0] == 3) & (grid[:, 2] == 4))
        return grid[keep][np.random.default_rng(11).permutation(int(keep.sum()))].astype(np.int8)

    def _parse_string(self, text: str) -> int:
        parts = text.split(",")
        if len(parts) != 3:
            raise NasscoutError(f"cannot read {text!r}; accepted: {self.arch_format}")
        ops = []
        for pos, part, names in zip(self.positions, parts, self.choices, strict=True):
            key, _, value = part.partition("=")
            if key != pos or value not in names:
                raise NasscoutError(f"cannot read {text!r}; accepted: {self.arch_format}")
            ops.append(names.index(value))
        return int(self.indices_from_ops(np.array(ops))[0])

    def _format(self, index: int) -> str:
        ops = self.cell_ops[index]
        return ",".join(
            f"{p}={c[o]}" for p, c, o in zip(self.positions, self.choices, ops, strict=True)
        )


def toy_targets(space: ToySpace, seed: int = 0) -> np.ndarray:
    """A made-up accuracy of every cell: main effects, one interaction and a little noise."""
    ops = space.cell_ops.astype(np.float64)
    a, b, c = ops[:, 0], ops[:, 1], ops[:, 2]
    y = 60 + 8 * (a == 1) + 3 * b - 4 * (c == 2) + 5 * ((a == 2) & (c == 3))
    return y + np.random.default_rng(seed).normal(0.0, 0.5, len(y))
