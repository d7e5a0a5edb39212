"""The predictor contract: sklearn-style ``fit``/``predict`` on cells, with uncertainty.

``__init__`` only stores arguments; ``fit(archs, y)`` learns (state in attributes ending in ``_``) and returns
``self``; ``predict(archs, return_std=True)`` gives mean and standard deviation in the target's units (percent
accuracy). ``archs`` is anything ``NB201Space.indices`` accepts (an int index array is the fast path).
Predictors are seeded and picklable, and every one passes the shared contract test in
``tests/test_predictor_contract.py``. Trained models also keep ``held_out_`` and ``held_out_std_``: for each
training cell a prediction (and its std) from the part of the model that did not see it (leave-one-out,
out-of-bag or out-of-fold; NaN where none exists), which the stacking ensemble uses.

Besides the contract this module holds what the trained models share, so each model file stays about its
model: the free per-cell side features (zero-cost proxies passed in as ``cell_features``, plus the cell's live
structure), target transforms, interval calibration from held-out residuals, and a small trainer for torch
ensembles whose members are batched into one network (one optimiser step trains all members at once).
Heavy libraries (torch) are imported inside the functions that need them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.space import EDGES, N_CELLS, N_EDGES, N_OPS, NB201Space

Z90 = 1.6448536269514722  # two-sided 90% normal quantile: a 90% interval is mean +- Z90 * std


class Predictor(ABC):
    name: ClassVar[str] = "base"
    summary: ClassVar[str] = ""
    needs_training: ClassVar[bool] = True  # False for training-free proxies

    def __init__(self, *, seed: int = 0, space: NB201Space | None = None) -> None:
        self.seed = seed
        self.space = space

    def _space(self) -> NB201Space:
        return self.space or NB201Space()

    def _check_xy(self, archs: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        idx = self._space().indices(archs)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(idx) != len(y):
            raise NasscoutError(f"got {len(idx)} cells but {len(y)} targets; they must match")
        if len(y) == 0:
            raise NasscoutError("cannot fit on 0 cells; give at least 1")
        if not np.all(np.isfinite(y)):
            raise NasscoutError(
                f"targets contain {np.sum(~np.isfinite(y))} NaN/inf values; all must be finite"
            )
        return idx, y

    def _check_predict(self, archs: Any) -> np.ndarray:
        """Cells to predict as indices; fails clearly when ``fit`` has not run."""
        if self.needs_training and not getattr(self, "fitted_", False):
            raise NasscoutError(f"predictor {self.name!r} is not fitted; call fit(archs, y) first")
        return self._space().indices(archs)

    @abstractmethod
    def fit(self, archs: Any, y: Any, *, curves: np.ndarray | None = None) -> Predictor:
        """Learn from cells and their targets; return self."""

    @abstractmethod
    def predict(
        self, archs: Any, *, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted target per cell (and its standard deviation when ``return_std``)."""

    def __getstate__(self) -> dict[str, Any]:
        # caches rebuilt on demand (``_cache_*``) stay out of pickles
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cache")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed})"


def check_number(
    name: str, value: Any, *, low: float, high: float = np.inf, integer: bool = False
) -> Any:
    """Validate one numeric option at fit time (one-line NasscoutError naming it); returns it typed."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value) == int(value)
    if not ok or not (low <= float(value) <= high):
        kind = "an integer" if integer else "a number"
        raise NasscoutError(f"{name}={value!r} is invalid; accepted: {kind} in [{low}, {high}]")
    return int(value) if integer else float(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise NasscoutError(
            f"{name}={value!r} is invalid; accepted: {', '.join(map(repr, choices))}"
        )
    return value


def output(
    mean: np.ndarray, std: np.ndarray | None, return_std: bool
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float64)
    if not return_std:
        return mean
    return mean, np.maximum(np.asarray(std, dtype=np.float64), 0.0)


_BLAS: Any = None


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run numpy/scipy linear algebra on one thread for the duration (then restore).

    The small dense problems here (n <= a few thousand) gain nothing from threads, and on a shared,
    busy machine a multi-threaded OpenBLAS Cholesky of 500 x 500 was measured 100x slower than one thread.
    """
    global _BLAS
    if _BLAS is None:
        import scipy.linalg  # noqa: F401  (scipy ships its own OpenBLAS: load it before looking)
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


