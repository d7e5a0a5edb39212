"""``pfn``: in-context learning-curve extrapolation with a small transformer trained on prior curves.

In the spirit of LC-PFN (Adriaensen et al., NeurIPS 2023): a transformer trained only on curves drawn from a
parametric prior (``predictors.curves.prior``) learns to output the posterior predictive distribution of a
later value given the observed part of a curve, in one forward pass, with no fitting at use time.

Tokens (ours): every observed epoch ``t`` of a curve becomes a context token ``(t / T, u, 0, log T)``; the
query for the target epoch ``T`` is ``(1, 0, 1, log T)``, with ``u`` the normalised value and ``log T`` scaled
to [0, 1] over the trained lengths (clamped beyond). Context tokens attend to each other, the query to the
context only (a key-padding mask, which also hides padding and masked NaN epochs, so curves of mixed lengths
share one batch). The output is B logits over bins of [0, 1] -> ``HistogramPrediction``, as the paper's
bar distribution (theirs has 1,000 bins and half-normal tails beyond; ours 256 bins on [0, 1], the contract's
support). The weights are our own artifact, ``predictors/curves/data/pfn.pt`` (a plain state_dict), with a
JSON sidecar (config, seed, steps, prior, torch version, SHA-256); ``benchmarks/train_pfn.py`` rebuilds them.
The prediction is deterministic: ``seed`` is accepted for the contract but nothing is sampled.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from predictors.curves.base import CurveExtrapolator, Curves, HistogramPrediction
from predictors.torch_ensemble import torch_session
from surrogate.errors import NasscoutError

DATA = Path(__file__).resolve().parent / "data"
WEIGHTS = DATA / "pfn.pt"
REBUILD = "nice -n 10 python benchmarks/train_pfn.py"
CHUNK = 2048  # curves per forward pass: bounds memory on huge batches


class CurvePFN(nn.Module):
    """Token embedding -> pre-norm transformer encoder -> bin logits at every token."""

    def __init__(
        self,
        *,
        d_model: int = 64,
        n_layers: int = 3,
        n_heads: int = 4,
        n_bins: int = 256,
        max_len: int = 100,
        min_len: int = 4,
    ) -> None:
        super().__init__()
        self.max_len, self.min_len = int(max_len), int(min_len)
        self.embed = nn.Sequential(nn.Linear(4, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 2 * d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(
            nn.LayerNorm(d_model),
            nn.Linear(d_model, d_model),
            nn.GELU(),
            nn.Linear(d_model, n_bins),
        )
        self.register_buffer("edges", torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64))

    def length_feature(self, length: torch.Tensor) -> torch.Tensor:
        """log T scaled to [0, 1] over the trained lengths; longer targets are clamped (extrapolation)."""
        lo, hi = math.log(self.min_len), math.log(self.max_len)
        return ((torch.log(length.float()) - lo) / (hi - lo)).clamp(0.0, 1.0)

    def forward(
        self, tokens: torch.Tensor, hide: torch.Tensor, pick: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``tokens`` (N, S, 4), ``hide`` (N, S) True where a token is not context -> logits (N, S, B),
        or (M, B) for the M tokens where the bool mask ``pick`` is True (the head only where it is needed)."""
        h = self.encoder(self.embed(tokens), src_key_padding_mask=hide)
        return self.head(h if pick is None else h[pick])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=4)
