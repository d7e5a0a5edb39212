"""The search spaces nasscout knows, by name; each implements ``surrogate.space.SearchSpace``.

``nb201``           NAS-Bench-201 cell: 6 edges x 5 ops, 15,625 cells (``surrogate.spaces.nb201``)
``transnas-micro``  TransNAS-Bench-101 micro cell: the same DAG with 4 ops, 4,096 cells (``.transnas``)
``nasbench-graph``  NAS-Bench-Graph: a link pattern + 4 GNN layer ops, 26,206 distinct cells (``.nbgraph``)
"""

from __future__ import annotations

from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace
from surrogate.spaces.nb201 import NB201Space
from surrogate.spaces.nbgraph import NBGraphSpace
from surrogate.spaces.transnas import TransNASMicroSpace

SPACES: dict[str, type[SearchSpace]] = {
    NB201Space.name: NB201Space,
    TransNASMicroSpace.name: TransNASMicroSpace,
    NBGraphSpace.name: NBGraphSpace,
}


def get_space(name: str) -> SearchSpace:
    """A space by name (one line naming the accepted names otherwise)."""
    cls = SPACES.get(name)
    if cls is None:
        raise NasscoutError(f"unknown search space {name!r}; accepted: {', '.join(SPACES)}")
    return cls()


__all__ = ["SPACES", "SearchSpace", "get_space"]
