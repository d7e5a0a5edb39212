"""Torch ensembles whose members are batched into one network (one optimiser step trains all members).

The MLP (BANANAS), LSTM (PNAS) and GIN predictors share this trainer: members are kept as a leading
dimension of every parameter, each trains on its own rows (all, k-fold or bootstrap), and the held-out rows
calibrate the interval. torch is imported inside the functions that need it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from predictors.base import (
    Predictor,
    TargetTransform,
    calibrate,
    check_choice,
    check_number,
    held_out,
    output,
)
from predictors.features import SideFeatures
from surrogate.errors import NasscoutError


def torch_device(device: str | None) -> str:
    """``None`` -> 'cuda' when available, else 'cpu' (results are reproducible per device, not across)."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise NasscoutError(
            f"device={device!r} is invalid; accepted: 'cpu', 'cuda', 'cuda:N' or None"
        )
    return str(device)


@contextmanager
def torch_session(n_threads: int | None) -> Iterator[Any]:
    """Deterministic kernels and ``n_threads`` intra-op threads for one fit/predict, restored after.

    Nothing is changed for the caller beyond the call. Small networks lose badly to thread overhead: on the
    shared 2-core machine one training step of the BANANAS ensemble took 49 ms with torch's 2 threads and
    4.6 ms with 1, so the models default to ``n_threads=1``; ``None`` leaves torch's own setting.
    """
    import torch

    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_threads = torch.get_num_threads()
    torch.use_deterministic_algorithms(True, warn_only=True)
    if n_threads is not None:
        torch.set_num_threads(int(n_threads))
    try:
        yield torch
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)
        if n_threads is not None:
            torch.set_num_threads(prev_threads)


def init_uniform(gen: Any, shape: tuple[int, ...], bound: float, device: str) -> Any:
    """U(-bound, bound) float32 tensor drawn from an explicit generator (never the global RNG)."""
    import torch

    t = torch.empty(shape, dtype=torch.float32).uniform_(-bound, bound, generator=gen)
    return t.to(device)


def glorot(gen: Any, n_members: int, fan_in: int, fan_out: int, device: str) -> Any:
    """Glorot-uniform weights (Keras' default, used by BANANAS) for every member: (members, in, out)."""
    bound = float(np.sqrt(6.0 / (fan_in + fan_out)))
    return init_uniform(gen, (n_members, fan_in, fan_out), bound, device)


