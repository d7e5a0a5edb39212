"""Real learning curves by name, for evaluating extrapolators (``nasscout curves eval --source``).

=============  ==================================================================================  ==========
name           what                                                                                axis
=============  ==================================================================================  ==========
fmnist-mini    our 200 NB201 cells x 20 epochs on Fashion-MNIST (``datasets/nb201-fmnist-mini.h5``)  epoch
fmnist-long    our NB201 cells x 50 epochs, every seed's curve (``datasets/nb201-fmnist-long.h5``)  epoch
nats-sample    the 3 real NATS-Bench cells x 3 datasets x 3 seeds, 200 epochs, through our importer  epoch
lcdb           LCDB 1.0 curves over training-set size, a seeded subset (see ``LCDB_*``)            train size
FILE.h5        any nasscout store with per-epoch curves (e.g. your ``nasscout data import`` file)    epoch
=============  ==================================================================================  ==========

A store yields, per dataset and recorded seed, every curve observed at all epochs of its longest schedule:
``valid_acc``, or ``valtest_acc`` where NATS scored x-valid only after the last epoch (cifar100 and
ImageNet16-120 at 200 epochs); ``train_loss`` where recorded; features = the space's one-hot encoding
(plus a one-hot of the dataset when there are several). ``groups`` ties the curves of one cell (all seeds
and datasets) together, so an evaluation never tests on a cell it trained on. Imported and extracted data
are cached under ``$NASSCOUT_HOME`` like other built benchmark data; public files are found the way
``surrogate.sources`` finds them (``$NASSCOUT_DATA_SOURCES``, else ``../shared/data``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from predictors.curves.base import Curves
from surrogate.errors import NasscoutError
from surrogate.sources import REPO_ROOT, nasscout_home, source_roots

EPOCH, TRAIN_SIZE = "epoch", "training-set size"
NATS_DIR = ("nats_tss_sample", "NATS-tss-v1_0-3ffb9-simple")
LCDB_FILE = ("lcdb", "database-accuracy.csv.gz")
# LCDB subset: the first split (outer_seed 0, inner_seed 0) of every (dataset, learner) pair whose curve has
# all 15 anchors 16 .. 2048 (powers of sqrt 2); LCDB_CURVES of them drawn with default_rng(LCDB_SEED).
LCDB_ANCHORS = (16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724, 1024, 1448, 2048)
LCDB_CURVES = 400
LCDB_SEED = 0
LCDB_CACHE_VERSION = 1


@dataclass(frozen=True)
class CurveSource:
    """Complete curves of one source, with how they group and what their axis is."""

    name: str
    axis: str  # EPOCH or TRAIN_SIZE
    curves: Curves  # (n, T), every curve observed at all T points
    groups: np.ndarray  # (n,) int: curves sharing a group are split together
    x: np.ndarray  # (T,) the axis value of each column (epochs 1..T, or training-set sizes)
    labels: tuple[str, ...]  # one short label per curve, for plots
    description: str

    @property
    def target(self) -> int:
        return self.curves.n_epochs


def _find_shared(parts: tuple[str, ...]) -> Path:
    for root in source_roots():
        cand = root.joinpath(*parts)
        if cand.exists():
            return cand
    where = ", ".join(str(r) for r in source_roots())
    raise NasscoutError(
        f"{'/'.join(parts)} not found in {where}; set NASSCOUT_DATA_SOURCES to the folder that holds it"
    )


def _pick_metric(bench, ds: str, fid: int) -> str | None:
    have = bench.curve_metrics(ds, fid)
    for m in ("valid_acc", "valtest_acc"):
        if m in have:
            c = bench.curves(bench.cells_for(ds), dataset=ds, fidelity=fid, metric=m, seed=None)
            if np.isfinite(c).all(axis=1).any():
                return m
    return None


def from_store(path: str | os.PathLike, name: str | None = None) -> CurveSource:
    """Every complete curve of a nasscout store (all datasets of the longest schedule, every seed)."""
    from surrogate.tabular import TabularBenchmark

    path = Path(path).expanduser()
    if not path.is_file():
        raise NasscoutError(
            f"curve source {str(path)!r} is not a file; accepted: {', '.join(SOURCES)} or a nasscout .h5 file"
        )
    bench = TabularBenchmark.open(path)
    plans = []
    for ds in bench.datasets:
        fids = [f for f in bench.fidelities_for(ds) if bench.curve_metrics(ds, f)]
        if fids:
            metric = _pick_metric(bench, ds, max(fids))
            if metric is not None:
                plans.append((ds, max(fids), metric))
    if not plans:
        raise NasscoutError(
            f"{path} holds no complete per-epoch accuracy curves; accepted: a store with curves"
        )
    T = max(f for _, f, _ in plans)
    skipped = [ds for ds, f, _ in plans if f != T]
    plans = [p for p in plans if p[1] == T]
    rows: dict[str, list] = {"v": [], "loss": [], "cell": [], "ds": [], "label": []}
    for d, (ds, fid, metric) in enumerate(plans):
        cells = bench.cells_for(ds)
        for seed in bench.seeds(ds, fid):
            v = bench.curves(cells, dataset=ds, fidelity=fid, metric=metric, seed=seed)
            if "train_loss" in bench.curve_metrics(ds, fid):
                loss = bench.curves(cells, dataset=ds, fidelity=fid, metric="train_loss", seed=seed)
            else:
                loss = np.full_like(v, np.nan)
            ok = np.isfinite(v).all(axis=1)
            rows["v"].append(v[ok])
            rows["loss"].append(loss[ok])
            rows["cell"].append(cells[ok])
            rows["ds"].append(np.full(int(ok.sum()), d))
            rows["label"] += [f"{ds} cell {c} seed {seed}" for c in cells[ok]]
    values = np.concatenate(rows["v"])
    if len(values) < 2:
        raise NasscoutError(f"{path} holds {len(values)} complete curve(s); accepted: at least 2")
    cell, dsi = np.concatenate(rows["cell"]), np.concatenate(rows["ds"])
    loss = np.concatenate(rows["loss"])
    feats = bench.space.encode(cell, "onehot").astype(np.float64).reshape(len(cell), -1)
    if len(plans) > 1:
        feats = np.hstack([feats, np.eye(len(plans))[dsi]])
    metric = bench.metric(plans[0][0])
    bounds = (0.0, 100.0) if "%" in metric.name else _data_bounds(values)
    curves = Curves(
        values,
        bounds=bounds,
        higher_is_better=metric.higher_is_better,
        train_loss=None if np.isnan(loss).all() else loss,
        features=feats,
    )
    used = ", ".join(f"{ds} ({m})" for ds, _, m in plans)
    note = f"; skipped {', '.join(skipped)} (other schedule lengths)" if skipped else ""
    return CurveSource(
        name=name or path.name,
        axis=EPOCH,
        curves=curves,
        groups=cell.astype(np.int64),
        x=np.arange(1, T + 1, dtype=np.float64),
        labels=tuple(rows["label"]),
        description=f"{bench.name}: {len(values)} curves of {len(np.unique(cell))} cells x {T} epochs, "
        f"{used}{note}",
    )


def _data_bounds(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.05 * max(hi - lo, 1e-9)
    return lo - pad, hi + pad


def _fmnist(file: str) -> Callable[[], CurveSource]:
    def load() -> CurveSource:
        path = REPO_ROOT / "datasets" / file
        if not path.is_file():
            raise NasscoutError(
                f"{path} is missing; it is part of the nasscout repository (git checkout)"
            )
        return from_store(path, name=file.removesuffix(".h5").replace("nb201-", ""))

    return load


def nats_sample() -> CurveSource:
    """The NATS-Bench three-cell sample, imported once with our importer and cached like built data."""
    from surrogate.import_nats import import_nats_tss
    from surrogate.sources import benchmark_cache

    src = _find_shared(NATS_DIR)
    cache = benchmark_cache("nats-tss-sample")
    if not cache.is_file():
        import_nats_tss(src, cache, hp=("200",), curves=["valid_acc", "valtest_acc", "train_loss"])
    out = from_store(cache, name="nats-sample")
    return CurveSource(
        **{**out.__dict__, "description": f"NATS-Bench sample ({src}): {out.description}"}
    )


def _lcdb_cache() -> Path:
    return nasscout_home() / "curves" / f"lcdb-v{LCDB_CACHE_VERSION}-{LCDB_CURVES}-{LCDB_SEED}.npz"


def _build_lcdb(dest: Path) -> None:
    import pandas as pd

    from surrogate.atomic import atomic_path

    src = _find_shared(LCDB_FILE)
    cols = ["openmlid", "learner", "size_train", "outer_seed", "inner_seed", "score_valid"]
    df = pd.read_csv(src, usecols=cols)
    df = df[(df.outer_seed == 0) & (df.inner_seed == 0) & df.size_train.isin(LCDB_ANCHORS)]
    table = df.pivot_table(
        index=["openmlid", "learner"], columns="size_train", values="score_valid", aggfunc="mean"
    )
    table = table.reindex(columns=list(LCDB_ANCHORS)).dropna()
    pool = len(table)
    rng = np.random.default_rng(LCDB_SEED)
    pick = np.sort(rng.choice(len(table), size=min(LCDB_CURVES, len(table)), replace=False))
    table = table.iloc[pick]
    learners = sorted(df.learner.unique())
    ids = np.asarray(table.index.get_level_values(0), dtype=np.int64)
    lrn = np.asarray(table.index.get_level_values(1)).astype(str)
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                values=table.to_numpy(np.float64),
                openmlid=ids,
                learner=lrn,
                learners=np.asarray(learners),
                anchors=np.asarray(LCDB_ANCHORS, dtype=np.float64),
                pool=np.int64(pool),
            )


def lcdb() -> CurveSource:
    """A seeded subset of LCDB 1.0 (accuracy over training-set size), extracted once and cached."""
    cache = _lcdb_cache()
    if not cache.is_file():
        _build_lcdb(cache)
    with np.load(cache, allow_pickle=False) as z:
        values, ids, lrn = z["values"], z["openmlid"], z["learner"]
        learners, anchors, pool = list(z["learners"]), z["anchors"], int(z["pool"])
    onehot = np.eye(len(learners))[[learners.index(a) for a in lrn]]
    short = [a.rsplit(".", 1)[-1] for a in lrn]
    return CurveSource(
        name="lcdb",
        axis=TRAIN_SIZE,
        curves=Curves(values, bounds=(0.0, 1.0), features=onehot),
        groups=ids,
        x=anchors,
        labels=tuple(f"openml {i} {s}" for i, s in zip(ids, short, strict=True)),
        description=(
            f"LCDB 1.0 validation accuracy over training-set size ({int(anchors[0])}..{int(anchors[-1])}, "
            f"{len(anchors)} anchors), {len(values)} (dataset, learner) curves of {len(np.unique(ids))} "
            f"OpenML datasets (outer/inner seed 0; drawn with seed {LCDB_SEED} from {pool:,} complete ones); the axis is training-set "
            "size, not epochs; features = the learner one-hot; no training loss"
        ),
    )


SOURCES: dict[str, Callable[[], CurveSource]] = {
    "fmnist-mini": _fmnist("nb201-fmnist-mini.h5"),
    "fmnist-long": _fmnist("nb201-fmnist-long.h5"),
    "nats-sample": nats_sample,
    "lcdb": lcdb,
}


def load_source(spec: str) -> CurveSource:
    """A named source, or a nasscout .h5 file by path; anything else is one clear error."""
    if spec in SOURCES:
        return SOURCES[spec]()
    if spec.endswith(".h5") or Path(spec).expanduser().is_file():
        return from_store(spec)
    raise NasscoutError(
        f"unknown curve source {spec!r}; accepted: {', '.join(SOURCES)}, or a nasscout .h5 file"
    )
