"""A graph isomorphism network (GIN) on the cell's op graph, an ensemble of 5.

The graph is the space's ``adjacency`` encoding where it has one (NB201, TransNAS micro; NASLib / BRP-NAS
style): input, the six ops as nodes, output. An edge holding ``none`` carries nothing, so its node is cut
out of the graph (its in- and out-links are removed) before message passing; otherwise every cell would
share one adjacency and the network would have to learn that a 'none' node blocks flow. A space without
one (NAS-Bench-Graph) gets a generic graph (``predictors.features.cell_graph``): one node per choice
position with the one-hot of its choice, every position linked to every later one, and a readout node last. Each GIN layer sums messages along the DAG's direction and through
its reverse (separate weights), adds (1 + eps) times the node itself and applies a two-layer MLP; the
readout concatenates the mean over nodes and the output node's state, plus any free side features, into
an MLP head. Members are trained on 4/5 of the cells each and the held-out fifth calibrates the interval.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from predictors.base import check_number
from predictors.features import cell_graph
from predictors.torch_ensemble import TorchEnsemble, init_uniform
from surrogate.space import SearchSpace


class GINPredictor(TorchEnsemble):
    name = "gin"
    encoding = "adjacency"
    summary = "graph isomorphism network (torch) on the op graph, 'none' edges cut; ensemble of 5"
    quick_options: ClassVar[dict[str, Any]] = {"epochs": 20, "min_steps": 150}

    def __init__(
        self,
        *,
        seed: int = 0,
        space: SearchSpace | None = None,
        cell_features: np.ndarray | None = None,
        structure: bool = False,
        n_members: int = 5,
        n_layers: int = 3,
        hidden: int = 32,
        epochs: int = 100,
        min_steps: int = 600,
        batch_size: int = 32,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        loss: str = "mse",
        members: str = "kfold",
        target: str = "log-error",
        warm_start: bool = False,
        warm_epochs: int = 10,
        device: str | None = None,
        n_threads: int | None = 1,
    ) -> None:
        super().__init__(seed=seed, space=space)
        self.cell_features = cell_features
        self.structure = structure
        self.n_members = n_members
        self.n_layers = n_layers
        self.hidden = hidden
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.loss = loss
        self.members = members
        self.target = target
        self.warm_start = warm_start
        self.warm_epochs = warm_epochs
        self.device = device
        self.n_threads = n_threads

    def _inputs(self, idx: np.ndarray) -> tuple[np.ndarray | None, ...]:
        adj, feats = cell_graph(self._space(), idx)
        return adj, feats, self._side(idx)

    def _dims(self, inputs: tuple[np.ndarray | None, ...]) -> dict[str, int]:
        dims = super()._dims(inputs)
        assert inputs[1] is not None
        dims["features"] = int(inputs[1].shape[-1])
        return dims

    def _init(self, gen: Any, dims: dict[str, int], device: str) -> dict[str, Any]:
        import torch

        layers = check_number("n_layers", self.n_layers, low=1, high=20, integer=True)
        H = check_number("hidden", self.hidden, low=1, high=4096, integer=True)
        m = self.n_members_

        def lin(name: str, fan_in: int, fan_out: int) -> None:
            bound = 1.0 / np.sqrt(fan_in)  # torch.nn.Linear's default init
            params[f"W{name}"] = init_uniform(gen, (m, fan_in, fan_out), bound, device)
            params[f"b{name}"] = init_uniform(gen, (m, 1, fan_out), bound, device)

        params: dict[str, Any] = {}
        lin("embed", dims["features"], H)
        for i in range(layers):
            lin(f"fwd{i}", H, H)  # messages along the DAG
            lin(f"bwd{i}", H, H)  # messages against it
            lin(f"mlp{i}", H, H)
            params[f"eps{i}"] = torch.zeros((m, 1, 1), device=device)
        lin("head", 2 * H + dims["side"], H)
        lin("out", H, 1)
        return params

    def _forward(self, params: dict[str, Any], adj: Any, feats: Any, side: Any) -> Any:
        import torch

        M, B, N, _ = feats.shape

        def linear(name: str, x: Any) -> Any:
            shape = x.shape
            y = torch.baddbmm(params[f"b{name}"], x.reshape(M, -1, shape[-1]), params[f"W{name}"])
            return y.reshape(*shape[:-1], -1)

        h = torch.relu(linear("embed", feats))  # (M, B, N, H)
        adj_t = adj.transpose(-1, -2)
        i = 0
        while f"Wfwd{i}" in params:
            msg = linear(f"fwd{i}", adj_t @ h) + linear(f"bwd{i}", adj @ h)
            h = torch.relu(
                linear(f"mlp{i}", torch.relu((1.0 + params[f"eps{i}"][:, :, :, None]) * h + msg))
            )
            i += 1
        readout = torch.cat([h.mean(dim=2), h[:, :, N - 1]], dim=2)
        if side.shape[-1]:
            readout = torch.cat([readout, side], dim=2)
        return linear("out", torch.relu(linear("head", readout))).squeeze(-1)


__all__ = ["GINPredictor", "cell_graph"]