def member_rows(n: int, n_members: int, scheme: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Rows each ensemble member trains on.

    ``all``: every member sees all rows (BANANAS); ``kfold``: member m leaves out fold m (PNAS: each of 5
    predictors trained on 4/5 of the data); ``bootstrap``: rows drawn with replacement. Held-out rows give
    the residuals that calibrate the interval.
    """
    if scheme == "all" or n < 2:
        return [np.arange(n) for _ in range(n_members)]
    if scheme == "kfold":
        folds = np.array_split(rng.permutation(n), n_members)
        return [
            np.sort(np.concatenate([f for j, f in enumerate(folds) if j != m]))
            for m in range(n_members)
        ]
    return [np.sort(rng.integers(0, n, size=n)) for _ in range(n_members)]


def train_members(
    params: dict[str, Any],
    forward: Callable[..., Any],
    inputs: tuple[Any, ...],
    target: Any,
    rows: list[np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    min_steps: int = 0,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    l1: float = 0.0,
    loss: str | Callable[[Any, Any], Any] = "mse",
    schedule: str = "constant",
) -> None:
    """Train all members' parameters (leading dim = member) in place, each on its own rows and batches.

    ``forward(params, *batch_inputs) -> (members, batch)`` where every batch input has shape (members,
    batch, ...). Members never share data within a step, and Adam is elementwise, so this equals training
    the members one by one, only several times faster on small networks. ``loss`` is 'mse', 'mae' or a
    callable ``(pred, target) -> summed loss`` over (members, batch) tensors (e.g. a ranking loss).
    ``schedule="cosine"`` anneals the learning rate from ``lr`` to 0 over the run (half a cosine).
    """
    import torch

    n_members = len(rows)
    sizes = np.array([len(r) for r in rows])
    batch = int(min(batch_size, sizes.min()))
    steps = int(np.ceil(sizes.max() / batch))
    leaves = list(params.values())
    for p in leaves:
        p.requires_grad_(True)
    try:  # the fused CPU/GPU kernel is 2x faster on these many small tensors
        opt = torch.optim.Adam(leaves, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.Adam(leaves, lr=lr, betas=betas, weight_decay=weight_decay)
    l1_params = [p for k, p in params.items() if k.startswith("W")] if l1 > 0 else []
    if callable(loss):
        loss_fn = loss
    else:
        loss_fn = torch.nn.functional.l1_loss if loss == "mae" else torch.nn.functional.mse_loss
    need = steps * batch
    # small data means few steps per epoch: ``min_steps`` keeps the number of updates sensible
    epochs = max(int(epochs), int(np.ceil(min_steps / steps)))
    check_choice("schedule", schedule, ("constant", "cosine"))
    total, done = epochs * steps, 0
    for _ in range(epochs):
        order = np.empty((n_members, need), dtype=np.int64)
        for m, r in enumerate(rows):
            reps = int(np.ceil(need / len(r)))
            order[m] = np.concatenate([r[rng.permutation(len(r))] for _ in range(reps)])[:need]
        order_t = torch.from_numpy(order.reshape(n_members, steps, batch)).to(target.device)
        for s in range(steps):
            if schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = lr * 0.5 * (1.0 + np.cos(np.pi * done / total))
                done += 1
            idx = order_t[:, s]
            pred = forward(params, *(x[idx] for x in inputs))
            obj = (
                loss_fn(pred, target[idx])
                if callable(loss)
                else loss_fn(pred, target[idx], reduction="sum")
            ) / batch
            if l1_params:
                obj = obj + l1 * sum(p.abs().sum() for p in l1_params)
            opt.zero_grad(set_to_none=True)
            obj.backward()
            opt.step()
    for p in leaves:
        p.requires_grad_(False)


def predict_members(
    params: dict[str, Any], forward: Callable[..., Any], inputs: tuple[Any, ...], chunk: int = 8192
) -> np.ndarray:
    """(members, n) predictions of all members on all rows (inputs of shape (n, ...))."""
    import torch

    n_members = next(iter(params.values())).shape[0]
    n = inputs[0].shape[0]
    out = []
    with torch.no_grad():
        for start in range(0, n, chunk):
            part = [x[start : start + chunk] for x in inputs]
            part = [x.unsqueeze(0).expand(n_members, *x.shape) for x in part]
            out.append(forward(params, *part).cpu().numpy())
    return np.concatenate(out, axis=1) if out else np.zeros((n_members, 0))


class TorchEnsemble(SideFeatures, Predictor):
    """Shared fit/predict of the torch ensembles (MLP, LSTM, GIN): members batched, params kept as numpy.

    Subclasses define ``_inputs(idx)`` (numpy model inputs), ``_init(gen, dims)`` (parameter dict of
    tensors with a leading member dim) and ``_forward(params, *inputs)``. Learned parameters are
    stored as numpy arrays, so pickles do not depend on a device; ``warm_start`` continues training the
    previous members on the new data for ``warm_epochs`` (the cheap per-step refit for search strategies).
    """

    default_scheme: ClassVar[str] = "kfold"
    losses: ClassVar[tuple[str, ...]] = ("mse", "mae")

    def _common(self) -> None:
        self.n_members_ = check_number("n_members", self.n_members, low=1, high=100, integer=True)
        check_number("epochs", self.epochs, low=1, high=100000, integer=True)
        check_number("batch_size", self.batch_size, low=1, high=1_000_000, integer=True)
        check_number("lr", self.lr, low=1e-8, high=10.0)
        check_choice("members", self.members, ("all", "kfold", "bootstrap"))
        check_choice("loss", self.loss, self.losses)
        check_number("warm_epochs", self.warm_epochs, low=1, high=100000, integer=True)
        check_number(
            "min_steps", getattr(self, "min_steps", 0), low=0, high=10_000_000, integer=True
        )

    @abstractmethod
    def _inputs(self, idx: np.ndarray) -> tuple[np.ndarray, ...]: ...

    @abstractmethod
    def _init(self, gen: Any, dims: dict[str, int], device: str) -> dict[str, Any]: ...

    @abstractmethod
    def _forward(self, params: dict[str, Any], *inputs: Any) -> Any: ...

    def _transform(self, y: np.ndarray) -> TargetTransform:
        return TargetTransform(self.target, y)

    def _dims(self, inputs: tuple[np.ndarray | None, ...]) -> dict[str, int]:
        """Input widths the network needs; the last input is the side-feature matrix (or None)."""
        return {"side": 0 if inputs[-1] is None else int(inputs[-1].shape[1])}

    def _tensors(self, inputs: tuple[np.ndarray | None, ...], device: str) -> tuple[Any, ...]:
        import torch

        out = []
        for x in inputs:
            if x is None:
                x = np.zeros((len(inputs[0]), 0), dtype=np.float32)
            t = torch.from_numpy(np.ascontiguousarray(x))
            out.append(t.to(device) if t.dtype == torch.int64 else t.float().to(device))
        return tuple(out)

    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> TorchEnsemble:
        import torch

        idx, y = self._check_xy(archs, y)
        self._common()
        device = torch_device(self.device)
        rng = np.random.default_rng(self.seed)
        warm = bool(self.warm_start) and getattr(self, "fitted_", False)
        if not warm:
            self.target_ = self._transform(y)
        z = self.target_.forward(y)
        inputs = self._inputs(idx)
        rows = member_rows(len(idx), self.n_members_, self.members, rng)
        with torch_session(self._threads()):
            gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
            if warm:
                params = {k: torch.from_numpy(v.copy()).to(device) for k, v in self.params_.items()}
                params = self._warm_params(params, device)
                epochs = int(self.warm_epochs)
            else:
                params = self._init(gen, self._dims(inputs), device)
                epochs = int(self.epochs)
            tensors = self._tensors(inputs, device)
            target = torch.from_numpy(z.astype(np.float32)).to(device)
            train_members(
                params,
                self._forward,
                tensors,
                target,
                rows,
                epochs=epochs,
                min_steps=0 if warm else int(getattr(self, "min_steps", 0)),
                batch_size=int(self.batch_size),
                lr=float(self.lr),
                rng=rng,
                betas=self._betas(),
                weight_decay=float(getattr(self, "weight_decay", 0.0)),
                l1=float(getattr(self, "l1", 0.0)),
                loss=self._loss_fn(),
                schedule=str(getattr(self, "schedule", "constant")),
            )
            self.params_ = {k: v.detach().cpu().numpy() for k, v in params.items()}
            train_pred = predict_members(params, self._forward, tensors)
        self.extra_var_, self.std_scale_ = self._calibrate(train_pred, z, rows)
        held = np.full(train_pred.shape, np.nan)
        for m, r in enumerate(rows):
            mask = np.ones(len(idx), dtype=bool)
            mask[r] = False
            held[m, mask] = train_pred[m, mask]
        self.held_out_, self.held_out_std_ = held_out(
            held, self.target_, self.extra_var_, self.std_scale_
        )
        self.n_train_ = len(idx)
        self.fitted_ = True
        return self

    def _warm_params(self, params: dict[str, Any], device: str) -> dict[str, Any]:
        """The previous members' parameters a warm refit continues from (models may refresh fixed parts)."""
        return params

    def _betas(self) -> tuple[float, float]:
        return (0.9, 0.999)

    def _loss_fn(self) -> Any:
        """What ``train_members`` minimises: a loss name, or a callable for models with their own."""
        return self.loss

    def _threads(self) -> int | None:
        n = getattr(self, "n_threads", 1)
        return None if n is None else check_number("n_threads", n, low=1, high=1024, integer=True)

    def _calibrate(
        self, pred: np.ndarray, z: np.ndarray, rows: list[np.ndarray]
    ) -> tuple[float, float]:
        """Interval calibration from out-of-fold residuals (none when every member saw every row)."""
        n = len(z)
        seen = np.zeros((len(rows), n), dtype=bool)
        for m, r in enumerate(rows):
            seen[m, r] = True
        held = ~seen
        has = held.any(axis=0)
        if has.sum() < 3:
            return 0.0, 1.0
        oof = np.where(held, pred, 0.0).sum(axis=0)[has] / held.sum(axis=0)[has]
        var = pred.var(axis=0)[has]
        return calibrate(z[has] - oof, var)

    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        import torch

        idx = self._check_predict(archs)
        if len(idx) == 0:
            return output(np.zeros(0), np.zeros(0), return_std)
        device = torch_device(self.device)
        with torch_session(self._threads()):
            params = {k: torch.from_numpy(v).to(device) for k, v in self.params_.items()}
            pred = predict_members(params, self._forward, self._tensors(self._inputs(idx), device))
        mean_z = pred.mean(axis=0)
        std_z = self.std_scale_ * np.sqrt(pred.var(axis=0) + self.extra_var_)
        mean, std = self.target_.inverse(mean_z, std_z)
        return output(mean, std, return_std)
