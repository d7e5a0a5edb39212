"""Converters between nasscout cells and the encodings of NASLib and Syne Tune.

Results and data from other projects name cells their own way; converting at the boundary keeps the
rest of nasscout on ``Arch``/index.

NASLib op-index tuple
    6 ints in NASLib's edge order e(0->1), e(0->2), e(0->3), e(1->2), e(1->3), e(2->3) (its ``EDGE_LIST``
    ((1,2),(1,3),(1,4),(2,3),(2,4),(3,4)) with nodes numbered from 1); each int is a position in NASLib's
    ``OP_NAMES_NB201`` = (skip_connect, none, nor_conv_3x3, nor_conv_1x1, avg_pool_3x3). Both orders differ
    from ours (``surrogate.space``), so edges 2 and 3 swap and so do ops 0/1 and 2/3.

Syne Tune ``nasbench201`` blackbox config
    ``{"hp_x0": op_name, ..., "hp_x5": op_name}``. Syne Tune's conversion script
    (``syne_tune/blackbox_repository/conversion_scripts/scripts/nasbench201_import.py``, ``str_to_list``)
    splits each NATS arch string on ``+`` and ``|`` and assigns the ops in string order to ``hp_x0..hp_x5``,
    so ``hp_xi`` is edge i of the arch string: e(0->1), e(0->2), e(1->2), e(0->3), e(1->3), e(2->3), the
    same order as ``Arch``. Values are the NB201 op names. Keys other than ``hp_x*`` (e.g. the fidelity
    ``hp_epoch`` Syne Tune passes alongside) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import N_EDGES, N_OPS, OPS, Arch, ArchLike, NB201Space

NASLIB_OPS: tuple[str, ...] = (
    "skip_connect",
    "none",
    "nor_conv_3x3",
    "nor_conv_1x1",
    "avg_pool_3x3",
)
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
SYNE_TUNE_KEYS: tuple[str, ...] = tuple(f"hp_x{i}" for i in range(N_EDGES))

_SPACE = NB201Space()
# ours[j] = naslib[_EDGE_PERM[j]]; the permutation is its own inverse
_EDGE_PERM = np.array([NASLIB_EDGES.index(e) for e in _SPACE.EDGES], dtype=np.int64)
_NASLIB_TO_OP = np.array([OPS.index(name) for name in NASLIB_OPS], dtype=np.int64)
_OP_TO_NASLIB = np.array([NASLIB_OPS.index(name) for name in OPS], dtype=np.int64)
_NASLIB_SHAPE = f"6 ints 0..{N_OPS - 1} in NASLib edge and op order, e.g. (4, 3, 3, 0, 0, 0)"


def _naslib_values(op_indices: Any) -> list[int]:
    """Validate one NASLib tuple (or its ``str``, as used for keys in NASLib's JSON files)."""
    values = op_indices
    if isinstance(values, str):
        parts = values.strip().strip("()[]").split(",")
        try:
            values = [int(p) for p in parts if p.strip()]
        except ValueError:
            raise NasscoutError(
                f"cannot read NASLib op indices {op_indices!r}; accepted: {_NASLIB_SHAPE}"
            ) from None
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, (tuple, list)) or len(values) != N_EDGES:
        raise NasscoutError(
            f"cannot read NASLib op indices {op_indices!r}; accepted: {_NASLIB_SHAPE}"
        )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < N_OPS:
            raise NasscoutError(
                f"NASLib op index {v!r} in {op_indices!r} is invalid; accepted: {_NASLIB_SHAPE}"
            )
    return [int(v) for v in values]


def naslib_to_arch(op_indices: Any) -> Arch:
    """A NASLib op-index tuple (or its string form) -> Arch."""
    values = np.asarray(_naslib_values(op_indices), dtype=np.int64)
    return Arch(int(o) for o in _NASLIB_TO_OP[values[_EDGE_PERM]])


def arch_to_naslib(arch: ArchLike) -> tuple[int, ...]:
    """Arch, arch string or index -> NASLib op-index tuple."""
    ops = np.asarray(_SPACE.arch(arch), dtype=np.int64)
    return tuple(int(o) for o in _OP_TO_NASLIB[ops[_EDGE_PERM]])


def naslib_to_index(op_indices: Any) -> int:
    """A NASLib op-index tuple (or its string form) -> NB201 index."""
    return naslib_to_arch(op_indices).index


def naslib_to_indices(op_indices: Any) -> np.ndarray:
    """(n, 6) NASLib op indices -> (n,) NB201 indices, vectorised."""
    arr = np.asarray(op_indices)
    if arr.ndim != 2 or arr.shape[1] != N_EDGES or arr.dtype.kind not in "iu":
        raise NasscoutError(
            f"NASLib op-index array of shape {arr.shape} and dtype {arr.dtype} is invalid; "
            f"accepted: an integer array of shape (n, {N_EDGES}) with values 0..{N_OPS - 1}"
        )
    bad = (arr < 0) | (arr >= N_OPS)
    if bad.any():
        raise NasscoutError(
            f"NASLib op index {arr[bad][0]} is invalid; accepted: values 0..{N_OPS - 1}"
        )
    ops = _NASLIB_TO_OP[arr.astype(np.int64)[:, _EDGE_PERM]]
    return _SPACE.indices_from_ops(ops)


def indices_to_naslib(indices: Any) -> np.ndarray:
    """NB201 indices -> (n, 6) int64 NASLib op indices, vectorised."""
    ops = _SPACE.ops(indices).astype(np.int64)
    return _OP_TO_NASLIB[ops[:, _EDGE_PERM]]


def syne_tune_to_arch(config: Mapping[str, Any]) -> Arch:
    """A Syne Tune ``nasbench201`` config (``hp_x0..hp_x5`` -> op name) -> Arch."""
    if not isinstance(config, Mapping):
        raise NasscoutError(
            f"Syne Tune config {config!r} is not a mapping; accepted: a dict with keys "
            f"{', '.join(SYNE_TUNE_KEYS)}"
        )
    extra = sorted(k for k in config if str(k).startswith("hp_x") and k not in SYNE_TUNE_KEYS)
    if extra:
        raise NasscoutError(
            f"unknown Syne Tune key {extra[0]!r}; accepted keys: {', '.join(SYNE_TUNE_KEYS)}"
        )
    ops = []
    for key in SYNE_TUNE_KEYS:
        if key not in config:
            raise NasscoutError(
                f"Syne Tune config lacks {key!r}; accepted: a dict with keys {', '.join(SYNE_TUNE_KEYS)}"
            )
        name = config[key]
        if name not in OPS:
            raise NasscoutError(
                f"Syne Tune {key}={name!r} is not an NB201 op; accepted ops: {', '.join(OPS)}"
            )
        ops.append(OPS.index(name))
    return Arch(ops)


def arch_to_syne_tune(arch: ArchLike) -> dict[str, str]:
    """Arch, arch string or index -> Syne Tune ``nasbench201`` config."""
    return {key: OPS[o] for key, o in zip(SYNE_TUNE_KEYS, _SPACE.arch(arch), strict=True)}