# ---- free side features -------------------------------------------------------------------------------

_STRUCTURE: np.ndarray | None = None
STRUCTURE_COLUMNS = (
    "connected",
    "live_skip",
    "live_conv1x1",
    "live_conv3x3",
    "live_pool",
    "live_conv_weights",
    "conv_depth",
)


def _live_edges(ops: np.ndarray) -> np.ndarray:
    """(n, 6) bool: the edge carries an op that lies on some input->output path (its output matters)."""
    n = len(ops)
    on = ops != 0  # 'none' cuts the edge
    reach_in = np.zeros((n, 4), dtype=bool)
    reach_in[:, 0] = True
    for node in (1, 2, 3):
        for e, (s, d) in enumerate(EDGES):
            if d == node:
                reach_in[:, node] |= reach_in[:, s] & on[:, e]
    reach_out = np.zeros((n, 4), dtype=bool)
    reach_out[:, 3] = True
    for node in (2, 1, 0):
        for e, (s, d) in enumerate(EDGES):
            if s == node:
                reach_out[:, node] |= reach_out[:, d] & on[:, e]
    src = np.array([s for s, _ in EDGES])
    dst = np.array([d for _, d in EDGES])
    return on & reach_in[:, src] & reach_out[:, dst]


def structure_table() -> np.ndarray:
    """(15625, 7) features of each cell's live structure, free to compute (no data, no training).

    A cell computes only through edges on input->output paths; ``params``/``flops`` also count the modules
    on dead edges, which is why they rank cells worse than the live counts do. Columns: STRUCTURE_COLUMNS:
    input reaches output; live edges per op; live conv weights in units of C^2 (9 per 3x3, 1 per 1x1); the
    largest number of convolutions on one live path.
    """
    global _STRUCTURE
    if _STRUCTURE is None:
        space = NB201Space()
        ops = space.ops(space.all_indices).astype(np.int64)
        live = _live_edges(ops)
        connected = live.any(axis=1)
        counts = [((ops == op) & live).sum(axis=1) for op in (1, 2, 3, 4)]
        weights = 9 * counts[2] + counts[1]
        conv = ((ops == 2) | (ops == 3)) & live
        paths = ((3,), (0, 4), (1, 5), (0, 2, 5))
        depth = np.zeros(len(ops), dtype=np.int64)
        for path in paths:
            alive = live[:, list(path)].all(axis=1)
            depth = np.maximum(depth, np.where(alive, conv[:, list(path)].sum(axis=1), 0))
        _STRUCTURE = np.column_stack([connected, *counts, weights, depth]).astype(np.float64)
    return _STRUCTURE


def rank_gauss(values: np.ndarray) -> np.ndarray:
    """Column-wise rank -> standard normal scores over all cells; NaN stays NaN.

    Proxies live on wild scales (synflow spans 1e30, zen uses -1e8 for disconnected cells); ranks over the
    whole space are scale-free and, being computed on free data for all 15,625 cells, leak nothing.
    """
    from scipy.special import ndtri
    from scipy.stats import rankdata

    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        col = values[:, j]
        ok = np.isfinite(col)
        m = int(ok.sum())
        if m == 0:
            continue
        ranks = rankdata(col[ok], method="average")
        out[ok, j] = ndtri((ranks - 0.5) / m) if m > 1 else 0.0
    return out


