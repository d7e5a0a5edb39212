"""A fitted surrogate benchmark: a model's answers for every cell of a space, with learned seed noise and cost.

Layering decision (DESIGN.md asks for one, kept everywhere): the surrogate is *fitted* in ``predictors``
(:mod:`predictors.surrogate_fit`, which may use any registered predictor) and *answered* here, with no
import of ``predictors`` at all. Every space nasscout has is finite (NB201 15,625 cells, TransNAS-Bench-101
micro 4,096, NAS-Bench-Graph 26,206), so at fit time the model is evaluated once on every cell its data can
speak for, and this file format holds those answers as arrays next to the model itself. A query is then one
numpy gather (as for a table), the file loads in milliseconds whatever the model (XGBoost, GP, GIN, an
ensemble), and loading cannot run code: the header is JSON, the arrays are ``.npy`` read with
``allow_pickle=False``, and the model's own state (``predictors.state`` format, kept for provenance and
re-use by :func:`predictors.surrogate_fit.load_models`) is carried as opaque, checksummed bytes that this
module never decodes. A space too large to enumerate would need the other option (a model protocol passed
in); none exists in nasscout today.

File: ``MAGIC``, one line of JSON header (schema, source benchmark and its fingerprint, dataset, metric,
fidelities, seeds, model, training fraction, seed, versions, payload size and SHA-256), then an ``.npz``
payload: ``cells`` (answered cells), ``train_cells`` (cells the model saw) and per fidelity ``mean``,
``seeds`` (one column per virtual seed), ``cost``, the noise model and the model bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.benchmark import Metric, Records, SeedSpec, resolve_dataset
from surrogate.errors import DataError, NasscoutError
from surrogate.fitted_parts import SeedNoise
from surrogate.framed import read_framed, write_framed

MAGIC = b"NASSCOUT-SURROGATE\n"
SCHEMA = "nasscout-surrogate"
SCHEMA_VERSION = 1
STATIC = ("params_m", "latency_s", "flops_m")
FIT_HINT = "fit it again with `nasscout surrogate fit`"


def source_fingerprint(bench: Any, dataset: str) -> str:
    """SHA-256 of a benchmark dataset's cells and seed-mean values at every fidelity: which truth it is."""
    h = hashlib.sha256()
    cells = np.asarray(bench.cells_for(dataset), dtype=np.int64)
    h.update(cells.tobytes())
    for f in bench.fidelities_for(dataset):
        mean = bench.query(cells, dataset=dataset, fidelity=f, seed="mean").valid_acc
        h.update(np.int64(f).tobytes() + np.asarray(mean, dtype=np.float64).tobytes())
    return h.hexdigest()


