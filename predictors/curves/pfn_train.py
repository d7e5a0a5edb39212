"""Training the ``pfn`` extrapolator on prior curves (run by ``benchmarks/train_pfn.py``; seconds per 100 steps).

One step (the PFN recipe of Müller et al. / LC-PFN): draw a batch of curves of one random length T from the
prior, cut each at a random epoch k in 1..T-1 (the paper's uniform "single eval position"), show epochs 1..k as
context, and score the network's bins at every later epoch with cross-entropy against the *noisy* value (as
the paper does). Ours: half of each curve's loss is its last epoch (the contract always asks for epoch T),
5% of context epochs are hidden (NaN gaps), bins are 256 prior quantiles on [0, 1], AdamW with a linear
warm-up and cosine decay. All randomness comes from one seed (numpy Generator for curves, torch seed for init).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from predictors.curves.pfn import CurvePFN
from predictors.curves.prior import PriorSettings, sample_curves, sample_lengths


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 0
    steps: int = 3_000  # ours (the paper: 100,000 steps of 100 curves on a GPU)
    batch_size: int = 64  # ours (the paper: 100)
    lr: float = 1e-3  # ours, for a small model (the paper: 1e-4 for 512 wide x 12 layers)
    warmup: float = 0.05  # ours: share of steps (the paper: a quarter)
    d_model: int = 64  # ours (the paper: 512)
    n_layers: int = 3  # ours (the paper: 12, or 6)
    n_heads: int = 4  # ours (the paper: d_model / 128)
    n_bins: int = 256  # ours (the paper: 1,000)
    hide_context: float = 0.05  # ours: share of context epochs dropped, for NaN gaps
    last_weight: float = 0.5  # ours: share of a curve's loss on its last epoch


def make_edges(rng: np.random.Generator, n_bins: int, prior: PriorSettings) -> np.ndarray:
    """Bin edges on [0, 1] at quantiles of prior values (the paper's choice), at least 1e-3 apart."""
    vals = []
    for length in sample_lengths(rng, 64, prior):
        noisy, _ = sample_curves(rng, 256, int(length), prior)
        vals.append(noisy[:, rng.integers(0, length, 8)].ravel())
    q = np.quantile(np.concatenate(vals), np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    edges = [0.0]
    for e in q:
        if e - edges[-1] >= 1e-3 and 1.0 - e >= 1e-3:
            edges.append(float(e))
    return np.array([*edges, 1.0])


def batch(
    rng: np.random.Generator, model: CurvePFN, size: int, prior: PriorSettings, st: TrainSettings
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training batch: tokens (N, T, 4), hide (N, T), target bins (N, T), loss weights (N, T)."""
    length = int(sample_lengths(rng, 1, prior)[0])
    noisy, _ = sample_curves(rng, size, length, prior)
    k = rng.integers(1, length, size)[:, None]  # context = epochs 1..k, k in 1..T-1
    t = np.arange(1, length + 1)[None, :]
    query = t > k
    hidden = (rng.random((size, length)) < st.hide_context) & (t < k)  # epoch k always stays
    tok = np.zeros((size, length, 4), dtype=np.float32)
    tok[..., 0] = t / length
    tok[..., 1] = np.where(query | hidden, 0.0, noisy)
    tok[..., 2] = query
    tok[..., 3] = float(model.length_feature(torch.tensor([length]))[0])
    edges = model.edges.numpy()
    bins = np.clip(np.searchsorted(edges, noisy, side="right") - 1, 0, len(edges) - 2)
    w = np.where(query, (1.0 - st.last_weight) / query.sum(axis=1, keepdims=True), 0.0)
    w[:, -1] += st.last_weight
    return (
        torch.from_numpy(tok),
        torch.from_numpy(query | hidden),
        torch.from_numpy(bins),
        torch.from_numpy(w / size).float(),
    )


def loss_of(model: CurvePFN, b: tuple[torch.Tensor, ...]) -> torch.Tensor:
    tokens, hide, bins, w = b
    pick = w > 0
    ce = nn.functional.cross_entropy(model(tokens, hide, pick), bins[pick], reduction="none")
    return (ce * w[pick]).sum()


def train(
    st: TrainSettings, prior: PriorSettings, *, log_every: int = 500
) -> tuple[CurvePFN, list[dict[str, float]]]:
    """A freshly trained network and its loss history (mean cross-entropy per logged window)."""
    rng = np.random.default_rng(st.seed)
    torch.manual_seed(st.seed)
    edges = make_edges(rng, st.n_bins, prior)
    model = CurvePFN(
        d_model=st.d_model,
        n_layers=st.n_layers,
        n_heads=st.n_heads,
        n_bins=len(edges) - 1,
        max_len=prior.max_len,
        min_len=prior.min_len,
    )
    model.edges.copy_(torch.from_numpy(edges))
    opt = torch.optim.AdamW(model.parameters(), lr=st.lr, weight_decay=0.0)
    warm = max(1, int(st.warmup * st.steps))

    def rate(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, st.steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    history, window, t0 = [], [], time.time()
    model.train()
    for step in range(st.steps):
        loss = loss_of(model, batch(rng, model, st.batch_size, prior, st))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        window.append(float(loss.detach()))
        if (step + 1) % log_every == 0 or step + 1 == st.steps:
            history.append(
                {"step": step + 1, "loss": float(np.mean(window)), "seconds": time.time() - t0}
            )
            window = []
            h = history[-1]
            print(f"step {step + 1:>6}  loss {h['loss']:.4f}  {h['seconds']:.0f}s", flush=True)
    return model.eval(), history


def save(
    model: CurvePFN,
    path: Path,
    st: TrainSettings,
    prior: PriorSettings,
    history: list[dict[str, float]],
    script: str,
) -> dict[str, Any]:
    """The state_dict (tensors only) at ``path`` and its JSON sidecar with everything that rebuilds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    half = lambda v: v.half() if v.dtype == torch.float32 else v  # noqa: E731 - float16 on disk
    state = {k: half(v.detach().clone().contiguous()) for k, v in model.state_dict().items()}
    torch.save(state, path)
    meta = {
        "script": script,
        "train": asdict(st),
        "prior": prior.to_dict(),
        "model": {
            "d_model": st.d_model,
            "n_layers": st.n_layers,
            "n_heads": st.n_heads,
            "n_bins": int(model.edges.numel() - 1),
            "max_len": model.max_len,
            "min_len": model.min_len,
        },
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "history": history,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