def side_feature_table(cell_features: np.ndarray | None, structure: bool) -> np.ndarray | None:
    """The (15625, k) standardised side-feature table a model reads, or None when there is none.

    ``cell_features`` is indexed by NB201 index (NaN = unknown); columns are rank-gauss transformed and NaN
    becomes 0 (the median), so an unknown proxy says nothing rather than something wrong.
    """
    parts = []
    if structure:
        parts.append(structure_table())
    if cell_features is not None:
        parts.append(check_cell_features(cell_features))
    if not parts:
        return None
    table = rank_gauss(np.column_stack(parts))
    table[~np.isfinite(table)] = 0.0
    return table


def check_cell_features(cell_features: Any) -> np.ndarray:
    arr = np.asarray(cell_features, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != N_CELLS or arr.shape[1] < 1:
        raise NasscoutError(
            f"cell_features has shape {arr.shape}; accepted: ({N_CELLS}, k) with one row per NB201 index"
        )
    return arr


def consensus_score(cell_features: np.ndarray | None) -> np.ndarray:
    """(15625,) data-free prior score: the mean rank-gauss score of the free proxies, higher = better.

    The columns are the given ``cell_features`` (higher = better by the proxies' contract) and the live conv
    weights of the cell's structure (the parameter count of what the cell computes). Equal weights, so
    nothing is learned from accuracies: on NB201 CIFAR-10 this consensus of params, flops, zen, synflow,
    jacov and live weights has Kendall tau 0.64 with accuracy, better than any single proxy but jacov.
    """
    live = structure_table()[:, STRUCTURE_COLUMNS.index("live_conv_weights")][:, None]
    cols = (
        live
        if cell_features is None
        else np.column_stack([check_cell_features(cell_features), live])
    )
    scores = rank_gauss(cols)
    known = np.isfinite(scores)
    out = np.where(known, scores, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1)
    return out


class SideFeatures:
    """Mixin: lazily built, cached (never pickled) side-feature table from ``cell_features``/``structure``."""

    cell_features: np.ndarray | None
    structure: bool

    def _side(self, idx: np.ndarray) -> np.ndarray | None:
        key = "_cache_side"
        table = self.__dict__.get(key)
        if table is None and (self.cell_features is not None or self.structure):
            table = side_feature_table(self.cell_features, self.structure)
            self.__dict__[key] = table
        return None if table is None else table[idx]

    def _consensus(self, idx: np.ndarray) -> np.ndarray:
        table = self.__dict__.get("_cache_consensus")
        if table is None:
            table = self.__dict__["_cache_consensus"] = consensus_score(self.cell_features)
        return table[idx]


# ---- targets --------------------------------------------------------------------------------------------

TARGETS = ("identity", "log-error")


class TargetTransform:
    """Standardised model space for targets in percent, and the way back.

    ``log-error`` models log(100 - accuracy): errors of good cells spread out and the 10%-accuracy cells of
    disconnected networks stop dominating the scale; the way back is monotone, so rankings are untouched.
    """

    def __init__(self, kind: str, y: np.ndarray) -> None:
        self.kind = check_choice("target", kind, TARGETS)
        z = self._forward(y)
        self.mu = float(np.mean(z))
        sd = float(np.std(z))
        self.sd = sd if sd > 1e-12 else 1.0

    def _forward(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "log-error":
            return np.log(np.maximum(100.0 - y, 1e-2))
        return y

    def forward(self, y: np.ndarray) -> np.ndarray:
        return (self._forward(y) - self.mu) / self.sd

    def inverse(
        self, mean_z: np.ndarray, std_z: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Model-space (mean, std) -> percent (point prediction, std).

        For ``log-error`` the point prediction is the median 100 - exp(m) (monotone in m, so rankings are
        the model's) and the std is the log-normal one.
        """
        m = np.asarray(mean_z) * self.sd + self.mu
        s = np.zeros_like(m) if std_z is None else np.asarray(std_z) * self.sd
        if self.kind == "identity":
            return m, s
        s2 = np.minimum(s**2, 50.0)
        std = np.exp(m) * np.sqrt(np.exp(s2) * np.expm1(s2))
        return 100.0 - np.exp(m), std


# ---- interval calibration -----------------------------------------------------------------------------


def calibrate(
    residuals: np.ndarray, variance: np.ndarray, level: float = 0.9
) -> tuple[float, float]:
    """(extra variance, scale) so that std = scale * sqrt(variance + extra) covers ``level`` of residuals.

    Ensembles of trees or networks can be over- or under-confident; held-out (out-of-bag / out-of-fold)
    residuals say which. The extra variance is the ``level`` quantile, over rows, of the variance each row
    would need to be covered (so members that agree on a wrong value still get an honest interval); the
    scale then shrinks intervals that the members' spread alone made too wide. Both are set on the held-out
    rows, so the interval is calibrated there by construction, and robust to the few huge misses of
    disconnected cells.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    ok = np.isfinite(residuals) & np.isfinite(variance)
    if ok.sum() < 3:
        return (float(np.mean(residuals[ok] ** 2)) if ok.any() else 0.0), 1.0
    z = float(np.sqrt(2.0) * _erfinv(level))
    r, v = residuals[ok], variance[ok]
    extra = float(max(np.quantile((r / z) ** 2 - v, level), 0.0))
    sd = np.sqrt(v + extra)
    if np.all(sd > 0):
        scale = float(np.quantile(np.abs(r) / sd, level) / z)
        return extra, float(min(max(scale, 1e-3), 1.0))
    return extra, 1.0


def held_out(
    pred: np.ndarray, target: TargetTransform, extra: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per training row, (mean, std) in percent of the members that did not see it (NaN if all saw it).

    ``pred`` is (members, rows) in model space with NaN where a member saw the row; the std is the
    calibrated one (``scale * sqrt(spread + extra)``). Predictors keep these as ``held_out_`` and
    ``held_out_std_``: honest predictions on their own training cells, which the stacking ensemble weighs
    and calibrates its members by.
    """
    seen = np.isfinite(pred)
    count = seen.sum(axis=0)
    safe = np.maximum(count, 1)
    mean_z = np.where(seen, pred, 0.0).sum(axis=0) / safe
    var_z = np.where(seen, (pred - mean_z) ** 2, 0.0).sum(axis=0) / safe
    mean, std = target.inverse(mean_z, scale * np.sqrt(var_z + extra))
    return np.where(count > 0, mean, np.nan), np.where(count > 0, std, np.nan)


def _erfinv(x: float) -> float:
    from scipy.special import erfinv

    return float(erfinv(x))


# ---- torch ensembles ------------------------------------------------------------------------------------


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
) -> None:
    """Train all members' parameters (leading dim = member) in place, each on its own rows and batches.

    ``forward(params, *batch_inputs) -> (members, batch)`` where every batch input has shape (members,
    batch, ...). Members never share data within a step, and Adam is elementwise, so this equals training
    the members one by one, only several times faster on small networks. ``loss`` is 'mse', 'mae' or a
    callable ``(pred, target) -> summed loss`` over (members, batch) tensors (e.g. a ranking loss).
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
    for _ in range(epochs):
        order = np.empty((n_members, need), dtype=np.int64)
        for m, r in enumerate(rows):
            reps = int(np.ceil(need / len(r)))
            order[m] = np.concatenate([r[rng.permutation(len(r))] for _ in range(reps)])[:need]
        order_t = torch.from_numpy(order.reshape(n_members, steps, batch)).to(target.device)
        for s in range(steps):
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


__all__ = [
    "N_EDGES",
    "N_OPS",
    "Predictor",
    "SideFeatures",
    "TargetTransform",
    "TorchEnsemble",
    "Z90",
    "calibrate",
    "output",
    "side_feature_table",
    "structure_table",
]