class SurrogateBenchmark:
    """The ``Benchmark`` contract answered from a fitted model's tables (see the module docstring)."""

    kind = "surrogate"

    def __init__(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], path: Path | None = None
    ) -> None:
        from surrogate.spaces import SPACES, get_space

        where = str(path) if path else "the surrogate"
        if header.get("space") not in SPACES:
            raise DataError(
                f"{where} is for search space {header.get('space')!r}; accepted: {', '.join(SPACES)}"
            )
        self.header = header
        self.path = path
        self.name = f"surrogate:{path}" if path else "surrogate:<unsaved>"
        self.space = get_space(header["space"])
        try:
            self.datasets = (str(header["dataset"]),)
            self._metric = Metric(
                str(header["metric"]["name"]), bool(header["metric"]["higher_is_better"])
            )
            self.fidelities = tuple(int(f) for f in header["fidelities"])
            self._seeds = {
                int(f): [int(s) for s in header["seeds"][str(f)]] for f in self.fidelities
            }
            affine = header.get("test_affine")  # [a, b]: test = a + b * valid, or None
            self.test_affine = None if affine is None else [float(affine[0]), float(affine[1])]
            self.source = {k: header["source"][k] for k in ("benchmark", "dataset", "fingerprint")}
            self.model = str(header["model"])
            self.train_fraction = float(header["train_fraction"])
            self.cells = np.asarray(arrays["cells"], dtype=np.int64)
            self.train_cells = np.asarray(arrays["train_cells"], dtype=np.int64)
            n = len(self.cells)
            self._mean = {f: arrays[f"fid_{f}/mean"].astype(np.float64) for f in self.fidelities}
            self._per_seed = {
                f: arrays[f"fid_{f}/seeds"].astype(np.float64) for f in self.fidelities
            }
            self._cost = {f: arrays[f"fid_{f}/cost"].astype(np.float64) for f in self.fidelities}
            self.noise = {
                f: SeedNoise.from_arrays(arrays, f"fid_{f}/noise") for f in self.fidelities
            }
            self._static = {k: arrays[f"static/{k}"].astype(np.float64) for k in STATIC}
        except (KeyError, IndexError, ValueError, TypeError, NasscoutError) as exc:
            raise DataError(
                f"{where} is damaged ({type(exc).__name__}: {exc}); {FIT_HINT}"
            ) from None
        ok = n >= 1 and np.all(np.diff(self.cells) > 0) and self.cells[0] >= 0
        ok = ok and self.cells[-1] < self.space.n_cells and len(self.fidelities) >= 1
        ok = ok and list(self.fidelities) == sorted(set(self.fidelities))
        for f in self.fidelities:
            ok = ok and self._mean[f].shape == (n,) and self._cost[f].shape == (n,)
            ok = ok and self._per_seed[f].shape == (n, len(self._seeds[f]))
        ok = ok and all(a.shape == (n,) for a in self._static.values())
        if not ok:
            raise DataError(f"{where} is damaged (its tables do not match its header); {FIT_HINT}")
        self._pos = np.full(self.space.n_cells, -1, dtype=np.int64)
        self._pos[self.cells] = np.arange(n)
        self._arrays = arrays
        self._payload: bytes | None = (
            None  # the file's npz, when opened from one (models read lazily)
        )

    # ---- files ------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> dict[str, Any]:
        """Write header + arrays to ``path`` atomically; returns the header written."""
        arrays = {
            **self._arrays,
            **{f"fid_{f}/model": self._model_array(f) for f in self.fidelities},
        }
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        payload = buf.getvalue()
        header = {k: v for k, v in self.header.items() if not k.startswith("payload_")}
        header = write_framed(path, MAGIC, header, payload)
        self.header, self.path, self.name = header, Path(path), f"surrogate:{path}"
        return header

    @classmethod
    def open(cls, path: str | os.PathLike) -> SurrogateBenchmark:
        """Load a surrogate file (a curve surrogate's opens as :class:`CurveSurrogateBenchmark`); anything
        else (another schema, a truncated or altered copy) is one line."""
        header, payload = read_header(path)
        try:
            with np.load(io.BytesIO(payload), allow_pickle=False) as z:
                # the model bytes (most of the file) are read only when asked for (``model_bytes``)
                arrays = {k: z[k] for k in z.files if not k.endswith("/model")}
        except (
            ValueError,
            OSError,
            EOFError,
            KeyError,
        ) as exc:  # pickled object arrays end up here
            detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise DataError(
                f"{path} is refused: its tables are not plain numeric arrays ({detail}); {FIT_HINT}"
            ) from None
        if any(a.dtype.hasobject for a in arrays.values()):
            raise DataError(f"{path} is refused: it holds object arrays; {FIT_HINT}")
        klass = cls
        if "curves" in header:  # a curve surrogate (`surrogate fit --curves`): same file kind
            from surrogate.fitted_curves import CurveSurrogateBenchmark

            klass = CurveSurrogateBenchmark
        sur = klass(header, arrays, Path(path))
        sur._payload = payload
        return sur

    # ---- the Benchmark contract -------------------------------------------------------------------------
    def dataset(self, name: str) -> str:
        try:
            return resolve_dataset(name, self.datasets)
        except NasscoutError:
            raise NasscoutError(
                f"unknown dataset {name!r}; accepted: {', '.join(self.datasets)} (this surrogate was "
                f"fitted on {self.source['benchmark']} {self.datasets[0]} only)"
            ) from None

    def metric(self, dataset: str) -> Metric:
        self.dataset(dataset)
        return self._metric

    def fidelities_for(self, dataset: str) -> tuple[int, ...]:
        self.dataset(dataset)
        return self.fidelities

    def _fid(self, dataset: str, fidelity: int | None) -> int:
        ds = self.dataset(dataset)
        if fidelity is None:
            return self.fidelities[-1]
        try:
            fid = int(fidelity)
        except (TypeError, ValueError):
            fid = None
        if fid not in self.fidelities:
            accepted = ", ".join(str(f) for f in self.fidelities)
            raise NasscoutError(
                f"unknown fidelity {fidelity!r} for {ds}; accepted epochs: {accepted}"
            )
        return fid

    def seeds(self, dataset: str, fidelity: int | None = None) -> list[int]:
        return list(self._seeds[self._fid(dataset, fidelity)])

    def cells_for(self, dataset: str) -> np.ndarray:
        self.dataset(dataset)
        return self.cells

    def rows(self, archs: Any) -> tuple[np.ndarray, np.ndarray]:
        idx = self.space.indices(archs)
        pos = self._pos[idx]
        if pos.size and pos.min() < 0:
            bad = int(idx[pos < 0][0])
            raise NasscoutError(
                f"cell {bad} ({self.space.format(bad)}) is outside this surrogate: its data never trained "
                f"the ops it uses ({len(self.cells)} of {self.space.n_cells} cells answerable)"
            )
        return idx, pos

    def query(
        self, archs: Any, *, dataset: str, fidelity: int | None = None, seed: SeedSpec = None
    ) -> Records:
        fid = self._fid(dataset, fidelity)
        idx, pos = self.rows(archs)
        if seed is None or (isinstance(seed, str) and seed == "mean"):
            valid, label = self._mean[fid][pos], "mean"
        elif isinstance(seed, np.random.Generator):  # one virtual seed per cell, as a table draws
            k = len(self._seeds[fid])
            col = (seed.random(len(pos)) * k).astype(np.int64)
            valid, label = self._per_seed[fid][pos, col], "draw"
        else:
            seeds = self._seeds[fid]
            try:
                col = seeds.index(int(seed))
            except (TypeError, ValueError):
                raise NasscoutError(
                    f"unknown seed {seed!r} for {self.datasets[0]} at {fid} epochs; accepted: 'mean', or "
                    f"one of the seeds {', '.join(map(str, seeds))}"
                ) from None
            valid, label = self._per_seed[fid][pos, col], seeds[col]
        if self.test_affine is None:
            test = np.full(len(pos), np.nan)
        else:
            test = self.test_affine[0] + self.test_affine[1] * valid
        return Records(
            index=idx,
            valid_acc=valid,
            test_acc=test,
            train_time_s=self._cost[fid][pos],
            params_m=self._static["params_m"][pos],
            latency_s=self._static["latency_s"][pos],
            flops_m=self._static["flops_m"][pos],
            dataset=self.datasets[0],
            fidelity=fid,
            seed=label,
        )

    def cost(self, archs: Any, *, dataset: str, fidelity: int | None = None) -> np.ndarray:
        fid = self._fid(dataset, fidelity)
        return self._cost[fid][self.rows(archs)[1]]

    def best(
        self, dataset: str, *, metric: str = "valid_acc", fidelity: int | None = None
    ) -> tuple[int, float]:
        fid = self._fid(dataset, fidelity)
        if metric not in ("valid_acc", "test_acc"):
            raise NasscoutError(f"unknown metric {metric!r}; accepted: valid_acc, test_acc")
        values = self._mean[fid]
        if metric == "test_acc":
            if self.test_affine is None:
                raise NasscoutError(
                    f"test_acc is not modelled for {self.datasets[0]} by this surrogate"
                )
            values = self.test_affine[0] + self.test_affine[1] * values
        row = int(np.argmax(values))
        return int(self.cells[row]), float(values[row])

    # ---- beyond the contract ------------------------------------------------------------------------
    def model_bytes(self, fidelity: int) -> bytes:
        """The fitted predictor's state at ``fidelity`` (``predictors.state`` bytes; decoded only there)."""
        return self._model_array(self._fid(self.datasets[0], fidelity)).tobytes()

    def _model_array(self, fid: int) -> np.ndarray:
        key = f"fid_{fid}/model"
        if key in self._arrays:
            return self._arrays[key]
        try:
            with np.load(io.BytesIO(self._payload or b""), allow_pickle=False) as z:
                a = z[key]
        except (ValueError, OSError, EOFError, KeyError):
            raise DataError(
                f"{self.path} holds no readable model at {fid} epochs; {FIT_HINT}"
            ) from None
        if a.dtype != np.uint8 or a.ndim != 1:
            raise DataError(
                f"{self.path}: the model at {fid} epochs is not a byte array; {FIT_HINT}"
            )
        return a

    def info(self) -> dict[str, Any]:
        """The keys of ``TabularBenchmark.info`` (so ``nasscout bench info`` reads both) plus ``surrogate``."""
        h, ds = self.header, self.datasets[0]
        index, value = self.best(ds)
        src = h["source"]
        fields = [f"valid_acc@{f}" for f in self.fidelities]
        fields += [f"test_acc@{f}" for f in self.fidelities if self.test_affine is not None]
        fields += [f"train_time_s@{f}" for f in self.fidelities]
        fields += [k for k in STATIC if np.any(np.isfinite(self._static[k]))]
        return {
            "name": self.name,
            "path": str(self.path),
            "space": self.space.name,
            "arch_format": self.space.arch_format,
            "metrics": {ds: {**self._metric.to_json(), "cells": int(len(self.cells))}},
            "cost_note": "predicted by a log-linear model of the training cells' times",
            "fidelity_note": "",
            "cells": int(len(self.cells)),
            "unique_cells": int(len(np.unique(self.space.class_ids[self.cells]))),
            "datasets": [ds],
            "fidelities": list(self.fidelities),
            "seeds": {f"{ds}@{f}": self._seeds[f] for f in self.fidelities},
            "epochs": {},
            "fields": {ds: fields},
            "sources": {"fitted_on": f"{src['benchmark']} {src['dataset']} ({src['cells']} cells)"},
            "best": {
                ds: {"index": index, "arch": self.space.format(index), "valid_acc": round(value, 4)}
            },
            "created_utc": h.get("created_utc"),
            "nasscout_version": (h.get("versions") or {}).get("nasscout"),
            "surrogate": {
                "source": src,
                "model": h.get("model"),
                "model_options": h.get("model_options"),
                "train_fraction": h.get("train_fraction"),
                "train_cells": int(len(self.train_cells)),
                "seed": h.get("seed"),
                "noise": {str(f): self.noise[f].describe() for f in self.fidelities},
                "versions": h.get("versions"),
            },
        }

    def __repr__(self) -> str:
        src = self.source["benchmark"]
        return f"SurrogateBenchmark({src}/{self.datasets[0]}, model={self.model!r}, cells={len(self.cells)})"


