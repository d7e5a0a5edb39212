"""Regenerate ``surrogate/data/nb201_order.npy``: the official NB201/NATS index order.

The NB201 index is a fixed permutation of the 15,625 cells chosen by the benchmark's authors; it cannot be
computed, so the space ships it (31 KB, int16 op codes in index order; MIT, from NAS-Bench-201).
Source: the ``arch``/``cellstr`` columns of ``mini_nasbench201_hp12.pd`` (see ../shared/data/nb201/SOURCE.md).

    python datasets/recipes/make_nb201_order.py ../shared/data/nb201/mini_nasbench201_hp12.pd
"""

import sys
from pathlib import Path

import numpy as np

from surrogate.safe_pickle import pandas_frame, safe_load_file
from surrogate.spaces.nb201 import NB201Space


def main(src: str) -> None:
    table = safe_load_file(src, pandas_frame).sort_values("arch")  # a pickle: only DataFrame parts
    if not np.array_equal(table["arch"].to_numpy(), np.arange(NB201Space.N_CELLS)):
        raise SystemExit(f"{src}: expected one row per index 0..15624")
    space = NB201Space()
    codes = np.array([space.code_of(s) for s in table["cellstr"]], dtype=np.int16)
    out = Path(__file__).resolve().parents[2] / "surrogate" / "data" / "nb201_order.npy"
    np.save(out, codes)
    print(f"wrote {out} ({codes.nbytes} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
