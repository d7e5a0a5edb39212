"""PNAS' accuracy predictor: the cell read as a token sequence by an LSTM, an ensemble of 5.

PNAS (Liu et al., 2018) reads a cell block by block as the tokens (input, input, op, op), embeds every token
(100 dims), runs a one-layer LSTM with 100 hidden units and maps the final hidden state to the accuracy;
5 predictors, each trained on 4/5 of the evaluated cells, form the ensemble (Adam, L1 weight decay). What
stays PNAS here: the recurrent reader of the cell's (input, op) tokens, the sizes, the 5-member 4/5-data
ensemble (its spread, calibrated on the held-out fifths, is the uncertainty).

Space-generic: tokens come from ``space.encode(idx, "tokens")`` and the vocabulary from the space's choice
names (``predictors.lstm_parts``), so the same code reads NB201, TransNAS-Bench-101 micro or NAS-Bench-Graph
cells. Each position has an input token (its source node when positions are named ``"s->d"``, else the
position) and an op token. ``sequence="pairs"`` reads one step per position, the two tokens' embeddings
summed; ``"paths"`` (default) reads the same (input, op) steps along every input->output path of the cell,
longest path first (NB201: 8 steps for its 6 edges; ``lstm_parts.path_order``; "pairs" on spaces whose
positions are not 's->d' edges), so the ops a path composes follow one another, as in the path encoding the
GP's best kernel reads; ``"pnas"`` reads them as two steps (PNAS' literal order, twice the steps); ``"ops"``
op tokens only.
``canonical`` reads each cell's isomorphism-class representative. Side features (NB201: live structure +
the given proxies; other spaces: the given ``cell_features``) condition the reader (``condition``: initial
state, output head, or both); ``prior`` adds the proxies' consensus score (the GP's prior-mean direction).
``base="ridge"``: a member's output is a closed-form ridge fit (penalty ``ridge``) of the standardised target
on the side features, made on that member's 4/5 only, plus the LSTM's output, which learns the rest; as the
GP's prior mean, it carries the prediction where the LSTM has seen too few cells.

Hyperparameters. Paper: embedding 100, LSTM 100, 5 members on 4/5 each, Adam lr 0.01 (constant), L1 1e-5,
one layer, reading the final state. Ours (chosen on NB201 CIFAR-10, seeds 100-101, never the reported seeds
0-4): ``target="log-error"`` (standardised log(100 - acc), not PNAS' sigmoid of acc/100), ``loss=
"mse+listmle"`` (``rank_weight`` 1), ``sequence="paths"``, ``canonical``, ``prior``, ``condition="both"``,
``base="ridge"`` with ``ridge`` 1, batch 32, ``min_steps`` 500 / ``epochs`` 20 (whichever is more),
``pretrain_epochs`` 3 on ``pretrain_cells`` 2048 unlabelled cells (SemiNAS-style: every member's embedding +
LSTM first learn to predict the cells' free side features, batch 128), ``checkpoints=(1.0,)``.

What mattered (Kendall tau, paired, 2 dev seeds x 200 test cells, CIFAR-10; full table in the README):
PNAS' (input, op) tokens over op tokens +0.04 at 56 and 209 cells; reading the isomorphism representative
+0.02/+0.03; log-error target +0.04 at 209; ListMLE over plain MSE +0.03/+0.02; proxy pretraining +0.035 at
56; the ridge base +0.027/+0.014/+0.006 at 23/56/135 cells; "pairs" over "pnas" +0.004/+0.002/+0.017 at 23/56/
135 in about 70% of the fit time; "paths" over "pairs" (third round: ImageNet16-120 and CIFAR-10 dev seeds
100-103, CIFAR-100 100-102) +0.024/+0.014 and +0.022/+0.017 at 56/135 cells, +0.007 to +0.023 at 10-209 on
CIFAR-100; reading the shortest path first instead: -0.010/+0.000. No gain: a cosine learning-rate schedule
(-0.003/-0.007/-0.003), the fold-chosen training length (``checkpoints``, +0.001/+0.003 for 2x the cost),
full-batch training; and on ImageNet16-120 at 56/135: ``bidirectional`` -0.009/-0.011, ``reverse`` (pairs)
-0.027/-0.021, 10 members +0.003/+0.003 (1.7x the fit time), lr 0.003 -0.001/+0.002, 2x pretraining
-0.001/+0.005, 50 units -0.008/-0.004, ``rank_weight`` 3 -0.009/+0.003, ``ridge`` 10 -0.006/+0.000, a
ridge base that also reads the one-hot ops -0.066/-0.022 (it overfits; a trial, not kept as an option).
``warm_start=True`` continues the previous members for ``warm_epochs`` epochs and refits the ridge base
(search strategies).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np

from predictors.base import (
    TargetTransform,
    TorchEnsemble,
    check_choice,
    check_number,
    init_uniform,
    rank_gauss,
    train_members,
)
from predictors.lstm_parts import Percent, pair_loss, ridge_base, token_sequence, token_vocabulary
from surrogate.errors import NasscoutError

SEQUENCES = ("pnas", "pairs", "paths", "ops")
BASES = ("none", "ridge")
CONDITIONS = ("head", "init", "both")
LOSSES = ("mse", "mae", "mse+hinge", "mse+listmle")
_Percent = Percent  # its name in model files written before it moved to predictors.lstm_parts
MIN_SEARCH = 20  # fewer training cells: out-of-fold tau is too noisy to choose a training length by


class LSTMPredictor(TorchEnsemble):
    name = "lstm"
    encoding = "tokens"
    summary = (
        "PNAS: (input, op) tokens along paths -> LSTM(100) + ridge base on free features; 5 on 4/5"
    )
    quick_options: ClassVar[dict[str, Any]] = {"min_steps": 150, "pretrain_epochs": 1}
    losses: ClassVar[tuple[str, ...]] = LOSSES

    def __init__(
        self,
        *,
        seed: int = 0,
        space: Any = None,
        cell_features: np.ndarray | None = None,
        structure: bool = True,
        sequence: str = "paths",
        reverse: bool = False,
        bidirectional: bool = False,
        canonical: bool = True,
        prior: bool = True,
        condition: str = "both",
        n_members: int = 5,
        embedding_dim: int = 100,
        hidden_size: int = 100,
        epochs: int = 20,
        min_steps: int = 500,
        batch_size: int = 32,
        lr: float = 0.01,
        schedule: str = "constant",
        l1: float = 1e-5,
        loss: str = "mse+listmle",
        rank_weight: float = 1.0,
        margin: float = 0.1,
        members: str = "kfold",
        target: str = "log-error",
        checkpoints: tuple[float, ...] = (1.0,),
        base: str = "ridge",
        ridge: float = 1.0,
        pretrain_epochs: int = 3,
        pretrain_cells: int = 2048,
        warm_start: bool = False,
        warm_epochs: int = 5,
        device: str | None = None,
        n_threads: int | None = 1,
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.cell_features = cell_features
        self.structure = structure
        self.sequence = sequence
        self.reverse = reverse
        self.bidirectional = bidirectional
        self.canonical = canonical
        self.prior = prior
        self.condition = condition
        self.n_members = n_members
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.schedule = schedule
        self.l1 = l1
        self.loss = loss
        self.rank_weight = rank_weight
        self.margin = margin
        self.members = members
        self.target = target
        self.checkpoints = checkpoints
        self.base = base
        self.ridge = ridge
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_cells = pretrain_cells
        self.warm_start = warm_start
        self.warm_epochs = warm_epochs
        self.device = device
        self.n_threads = n_threads

    # ---- fit: training length chosen on the validation folds -------------------------------------------
    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> LSTMPredictor:
        """Train in stages ending at the ``checkpoints`` fractions of the schedule; keep the stage whose
        out-of-fold predictions (each cell predicted by the member that did not train on it) rank the
        training cells best (Kendall tau). A stage continues the previous one (Adam's moments restart).
        Warm refits, and fits on fewer than ``MIN_SEARCH`` cells, train the whole schedule at once."""
        from scipy.stats import kendalltau

        from predictors.base import member_rows

        fractions = sorted({float(f) for f in self.checkpoints})
        if not fractions or fractions[0] <= 0 or fractions[-1] != 1.0:
            raise NasscoutError(
                f"checkpoints={self.checkpoints!r} is invalid; accepted: increasing fractions in (0, 1] "
                "ending with 1.0"
            )
        idx, y = self._check_xy(archs, y)
        warm = bool(self.warm_start) and getattr(self, "fitted_", False)
        check_choice("base", self.base, BASES)
        self.__dict__["_cache_fit"] = (idx, y)  # the cells the ridge base is fitted on
        if warm or len(fractions) == 1 or len(idx) < MIN_SEARCH:
            return super().fit(idx, y)
        self._common()
        rows = member_rows(len(idx), self.n_members_, self.members, np.random.default_rng(0))
        sizes = np.array([len(r) for r in rows])
        steps = int(np.ceil(sizes.max() / min(int(self.batch_size), sizes.min())))
        total = max(int(self.epochs), int(np.ceil(int(self.min_steps) / steps)))
        stages = sorted({max(1, round(total * f)) for f in fractions})
        saved = {k: getattr(self, k) for k in ("epochs", "min_steps", "warm_start", "warm_epochs")}
        best: tuple[float, dict[str, Any]] | None = None
        try:
            done = 0
            for e in stages:
                if done == 0:
                    self.epochs, self.min_steps, self.warm_start = e, 0, False
                else:
                    self.warm_start, self.warm_epochs = True, e - done
                super().fit(idx, y)
                done = e
                ok = np.isfinite(self.held_out_)
                tau = (
                    float(kendalltau(self.held_out_[ok], y[ok]).statistic) if ok.sum() > 2 else 0.0
                )
                tau = tau if np.isfinite(tau) else -1.0
                if best is None or tau > best[0]:
                    keep = ("params_", "extra_var_", "std_scale_", "held_out_", "held_out_std_")
                    best = (tau, {k: copy.deepcopy(getattr(self, k)) for k in keep})
                    best[1]["epochs_chosen_"] = e
        finally:
            for k, v in saved.items():
                setattr(self, k, v)
        assert best is not None
        for k, v in best[1].items():
            setattr(self, k, v)
        self.held_out_tau_ = best[0]
        return self

    # ---- inputs ---------------------------------------------------------------------------------------
    def _side(self, idx: np.ndarray) -> np.ndarray | None:
        """NB201: the shared side features (live structure + proxies); other spaces: the proxies only."""
        space = self._space()
        if space.name == "nb201":
            return super()._side(idx)
        table = self.__dict__.get("_cache_side")
        if table is None and self.cell_features is not None:
            arr = np.asarray(self.cell_features, dtype=np.float64)
            arr = arr[:, None] if arr.ndim == 1 else arr
            if arr.ndim != 2 or arr.shape[0] != space.n_cells or arr.shape[1] < 1:
                raise NasscoutError(
                    f"cell_features has shape {arr.shape}; accepted: ({space.n_cells}, k) with one "
                    f"row per {space.name} index"
                )
            table = rank_gauss(arr)
            table[~np.isfinite(table)] = 0.0
            self.__dict__["_cache_side"] = table
        return None if table is None else table[idx]

    def _inputs(self, idx: np.ndarray) -> tuple[np.ndarray | None, ...]:
        space = self._space()
        read = space.canonical_indices(idx) if self.canonical else idx
        tok = token_sequence(space, read, self.sequence)
        side = self._side(idx)
        if self.prior and side is not None:
            side = np.column_stack([side, self._prior(idx)])
        return (tok[:, ::-1].copy() if self.reverse else tok), side

    def _prior(self, idx: np.ndarray) -> np.ndarray:
        """The free proxies' equal-weight consensus (the GP's prior mean direction), standardised."""
        if self._space().name == "nb201":
            score = self._consensus(idx)
        else:
            score = self._side(idx).mean(axis=1)
        return score / 0.8

    def _transform(self, y: np.ndarray) -> TargetTransform:
        check_choice("target", self.target, ("percent", "identity", "log-error"))
        if self.target == "percent":
            return Percent()
        return TargetTransform(self.target, y)

    def _loss_fn(self) -> Any:
        w = check_number("rank_weight", self.rank_weight, low=0.0, high=1e6)
        m = check_number("margin", self.margin, low=0.0, high=1e6)
        return self.loss if self.loss in ("mse", "mae") else pair_loss(self.loss, w, m)

    # ---- network --------------------------------------------------------------------------------------
    def _init(self, gen: Any, dims: dict[str, int], device: str) -> dict[str, Any]:
        import torch

        check_choice("sequence", self.sequence, SEQUENCES)
        E = check_number("embedding_dim", self.embedding_dim, low=1, high=4096, integer=True)
        H = check_number("hidden_size", self.hidden_size, low=1, high=4096, integer=True)
        _, _, vocab = token_vocabulary(self._space())
        m = self.n_members_
        bound = 1.0 / np.sqrt(H)  # torch.nn.LSTM's default init
        params = {"emb": torch.empty((m, vocab, E)).normal_(0.0, 1.0, generator=gen).to(device)}
        for d in ("", "_back")[: 1 + bool(self.bidirectional)]:
            params[f"W_ih{d}"] = init_uniform(gen, (m, E, 4 * H), bound, device)
            params[f"W_hh{d}"] = init_uniform(gen, (m, H, 4 * H), bound, device)
            params[f"b{d}"] = init_uniform(gen, (m, 1, 4 * H), bound, device)
        check_choice("condition", self.condition, CONDITIONS)
        if self.condition != "head" and dims["side"]:
            k = dims["side"]
            params["W_init"] = init_uniform(gen, (m, k, H), 1.0 / np.sqrt(k), device)
            params["b_init"] = torch.zeros((m, 1, H), device=device)
        width = H * (1 + bool(self.bidirectional)) + dims["side"] * (self.condition != "init")
        params["W_out"] = init_uniform(gen, (m, width, 1), 1.0 / np.sqrt(width), device)
        params["b_out"] = init_uniform(gen, (m, 1, 1), 1.0 / np.sqrt(H), device)
        if int(self.pretrain_epochs) > 0:
            self._pretrain(params, gen, device)
        if self.base == "ridge" and dims["side"]:
            params.update(self._ridge(device))
        return params

    def _warm_params(self, params: dict[str, Any], device: str) -> dict[str, Any]:
        """A warm refit refits the ridge base on all cells now known (the LSTM continues from before)."""
        if "R_w" in params:
            params.update(self._ridge(device))
        return params

    def _ridge(self, device: str) -> dict[str, Any]:
        """Per member, the ridge regression of the standardised target on the side features, fitted in closed
        form on that member's rows: a fixed linear base the LSTM's output is added to (it learns the rest)."""
        import torch

        from predictors.base import member_rows

        idx, y = self.__dict__["_cache_fit"]
        lam = check_number("ridge", self.ridge, low=0.0, high=1e9)
        _, side = self._inputs(idx)
        z = self.target_.forward(
            y
        )  # the standardisation the members train in (kept by warm refits)
        rows = member_rows(
            len(idx), self.n_members_, self.members, np.random.default_rng(self.seed)
        )
        w = ridge_base(side, z, rows, lam)
        t = torch.from_numpy(w.astype(np.float32)).to(device)
        return {"R_w": t[:, :-1, None].contiguous(), "R_b": t[:, -1:, None].contiguous()}

    def _run(
        self, params: dict[str, Any], onehot: Any, d: str, backward: bool, h0: Any = None
    ) -> Any:
        """Final hidden state (M, B, H) of one direction; the embedding and input projection are folded
        into one (vocab x 4H) table per member, so a token's gate input is a one-hot product with it."""
        import torch

        M, B, T, V = onehot.shape
        H = params[f"W_hh{d}"].shape[1]
        table = torch.bmm(params["emb"], params[f"W_ih{d}"]) + params[f"b{d}"]  # (M, V, 4H)
        xp = torch.bmm(onehot.reshape(M, B * T, V), table).reshape(M, B, T, 4 * H)
        # unbind rather than xp[:, :, t]: its backward is one stack instead of T zero-filled copies
        steps = xp.unbind(dim=2)
        h = xp.new_zeros((M, B, H)) if h0 is None else h0
        c = xp.new_zeros((M, B, H))
        for x_t in steps[::-1] if backward else steps:
            gates = x_t + torch.bmm(h, params[f"W_hh{d}"])
            i, f, g, o = gates.chunk(4, dim=2)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return h

    def _encode(self, params: dict[str, Any], tokens: Any, side: Any = None) -> Any:
        import torch

        onehot = torch.nn.functional.one_hot(tokens, params["emb"].shape[1]).float()
        if onehot.dim() == 5:  # "pairs"/"paths": one step reads both tokens of a position
            onehot = onehot.sum(dim=3)
        h0 = None
        if side is not None and "W_init" in params and side.shape[-1]:
            h0 = torch.tanh(torch.baddbmm(params["b_init"], side, params["W_init"]))
        h = self._run(params, onehot, "", False, h0)
        if "W_ih_back" in params:
            h = torch.cat([h, self._run(params, onehot, "_back", True, h0)], dim=2)
        return h

    def _forward(self, params: dict[str, Any], tokens: Any, side: Any) -> Any:
        import torch

        h = self._encode(params, tokens, side)
        if side.shape[-1] and self.condition != "init":
            h = torch.cat([h, side], dim=2)
        out = torch.baddbmm(params["b_out"], h, params["W_out"])
        if "R_w" in params:
            out = out + torch.baddbmm(params["R_b"], side, params["R_w"]).detach()
        out = out.squeeze(-1)
        return torch.sigmoid(out) if self.target == "percent" else out

    def _pretrain(self, params: dict[str, Any], gen: Any, device: str) -> None:
        """SemiNAS-style: train the embedding and LSTM of every member to predict the free side features
        (standardised proxies and structure) of ``pretrain_cells`` random cells of the space, unlabelled."""
        import torch

        space = self._space()
        n = check_number("pretrain_cells", self.pretrain_cells, low=16, high=10**7, integer=True)
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen)))
        cells = np.sort(rng.choice(space.n_cells, size=min(n, space.n_cells), replace=False))
        tokens, side = self._inputs(cells)
        if side is None:
            return
        m, H = self.n_members_, params["W_hh"].shape[1] * (1 + bool(self.bidirectional))
        head = {
            "P_out": init_uniform(gen, (m, H, side.shape[1]), 1.0 / np.sqrt(H), device),
            "P_b": torch.zeros((m, 1, side.shape[1]), device=device),
        }
        net = {
            k: v for k, v in params.items() if k in ("emb",) or k.startswith(("W_ih", "W_hh", "b"))
        }
        net = {k: v for k, v in net.items() if k not in ("b_out", "b_init")}
        both = {**net, **head}

        def forward(p: dict[str, Any], tok: Any) -> Any:
            return torch.baddbmm(p["P_b"], self._encode(p, tok), p["P_out"])

        target = torch.from_numpy(side.astype(np.float32)).to(device)
        rows = [np.arange(len(cells))] * m
        train_members(
            both,
            forward,
            (torch.from_numpy(tokens).to(device),),
            target,
            rows,
            epochs=int(self.pretrain_epochs),
            batch_size=128,
            lr=float(self.lr),
            rng=rng,
            loss=lambda pred, t: ((pred - t) ** 2).sum() / t.shape[-1],
        )
