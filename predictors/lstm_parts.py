"""The parts of the PNAS LSTM predictor (``predictors.lstm``) that are not the network.

The cell as tokens (a vocabulary from the space's choice names, so any ``SearchSpace`` reads), PNAS' sigmoid
target, the ranking losses added to the MSE, and the ridge base: a closed-form linear fit of the target on
the free side features per ensemble member, to which the LSTM's output is added.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from predictors.base import TargetTransform


def token_vocabulary(space: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """(positions, max choices) op-token ids, (positions,) input-token ids, and the vocabulary size.

    Op tokens: one id per distinct choice name (shared across positions, as PNAS shares op embeddings).
    Input tokens: after the op names, one id per source node for positions named 's->d', else per position.
    """
    names: dict[str, int] = {}
    card = [len(c) for c in space.choices]
    ops = np.zeros((len(card), max(card)), dtype=np.int64)
    for p, choices in enumerate(space.choices):
        for c, name in enumerate(choices):
            ops[p, c] = names.setdefault(str(name), len(names))
    sources = [str(pos).split("->")[0] for pos in space.positions]
    if not all("->" in str(pos) for pos in space.positions):
        sources = [f"position {p}" for p in range(len(card))]
    src_ids: dict[str, int] = {}
    inputs = np.array([len(names) + src_ids.setdefault(s, len(src_ids)) for s in sources])
    return ops, inputs.astype(np.int64), len(names) + len(src_ids)


def path_order(space: Any) -> np.ndarray | None:
    """Positions along every input->output path of a DAG cell whose positions are named 's->d' (node 0 the
    input, the largest node the output), longest path first, concatenated; None for other spaces (names
    that are not integer 's->d' pairs with s < d, or an edge on no input->output path).
    NB201: 0->1, 1->2, 2->3 | 0->2, 2->3 | 0->1, 1->3 | 0->3 (8 steps for its 6 edges; the
    BANANAS path encoding's ``surrogate.encodings.PATHS`` reversed, derived here from the names for any DAG). Longest first
    measured better than shortest first (plausibly because an LSTM's final state weighs its last steps
    most); the direction within a path did not matter (README, the lstm ablation)."""
    try:
        edges = [tuple(int(v) for v in str(p).split("->")) for p in space.positions]
    except ValueError:
        return None
    if not edges or any(len(e) != 2 or e[0] >= e[1] for e in edges):
        return None
    out = max(d for _, d in edges)
    paths: list[list[int]] = []

    def walk(node: int, path: list[int]) -> None:
        if node == out:
            paths.append(path)
            return
        for p, (s, d) in enumerate(edges):
            if s == node:
                walk(d, [*path, p])

    walk(0, [])
    order = [p for path in sorted(paths, key=len)[::-1] for p in path]
    return np.array(order, dtype=np.int64) if set(order) == set(range(len(edges))) else None


def token_sequence(space: Any, idx: np.ndarray, sequence: str = "pnas") -> np.ndarray:
    """(n, T) int64 tokens of the cells: op tokens, or (input, op) pairs per position in PNAS' order;
    ``"pairs"``: (n, positions, 2), both tokens of a position read in one step (their embeddings summed);
    ``"paths"``: as ``"pairs"`` but one step per edge of every input->output path (``path_order``), so the
    ops a path composes are read one after the other (the path encoding's view; "pairs" on other spaces)."""
    ops, inputs, _ = token_vocabulary(space)
    choice = space.encode(idx, "tokens").astype(np.int64)
    tok = ops[np.arange(ops.shape[0])[None, :], choice]
    if sequence == "ops":
        return tok
    if sequence == "paths":
        order = path_order(space)
        if order is not None:
            tok, inputs = tok[:, order], inputs[order]
        sequence = "pairs"
    if sequence == "pairs":
        return np.stack([np.broadcast_to(inputs, tok.shape), tok], axis=2)
    return np.stack([np.broadcast_to(inputs, tok.shape), tok], axis=2).reshape(len(tok), -1)


class Percent(TargetTransform):
    """Accuracy / 100: the sigmoid output of PNAS predicts the accuracy itself."""

    def __init__(self) -> None:
        self.kind, self.mu, self.sd = "identity", 0.0, 100.0


def pair_loss(kind: str, weight: float, margin: float) -> Any:
    """MSE (summed over members and batch) plus ``weight`` x a ranking loss per batch row."""
    import torch

    def loss(pred: Any, target: Any) -> Any:
        mse = ((pred - target) ** 2).sum()
        if weight == 0.0 or kind == "mse":
            return mse
        B = pred.shape[1]
        if kind == "mse+hinge":  # every ordered pair the targets rank, hinged at ``margin``
            better = (target[:, :, None] - target[:, None, :]) > 0
            gap = pred[:, :, None] - pred[:, None, :]
            hinge = torch.relu(margin - gap) * better
            rank = hinge.sum(dim=(1, 2)) / better.sum(dim=(1, 2)).clamp(min=1)
        else:  # ListMLE: -log Plackett-Luce likelihood of the true order, per row
            order = torch.argsort(target, dim=1, descending=True)
            p = torch.gather(pred, 1, order)
            tail = torch.logcumsumexp(p.flip(1), dim=1).flip(1)
            rank = (tail - p).sum(dim=1) / B
        return mse + weight * B * rank.sum()

    return loss


def ridge_base(side: np.ndarray, z: np.ndarray, rows: list[np.ndarray], lam: float) -> np.ndarray:
    """(members, k + 1) ridge weights (last: intercept, not penalised) of ``z`` on ``side``, one fit per
    member on its own ``rows``, so a member's held-out cells stay unseen by its base as by its LSTM."""
    X = np.column_stack([side, np.ones(len(z))])
    pen = lam * np.eye(X.shape[1])
    pen[-1, -1] = 0.0
    return np.stack([np.linalg.solve(X[r].T @ X[r] + pen, X[r].T @ z[r]) for r in rows])
