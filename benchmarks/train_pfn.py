"""Train the ``pfn`` learning-curve extrapolator on prior curves and write our weights artifact.

    nice -n 10 python benchmarks/train_pfn.py                 # the committed weights (seed 0, defaults)
    nice -n 10 python benchmarks/train_pfn.py --steps 200 --out /tmp/pfn.pt   # a quick smoke run

CPU only, one thread (the machine is shared); the defaults (3,000 steps) take 12-25 minutes niced. Writes
``predictors/curves/data/pfn.pt`` (a plain state_dict) and ``pfn.json`` (settings, torch version, SHA-256).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from predictors.curves.pfn import WEIGHTS
from predictors.curves.pfn_train import TrainSettings, save, train
from predictors.curves.prior import PriorSettings


def main() -> None:
    d, p = TrainSettings(), PriorSettings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--batch-size", type=int, default=d.batch_size)
    ap.add_argument("--d-model", type=int, default=d.d_model)
    ap.add_argument("--n-layers", type=int, default=d.n_layers)
    ap.add_argument("--p-schedule", type=float, default=p.p_schedule)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    st = TrainSettings(
        seed=a.seed,
        steps=a.steps,
        batch_size=a.batch_size,
        d_model=a.d_model,
        n_layers=a.n_layers,
    )
    prior = PriorSettings(p_schedule=a.p_schedule)
    t0 = time.time()
    model, history = train(st, prior)
    meta = save(model, a.out, st, prior, history, script="benchmarks/train_pfn.py")
    n = sum(v.numel() for v in model.state_dict().values())
    print(
        f"wrote {a.out} ({a.out.stat().st_size / 1024:.0f} KB, {n} numbers) in "
        f"{time.time() - t0:.0f}s; sha256 {meta['sha256'][:16]}"
    )


if __name__ == "__main__":
    main()