def load_model(path: str) -> CurvePFN:
    """The trained network from ``path`` and its ``.json`` sidecar; one clear line if either is unusable."""
    p = Path(path)
    side = p.with_suffix(".json")
    how = f"rebuild them with `{REBUILD}`"
    if not p.is_file() or not side.is_file():
        raise NasscoutError(f"pfn weights {p} (or its sidecar {side.name}) are missing; {how}")
    try:
        meta = json.loads(side.read_text())
        sha, config = meta["sha256"], meta["model"]
    except (ValueError, KeyError, TypeError) as e:
        raise NasscoutError(f"pfn sidecar {side} is unreadable ({e}); {how}") from None
    if _sha256(p) != sha:
        raise NasscoutError(f"pfn weights {p} do not match the SHA-256 in {side.name}; {how}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
        model = CurvePFN(
            **config
        )  # weights are stored in float16 (half the file), edges in float64
        model.load_state_dict(
            {k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()}
        )
    except Exception as e:  # noqa: BLE001 - any unpickling/shape error means the same thing
        raise NasscoutError(f"pfn weights {p} are corrupt ({type(e).__name__}); {how}") from None
    return model.eval()


def context_tokens(
    u: np.ndarray, target: int, model: CurvePFN
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query + observed epochs of each curve as tokens (N, 1 + C, 4) and the hide mask (N, 1 + C).

    ``u`` is (N, L) normalised with NaN for unobserved epochs; slot 0 is the query, observed epochs follow in
    order, padding after them.
    """
    n, _ = u.shape
    seen = ~np.isnan(u)
    order = np.argsort(~seen, axis=1, kind="stable")  # observed epochs first, in epoch order
    c = int(seen.sum(axis=1).max())
    pos = order[:, :c]
    valid = np.take_along_axis(seen, pos, axis=1)
    vals = np.where(valid, np.take_along_axis(u, pos, axis=1), 0.0)
    s = (pos + 1.0) / target
    length = model.length_feature(torch.full((n,), target))[:, None].expand(n, c + 1)
    tok = np.zeros((n, c + 1, 3))
    tok[:, 0] = (1.0, 0.0, 1.0)
    tok[:, 1:, 0] = np.where(valid, s, 0.0)
    tok[:, 1:, 1] = vals
    tokens = torch.cat([torch.as_tensor(tok, dtype=torch.float32), length[..., None]], dim=2)
    hide = torch.as_tensor(np.concatenate([np.ones((n, 1), bool), ~valid], axis=1))
    return tokens, hide


class PFNExtrapolator(CurveExtrapolator):
    name = "pfn"
    summary = (
        "in-context transformer trained by us on LC-PFN's curve prior (+ a cosine-schedule prior)"
    )
    needs_training = False

    def __init__(
        self, *, seed: int = 0, weights: str | Path | None = None, n_threads: int | None = 1
    ) -> None:
        super().__init__(seed=seed)
        if n_threads is not None and (isinstance(n_threads, bool) or int(n_threads) < 1):
            raise NasscoutError(
                f"n_threads={n_threads!r} is invalid; accepted: an integer >= 1 or None"
            )
        self.weights = weights
        self.n_threads = (
            n_threads  # 1: a small network loses badly to thread overhead on a shared CPU
        )

    @property
    def model(self) -> CurvePFN:
        return load_model(str(Path(self.weights) if self.weights is not None else WEIGHTS))

    @torch.no_grad()
    def logits(self, u: np.ndarray, target: int) -> np.ndarray:
        """(N, B) float64 bin logits for normalised partial curves ``u`` (NaN = unobserved)."""
        model = self.model
        out = []
        with torch_session(self.n_threads):
            for start in range(0, len(u), CHUNK):
                tokens, hide = context_tokens(u[start : start + CHUNK], target, model)
                pick = torch.zeros(hide.shape, dtype=torch.bool)
                pick[:, 0] = True
                out.append(model(tokens, hide, pick).double().numpy())
        return np.concatenate(out)

    def _predict(self, curves: Curves, target: int) -> HistogramPrediction:
        z = self.logits(curves.normalised(), target)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return HistogramPrediction(
            curves, self.model.edges.numpy(), p / p.sum(axis=1, keepdims=True)
        )

    def __repr__(self) -> str:
        extra: dict[str, Any] = {} if self.weights is None else {"weights": str(self.weights)}
        return (
            f"PFNExtrapolator(seed={self.seed}{''.join(f', {k}={v!r}' for k, v in extra.items())})"
        )
