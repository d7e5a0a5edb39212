"""PNAS' accuracy predictor: the cell read as a token sequence by an LSTM, an ensemble of 5.

PNAS (Liu et al., 2018) reads a cell block by block as the tokens (input, input, op, op), embeds every token
(100 dims), runs a one-layer LSTM with 100 hidden units and maps the final hidden state through a sigmoid to
the accuracy; 5 predictors, each trained on 4/5 of the evaluated cells, form the ensemble, trained with Adam
and L1 weight decay. On NB201 a cell is 6 edges whose source and target nodes are fixed by their position,
so PNAS' input tokens would be the same for every cell: the sequence is the 6 op tokens in arch-string
edge order (vocabulary of the 5 ops).

Defaults follow the paper as far as we could recover it (embedding 100, LSTM 100, sigmoid output of
accuracy/100, Adam lr 0.01 with L1 weight decay 1e-5, 5 members on 4/5 of the data each); epochs (60, and at
least ``min_steps`` = 600 updates, so small data still gets trained) and batch size (32) were chosen here
for NB201. The held-out fifth of every member calibrates the interval.

One addition to PNAS is on by default: the cell's free live-structure features (``structure=True``; plus any
``cell_features``) are concatenated to the final hidden state. Token-only LSTMs learn NB201's dead edges
slowly: on 56 cells the pure reader (``structure=False``) ranks below the ``params`` proxy, with the
features it beats it (see the report). ``warm_start=True`` continues the previous members for
``warm_epochs`` epochs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from predictors.base import (
    TargetTransform,
    TorchEnsemble,
    check_choice,
    check_number,
    init_uniform,
)
from surrogate.spaces.nb201 import N_OPS, NB201Space, encode

VOCAB = N_OPS


def token_sequence(idx: np.ndarray) -> np.ndarray:
    """(n, 6) int64 op tokens in arch-string edge order."""
    return encode(idx, "tokens").astype(np.int64)


class _Percent(TargetTransform):
    """Accuracy / 100: the sigmoid output of PNAS predicts the accuracy itself."""

    def __init__(self) -> None:
        self.kind, self.mu, self.sd = "identity", 0.0, 100.0


class LSTMPredictor(TorchEnsemble):
    name = "lstm"
    encoding = "tokens"
    summary = "PNAS: token sequence -> embedding -> LSTM(100) -> sigmoid accuracy; ensemble of 5 (4/5 data each)"
    quick_options: ClassVar[dict[str, Any]] = {"epochs": 15, "min_steps": 150}

    def __init__(
        self,
        *,
        seed: int = 0,
        space: NB201Space | None = None,
        cell_features: np.ndarray | None = None,
        structure: bool = True,
        n_members: int = 5,
        embedding_dim: int = 100,
        hidden_size: int = 100,
        epochs: int = 60,
        min_steps: int = 600,
        batch_size: int = 32,
        lr: float = 0.01,
        l1: float = 1e-5,
        loss: str = "mse",
        members: str = "kfold",
        target: str = "percent",
        warm_start: bool = False,
        warm_epochs: int = 5,
        device: str | None = None,
        n_threads: int | None = 1,
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.cell_features = cell_features
        self.structure = structure
        self.n_members = n_members
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.l1 = l1
        self.loss = loss
        self.members = members
        self.target = target
        self.warm_start = warm_start
        self.warm_epochs = warm_epochs
        self.device = device
        self.n_threads = n_threads

    def _transform(self, y: np.ndarray) -> TargetTransform:
        check_choice("target", self.target, ("percent", "identity", "log-error"))
        if self.target == "percent":
            return _Percent()
        return TargetTransform(self.target, y)

    def _inputs(self, idx: np.ndarray) -> tuple[np.ndarray | None, ...]:
        return token_sequence(idx), self._side(idx)

    def _init(self, gen: Any, dims: dict[str, int], device: str) -> dict[str, Any]:
        import torch

        E = check_number("embedding_dim", self.embedding_dim, low=1, high=4096, integer=True)
        H = check_number("hidden_size", self.hidden_size, low=1, high=4096, integer=True)
        m = self.n_members_
        bound = 1.0 / np.sqrt(H)  # torch.nn.LSTM's default init
        emb = torch.empty((m, VOCAB, E)).normal_(0.0, 1.0, generator=gen).to(device)
        return {
            "emb": emb,
            "W_ih": init_uniform(gen, (m, E, 4 * H), bound, device),
            "W_hh": init_uniform(gen, (m, H, 4 * H), bound, device),
            "b": init_uniform(gen, (m, 1, 4 * H), bound, device),
            "W_out": init_uniform(
                gen, (m, H + dims["side"], 1), 1.0 / np.sqrt(H + dims["side"]), device
            ),
            "b_out": init_uniform(gen, (m, 1, 1), 1.0 / np.sqrt(H), device),
        }

    def _forward(self, params: dict[str, Any], tokens: Any, side: Any) -> Any:
        import torch

        M, B, T = tokens.shape
        H = params["W_hh"].shape[1]
        # embedding then input projection, folded into one (vocab x 4H) table per member: a token's
        # input to the gates is a row of it (one-hot product instead of a gather: cheaper backward)
        table = torch.bmm(params["emb"], params["W_ih"]) + params["b"]  # (M, V, 4H)
        onehot = torch.nn.functional.one_hot(tokens, VOCAB).to(table.dtype)  # (M, B, T, V)
        xp = torch.bmm(onehot.reshape(M, B * T, VOCAB), table).reshape(M, B, T, 4 * H)
        # unbind rather than xp[:, :, t]: its backward is one stack instead of T zero-filled copies
        steps = xp.unbind(dim=2)
        h = xp.new_zeros((M, B, H))
        c = xp.new_zeros((M, B, H))
        for x_t in steps:
            gates = x_t + torch.bmm(h, params["W_hh"])
            i, f, g, o = gates.chunk(4, dim=2)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        if side.shape[-1]:
            h = torch.cat([h, side], dim=2)
        out = torch.baddbmm(params["b_out"], h, params["W_out"]).squeeze(-1)
        return torch.sigmoid(out) if self.target == "percent" else out
