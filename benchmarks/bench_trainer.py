"""Speed of real training on this CPU: images/s of the trainer per preset, and the overhead of nasscout's
recording + checkpointing over a bare training loop (target <= 5 %).

    .venv/bin/python benchmarks/bench_trainer.py [--epochs 3] [--repeat 3]
    .venv/bin/python benchmarks/bench_trainer.py --transfer datasets/nb201-fmnist-mini.h5

``--transfer STORE`` instead reports how NB201 CIFAR-10 ranks the cells of a Fashion-MNIST store: Spearman
between their final Fashion-MNIST accuracy and their NB201 CIFAR-10 accuracy, and that of an XGBoost predictor
fitted on 1,000 other NB201 CIFAR-10 cells.

One thread (as training workers run). Throughput counts training images (forward + backward + SGD step,
augmentation included) per second of the training phase. The overhead compares whole epochs of
``train_run`` (training, validation and test passes, per-epoch records, a checkpoint written and fsynced every
epoch) with a bare loop doing exactly the same arithmetic without records or checkpoints; best of
``--repeat`` interleaved runs, since other processes share the machine.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

CELLS = {
    "heavy": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "typical": 1000,
}


def throughput(preset_name: str, cell, batches: int) -> float:
    """Training images per second of the preset's network on Fashion-MNIST batches."""
    import torch
    import torch.nn.functional as F

    from surrogate.network import build_network
    from surrogate.training.data import augment, load_splits
    from surrogate.training.presets import get_preset

    p = get_preset(preset_name, {"n_valid": 1000, "n_train": p_train(preset_name), "n_test": 100})
    s = load_splits("fashion-mnist", p)
    net = build_network(cell, C=p.C, N=p.N, n_classes=10, in_channels=1, seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=p.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    g = torch.Generator().manual_seed(0)
    net.train()
    times = []
    for b in range(batches + 1):
        idx = torch.randint(0, len(s.train_x), (p.batch_size,), generator=g)
        t0 = time.perf_counter()
        x = (augment(s.train_x[idx], p.crop_padding, p.flip, g) - s.mean) / s.std
        loss = F.cross_entropy(net(x), s.train_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if b:  # the first step warms up allocators
            times.append(time.perf_counter() - t0)
    return p.batch_size / (sum(times) / len(times))


def p_train(name: str) -> int:
    return 2048 if name == "nb201" else 5000


def bare_loop(p, cell, seed: int) -> float:
    """The same arithmetic as train_run (same init, batches, schedule, evaluations), nothing recorded."""
    import torch
    import torch.nn.functional as F

    from surrogate.network import build_network
    from surrogate.training.data import augment, load_splits
    from surrogate.training.trainer import derived_seed, evaluate

    s = load_splits("fashion-mnist", p)
    t0 = time.perf_counter()
    net = build_network(cell, C=p.C, N=p.N, n_classes=10, in_channels=1, seed=derived_seed(seed, 0))
    opt = torch.optim.SGD(net.parameters(), lr=p.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    n = len(s.train_x)
    steps = math.ceil(n / p.batch_size)
    total = steps * p.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda it: 0.5 * (1.0 + math.cos(math.pi * it / total))
    )
    g = torch.Generator().manual_seed(derived_seed(seed, 1))
    for _ in range(p.epochs):
        net.train()
        order = torch.randperm(n, generator=g)
        for i in range(steps):
            idx = order[i * p.batch_size : (i + 1) * p.batch_size]
            x = (augment(s.train_x[idx], p.crop_padding, p.flip, g) - s.mean) / s.std
            loss = F.cross_entropy(net(x), s.train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        evaluate(net, s.valid_x, s.valid_y, s, p.eval_batch_size, "cpu")
        evaluate(net, s.test_x, s.test_y, s, p.eval_batch_size, "cpu")
    return time.perf_counter() - t0


def nasscout_run(p, cell, seed: int, folder: Path) -> float:
    from surrogate.training.trainer import RunSpec, train_run

    ckpt = folder / f"ck-{time.monotonic_ns()}.pt"
    t0 = time.perf_counter()
    train_run(RunSpec("fashion-mnist", p, cell, seed, checkpoint=ckpt))
    seconds = time.perf_counter() - t0
    ckpt.unlink()
    return seconds


def transfer(store: str, n_fit: int = 1000) -> None:
    import numpy as np
    from scipy.stats import kendalltau, spearmanr

    from predictors.registry import make_predictor
    from surrogate.registry import load_benchmark
    from surrogate.tabular import TabularBenchmark

    fm = TabularBenchmark.open(store)
    nb = load_benchmark("nb201")
    cells = fm.cells
    truth = fm.query(cells, dataset="fashion-mnist", seed="mean").valid_acc
    test = fm.query(cells, dataset="fashion-mnist", seed="mean").test_acc
    ok = ~np.isnan(truth)
    c10 = nb.query(cells, dataset="cifar10", seed="mean").valid_acc
    rng = np.random.default_rng(0)
    pool = np.setdiff1d(nb.space.all_indices, cells)
    fit = rng.choice(pool, size=n_fit, replace=False)
    pred = make_predictor("xgb", seed=0)
    pred.fit(fit, nb.query(fit, dataset="cifar10", seed="mean").valid_acc)
    guess = pred.predict(cells)
    print(f"{store}: {len(cells)} cells, {int(ok.sum())} with an accuracy")
    print(
        f"  Fashion-MNIST valid acc: median {np.nanmedian(truth):.2f} %, best {np.nanmax(truth):.2f} %"
    )
    for label, x in (
        ("NB201 CIFAR-10 valid acc", c10),
        (f"XGB fitted on {n_fit} NB201 cells", guess),
    ):
        rho = spearmanr(x[ok], truth[ok]).statistic
        tau = kendalltau(x[ok], truth[ok]).statistic
        rho_test = spearmanr(x[ok], test[ok]).statistic
        print(
            f"  {label:32s} vs FMNIST valid: Spearman {rho:.3f}, Kendall {tau:.3f}; vs test: {rho_test:.3f}"
        )
    top = np.argsort(-c10)[:20]
    rank = (-truth).argsort().argsort()
    print(
        f"  the NB201 CIFAR-10 top-20 rank {np.median(rank[top]) + 1:.0f} (median) of {len(cells)} here"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--transfer", metavar="STORE", help="Report rank transfer for a Fashion-MNIST store."
    )
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nb201-batches", type=int, default=3)
    args = ap.parse_args()
    if args.transfer:
        transfer(args.transfer)
        return
    import torch

    from surrogate.training.presets import get_preset

    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for preset, batches in (("cpu-mini", 30), ("nb201", args.nb201_batches)):
        for label, cell in CELLS.items():
            ips = throughput(preset, cell, batches)
            print(f"{preset:8s} {label:7s} cell  {ips:8.0f} training images/s")

    p = get_preset("cpu-mini", epochs=args.epochs)
    bare, ours = [], []
    with tempfile.TemporaryDirectory(
        dir=Path.cwd()
    ) as tmp:  # a real disk: fsync costs what it costs
        for _ in range(args.repeat):
            bare.append(bare_loop(p, CELLS["typical"], 0))
            ours.append(nasscout_run(p, CELLS["typical"], 0, Path(tmp)))
    overhead = min(ours) / min(bare) - 1
    print(
        f"cpu-mini {args.epochs} epochs of cell 1000: bare loop {min(bare):.2f} s, nasscout train_run "
        f"{min(ours):.2f} s (records + checkpoint every epoch): overhead {100 * overhead:+.1f} %"
    )


if __name__ == "__main__":
    main()