def _foreign(p: Path, data: bytes) -> str:
    what = "not a surrogate"
    if data.startswith(b"NASSCOUT-PREDICTOR"):
        what = "a nasscout predictor file"
    elif data.startswith(b"\x89HDF"):
        what = "a benchmark table (HDF5)"
    return f"{p} is {what}, not a nasscout surrogate file; make one with `nasscout surrogate fit`"


def _check_header(p: Path, header: Any) -> None:
    schema = header.get("schema") if isinstance(header, dict) else None
    if schema != SCHEMA:
        raise DataError(f"{p} is not a nasscout surrogate file (schema {schema!r}); {FIT_HINT}")
    if header.get("schema_version") != SCHEMA_VERSION:
        raise DataError(
            f"{p} has surrogate schema version {header.get('schema_version')!r}; this nasscout reads "
            f"version {SCHEMA_VERSION}: {FIT_HINT}"
        )


def read_header(path: str | os.PathLike) -> tuple[dict[str, Any], bytes]:
    """(header, payload) of a surrogate file, checked: magic, schema, size and checksum."""
    return read_framed(
        path,
        MAGIC,
        missing="surrogate file {path!r} not found; make one with `nasscout surrogate fit`",
        foreign=_foreign,
        check_header=_check_header,
        hint=FIT_HINT,
        error=DataError,
    )
