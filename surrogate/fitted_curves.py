"""A curve surrogate: every cell's whole per-epoch validation curve, and virtual training runs of it.

The same file kind as :mod:`surrogate.fitted` (``surrogate:FILE``, one framed file, JSON header + plain
``.npz``, no pickle), with a ``curves`` section in the header. It holds per answered cell the latent numbers
of its predicted curve (:mod:`surrogate.curve_parts`: SVD coefficients or power-law parameters), the shared
arrays that read them back, the residual-curve noise pool and each cell's donor and seed order, the
predicted full-schedule training time and the static facts: about 1 MB for 15,625 cells, where the curves
themselves would be 10-20 MB. Opening rebuilds every curve with one matrix product (milliseconds), and
from then on the class is a :class:`~surrogate.fitted.SurrogateBenchmark` whose fidelities are epochs of
that one schedule (``fidelity_kind = "epochs"``, as :class:`surrogate.epochs.EpochFidelities` gives a
table): a rung's value is the curve after that epoch, its cost the share ``r / T`` of the full training
(per-epoch time is flat in our runs), so ``sh``/``hyperband`` screen on it and ``--early-stop`` reads its
curves.

Answers: ``seed="mean"`` is the predicted smooth curve (the expectation), a seed or a Generator one virtual
training run (smooth curve + a donor's residuals), drawn exactly as ``SurrogateBenchmark.query`` draws a
seed, so a trial's value and the curve the pruner watches are one run.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.benchmark import SeedSpec
from surrogate.curve_parts import CurveNoise, check_method, reconstruct
from surrogate.errors import DataError, NasscoutError
from surrogate.fitted import FIT_HINT, MAGIC, STATIC, SurrogateBenchmark
from surrogate.framed import write_framed

CURVES_VERSION = 1
COMPACT = ("cells", "train_cells", "curve/latent", "curve/center", "curve/basis", "curve/donor")
COMPACT += ("curve/perm", "curve/cost", "curve/noise/edges", "curve/noise/pool")
COMPACT += ("curve/noise/offsets",) + tuple(f"static/{k}" for k in STATIC)


class CurveSurrogateBenchmark(SurrogateBenchmark):
    """``SurrogateBenchmark`` answered from predicted learning curves (see the module docstring)."""

    fidelity_kind = "epochs"

    def __init__(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], path: Path | None = None
    ) -> None:
        where = str(path) if path else "the surrogate"
        spec = header.get("curves")
        if not isinstance(spec, dict) or spec.get("version") != CURVES_VERSION:
            version = spec.get("version") if isinstance(spec, dict) else None
            raise DataError(
                f"{where} has curve-surrogate version {version!r}; this nasscout reads version "
                f"{CURVES_VERSION}: {FIT_HINT}"
            )
        try:
            self.method = check_method(spec["method"])
            self.epochs = int(spec["epochs"])
            compact = {k: arrays[k] for k in COMPACT}
            shared = {"center": compact["curve/center"], "basis": compact["curve/basis"]}
            self.curve_noise = CurveNoise.from_arrays(compact, "curve/noise")
            mean = reconstruct(self.method, compact["curve/latent"], shared)
            runs = self.curve_noise.apply(mean, compact["curve/donor"], compact["curve/perm"])
            rungs = [int(r) for r in header["fidelities"]]
            n_seeds = len(header["seeds"][str(rungs[-1])])
        except (KeyError, IndexError, ValueError, TypeError, NasscoutError) as exc:
            raise DataError(
                f"{where} is damaged ({type(exc).__name__}: {exc}); {FIT_HINT}"
            ) from None
        n = len(compact["cells"])
        ok = mean.shape == (n, self.epochs) and runs.shape == (n, n_seeds, self.epochs)
        ok = ok and compact["curve/cost"].shape == (n,) and rungs and rungs[-1] == self.epochs
        ok = ok and 1 <= rungs[0] and np.all(np.isfinite(mean))
        if not ok:
            raise DataError(f"{where} is damaged (its curves do not match its header); {FIT_HINT}")
        self._compact = compact
        self._mean_curves, self._run_curves = mean, runs
        derived = {k: v for k, v in arrays.items() if k.endswith("/model")} | compact
        k = n_seeds
        for r in rungs:
            derived[f"fid_{r}/mean"] = mean[:, r - 1]
            derived[f"fid_{r}/seeds"] = runs[:, :, r - 1]
            derived[f"fid_{r}/cost"] = compact["curve/cost"] * (r / self.epochs)
            derived[f"fid_{r}/noise/edges"] = np.zeros(0)
            derived[f"fid_{r}/noise/pool"] = np.zeros((0, k))
            derived[f"fid_{r}/noise/offsets"] = np.zeros(2, dtype=np.int64)
        super().__init__(header, derived, path)

    # ---- files ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> dict[str, Any]:
        """Write the compact arrays (not the rebuilt curves) and the component models, atomically."""
        arrays = {**self._compact, **self._component_models()}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        header = {k: v for k, v in self.header.items() if not k.startswith("payload_")}
        header = write_framed(path, MAGIC, header, buf.getvalue())
        self.header, self.path, self.name = header, Path(path), f"surrogate:{path}"
        return header

    def _component_models(self) -> dict[str, np.ndarray]:
        keys = [f"curve/{j}/model" for j in range(int(self.header["curves"]["components"]))]
        if all(k in self._arrays for k in keys):
            return {k: self._arrays[k] for k in keys}
        try:
            with np.load(io.BytesIO(self._payload or b""), allow_pickle=False) as z:
                return {k: z[k] for k in keys}
        except (ValueError, OSError, EOFError, KeyError):
            raise DataError(f"{self.path} holds no readable component models; {FIT_HINT}") from None

    def model_bytes(self, fidelity: int) -> bytes:
        raise NasscoutError(
            f"{self.name} predicts whole curves: its models are per curve component "
            "(component_model_bytes), not per fidelity"
        )

    def component_model_bytes(self, j: int) -> bytes:
        """The predictor of latent number ``j`` (``predictors.state`` bytes; decoded only there)."""
        return self._component_models()[f"curve/{j}/model"].tobytes()

    # ---- curves ----------------------------------------------------------------------------------------------
    def curve_metrics(self, dataset: str, fidelity: int | None = None) -> tuple[str, ...]:
        self._fid(dataset, fidelity)
        return ("valid_acc",)

    def curves(
        self,
        archs: Any,
        *,
        dataset: str,
        fidelity: int | None = None,
        metric: str = "valid_acc",
        seed: SeedSpec = None,
    ) -> np.ndarray:
        """Per-epoch validation accuracy (n, r) up to rung ``fidelity``: the smooth mean or one run."""
        r = self._fid(dataset, fidelity)
        if metric != "valid_acc":
            raise NasscoutError(
                f"no {metric!r} curves in {self.name}; recorded: valid_acc (a curve surrogate predicts "
                "validation accuracy only)"
            )
        _, pos = self.rows(archs)
        if seed is None or (isinstance(seed, str) and seed == "mean"):
            return self._mean_curves[pos, :r].copy()
        k = self._run_curves.shape[1]
        if isinstance(seed, np.random.Generator):
            col = (seed.random(len(pos)) * k).astype(np.int64)
        else:
            seeds = self._seeds[r]
            try:
                col = np.full(len(pos), seeds.index(int(seed)))
            except (TypeError, ValueError):
                raise NasscoutError(
                    f"unknown seed {seed!r}; accepted: 'mean', or one of the seeds "
                    f"{', '.join(map(str, seeds))}"
                ) from None
        return self._run_curves[pos, col, :r].copy()

    def info(self) -> dict[str, Any]:
        out = super().info()
        spec = self.header["curves"]
        out["cost_note"] = (
            "full schedule predicted by a log-linear model of the training cells' times; a rung costs "
            "its share r/T"
        )
        out["fidelity_note"] = f"rungs are epochs of one {self.epochs}-epoch schedule"
        out["fields"] = {
            self.datasets[0]: [f"valid_acc@{f}" for f in self.fidelities]
            + [f"curves/valid_acc@{f}" for f in self.fidelities]
        }
        out["epochs"] = {self.datasets[0]: self.epochs}
        out["surrogate"]["noise"] = {"curves": self.curve_noise.describe()}
        out["surrogate"]["curves"] = spec
        return out

    def __repr__(self) -> str:
        return (
            f"CurveSurrogateBenchmark({self.source['benchmark']}/{self.datasets[0]}, {self.method}, "
            f"{self.epochs} epochs, cells={len(self.cells)})"
        )
