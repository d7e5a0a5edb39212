"""Regenerate ``surrogate/data/nbgraph_hash.npz``: NAS-Bench-Graph's ``valid_hash`` of every choice vector.

NAS-Bench-Graph identifies an architecture (a link pattern + 4 layer ops) by ``Arch.valid_hash()`` of its
``nas-bench-graph`` package: isomorphic choice vectors share a hash, and the light benchmark files are keyed
by it. ``surrogate.spaces.nbgraph`` needs the hash of all 9 * 9**4 = 59,049 vectors (mixed-radix code: link
pattern most significant, then the ops of layers 1..4 in ``gnn_list`` order); computing them with the
package takes ~2.5 s, so the space ships the table (int32, compressed) and a test recomputes it with the
package. The 9 all-``skip`` vectors get -1: the package's ``all_archs()`` excludes them (no architecture).

    python datasets/recipes/make_nbgraph_hash.py
"""

import itertools
from pathlib import Path

import numpy as np


def compute() -> np.ndarray:
    """The table, computed with the package's own hashing code."""
    from nas_bench_graph.architecture import Arch, gnn_list, link_list

    out = np.empty(len(link_list) * len(gnn_list) ** 4, dtype=np.int32)
    for code, (lk, *ops) in enumerate(
        itertools.product(range(len(link_list)), *[range(len(gnn_list))] * 4)
    ):
        names = [gnn_list[o] for o in ops]
        skip = all(n == "skip" for n in names)
        out[code] = -1 if skip else Arch(list(link_list[lk]), names).valid_hash()
    return out


def main() -> None:
    table = compute()
    out = Path(__file__).resolve().parents[2] / "surrogate" / "data" / "nbgraph_hash.npz"
    np.savez_compressed(out, valid_hash=table)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(np.unique(table[table >= 0]))} cells)")


if __name__ == "__main__":
    main()
