"""Score NB201 cells by their inherited supernet weights, fast enough for the whole space, with a score cache.

A cell's score is its validation accuracy (percent) with the weights it inherits from a trained supernet, after
its BatchNorm statistics are re-estimated on ``recal_batches`` fixed training batches
(``SharedWeights.score``). Three things make ``--cells all`` practical (15,625 cells at ~0.25 s each would be
over an hour on one core):

* ``per_class`` (default): one cell per NB201 isomorphism class is scored (its representative) and the score
  is given to every member (6,466 classes); members differ only in which copy of an op's weights they use;
* ``eval_images``: the first N validation images instead of all of them (the same images for every cell, so
  the ranking noise this adds is shared, not independent);
* cells are scored in chunks with one BN save/restore and one set of recalibration batches per chunk.

Scores are cached next to the supernet file in ``FILE.scores-SETTINGS.npz`` (one file per scoring settings;
plain arrays, loaded with ``allow_pickle=False``), keyed by the supernet file's SHA-256: a retrained file
starts its caches afresh, and asking again for cells already scored costs nothing. Each cell also
keeps the measured seconds its scoring took (its representative's, under ``per_class``): what a search that
evaluates cells on the supernet pays per cell.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.spaces.nb201 import NB201Space

_SPACE = NB201Space()
CACHE_VERSION = 2


@dataclass(frozen=True)
class ScoreSettings:
    """How cells are scored; every field changes the numbers, so the cache is keyed by all of them."""

    recal_batches: int = 4
    eval_images: int | None = None  # None: the whole validation split
    split: str = "valid"
    per_class: bool = True

    def check(self) -> ScoreSettings:
        r = self.recal_batches
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
            raise NasscoutError(
                f"recal_batches={r!r} is invalid; accepted: an integer >= 0 (0: no BN recalibration)"
            )
        m = self.eval_images
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1):
            raise NasscoutError(
                f"eval_images={m!r} is invalid; accepted: a positive integer or None"
            )
        if self.split not in ("valid", "test"):
            raise NasscoutError(f"unknown split {self.split!r}; accepted: valid, test")
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def tag(self) -> str:
        """Short file-name tag, e.g. ``r4-iall-valid-class``."""
        how = "class" if self.per_class else "cell"
        return f"r{self.recal_batches}-i{self.eval_images or 'all'}-{self.split}-{how}"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ScoreSettings:
        return cls(
            **{k: d[k] for k in ("recal_batches", "eval_images", "split", "per_class")}
        ).check()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _bn_layers(net: Any) -> list[Any]:
    from torch import nn

    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def score_cells(
    sw: Any,
    cells: Any,
    settings: ScoreSettings = ScoreSettings(),
    *,
    chunk: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(indices, accuracy %, validation loss, seconds per scored cell) of ``cells`` on ``SharedWeights``.

    The accuracy is exactly ``sw.score``'s (same recalibration batches, same images); the mean cross-entropy
    comes from the same forward pass (a smoother ranking signal than the accuracy of a few thousand images).
    """
    import torch
    import torch.nn.functional as F

    from surrogate.training.supernet import cell_ops

    settings.check()
    idx = _SPACE.indices(cells)
    targets = _SPACE.canonical_indices(idx) if settings.per_class else idx
    todo, inverse = np.unique(targets, return_inverse=True)
    acc, loss, seconds = np.empty(len(todo)), np.empty(len(todo)), np.empty(len(todo))
    s = sw.splits
    x, y = (s.valid_x, s.valid_y) if settings.split == "valid" else (s.test_x, s.test_y)
    if settings.eval_images is not None:
        x, y = x[: settings.eval_images], y[: settings.eval_images]
    eb = sw.preset.eval_batch_size
    xs = [(x[i : i + eb].to(sw.device) - sw._mean) / sw._std for i in range(0, len(x), eb)]
    ys = [y[i : i + eb].to(sw.device) for i in range(0, len(y), eb)]
    recal = sw.recalibration_batches(settings.recal_batches) if settings.recal_batches else []
    net, bns = sw.net, _bn_layers(sw.net)
    saved = [
        (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone(), m.momentum)
        for m in bns
    ]
    try:
        with torch.no_grad():
            for start in range(0, len(todo), chunk):
                part = todo[start : start + chunk]
                t0 = time.perf_counter()
                for k, cell in enumerate(part.tolist(), start):
                    ops = cell_ops(cell)
                    if recal:  # running statistics re-estimated for this cell (cumulative average)
                        net.train()
                        for m in bns:
                            m.reset_running_stats()
                            m.momentum = None
                        for xb in recal:
                            net(xb, ops)
                    else:  # the supernet's trained statistics
                        for m, (mean, var, tracked, _) in zip(bns, saved):
                            m.running_mean.copy_(mean)
                            m.running_var.copy_(var)
                            m.num_batches_tracked.copy_(tracked)
                    net.eval()
                    correct, total = 0, 0.0
                    for xb, yb in zip(xs, ys):
                        out = net(xb, ops)
                        correct += int((out.argmax(1) == yb).sum())
                        total += float(F.cross_entropy(out, yb, reduction="sum"))
                    acc[k], loss[k] = 100.0 * correct / len(x), total / len(x)
                seconds[start : start + len(part)] = (time.perf_counter() - t0) / len(part)
                if on_progress is not None:
                    on_progress(len(part), len(todo))
    finally:
        for m, (mean, var, tracked, momentum) in zip(bns, saved):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(tracked)
            m.momentum = momentum
    return idx, acc[inverse], loss[inverse], seconds[inverse]


class ScoreCache:
    """Scores of one supernet file under one ``ScoreSettings``, kept in ``FILE.scores.npz``."""

    def __init__(self, supernet: str | os.PathLike, settings: ScoreSettings) -> None:
        self.supernet = Path(supernet)
        self.settings = settings.check()
        self.path = self.supernet.with_name(f"{self.supernet.name}.scores-{settings.tag()}.npz")
        self.key = {
            "version": CACHE_VERSION,
            "supernet_sha256": file_sha256(self.supernet),
            "settings": settings.to_json(),
        }
        self.score = np.full(_SPACE.n_cells, np.nan)  # accuracy, percent
        self.loss = np.full(_SPACE.n_cells, np.nan)  # mean validation cross-entropy
        self.seconds = np.full(_SPACE.n_cells, np.nan)
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        try:
            with np.load(self.path, allow_pickle=False) as z:
                key = json.loads(str(z["key"]))
                cells, score, loss, seconds = z["cells"], z["score"], z["loss"], z["seconds"]
        except (OSError, ValueError, KeyError, EOFError, json.JSONDecodeError):
            return  # a damaged or foreign cache is only a cache: it is rebuilt
        if key != self.key or not (cells.shape == score.shape == loss.shape == seconds.shape):
            return  # another training of the file, or other settings
        ok = (cells >= 0) & (cells < _SPACE.n_cells)
        c = cells[ok]
        self.score[c], self.loss[c], self.seconds[c] = score[ok], loss[ok], seconds[ok]

    @classmethod
    def best_for(cls, supernet: str | os.PathLike) -> ScoreCache | None:
        """The cache of ``supernet`` (current file) holding the most cells, whatever its settings; None if
        no cell of this file was scored yet. Ties go to the default settings."""
        p = Path(supernet)
        found: list[tuple[int, int, ScoreCache]] = []
        for f in sorted(p.parent.glob(f"{p.name}.scores-*.npz")):
            try:
                with np.load(f, allow_pickle=False) as z:
                    settings = ScoreSettings.from_json(json.loads(str(z["key"]))["settings"])
            except (OSError, ValueError, KeyError, TypeError, EOFError, NasscoutError):
                continue
            cache = cls(p, settings)
            n = len(cache.known())
            if n:
                found.append((n, int(settings == ScoreSettings()), cache))
        return max(found, key=lambda x: x[:2])[2] if found else None

    def known(self) -> np.ndarray:
        return np.flatnonzero(np.isfinite(self.score))

    def add(
        self, idx: np.ndarray, score: np.ndarray, loss: np.ndarray, seconds: np.ndarray
    ) -> None:
        self.score[idx], self.loss[idx], self.seconds[idx] = score, loss, seconds
        if self.settings.per_class:  # every member of a scored class is known too
            classes = _SPACE.class_ids
            n = int(classes.max()) + 1
            fill = np.isnan(self.score) & np.isin(classes, classes[idx])
            for mine, new in ((self.score, score), (self.loss, loss), (self.seconds, seconds)):
                per_class = np.full(n, np.nan)
                per_class[classes[idx]] = new
                mine[fill] = per_class[classes[fill]]

    def save(self) -> None:
        from surrogate.atomic import atomic_write

        cells = self.known()
        buf = io.BytesIO()
        np.savez(
            buf,
            key=np.array(json.dumps(self.key, sort_keys=True)),
            cells=cells,
            score=self.score[cells],
            loss=self.loss[cells],
            seconds=self.seconds[cells],
        )
        atomic_write(self.path, buf.getvalue())


def supernet_scores(
    path: str | os.PathLike,
    cells: Any,
    settings: ScoreSettings = ScoreSettings(),
    *,
    device: str = "auto",
    threads: int = 1,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    save_every: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, scores, seconds) for ``cells`` of the supernet file at ``path``, through its score cache.

    Only cells the cache lacks are scored (the supernet is loaded only then); ``on_start(n)`` is told how
    many cells will be scored. The cache is saved every ``save_every`` scored cells, so a killed scoring
    keeps most of its work.
    """
    from surrogate.training.supernet_train import (
        check_trained,
        load_shared_weights,
        read_supernet_file,
    )

    # a foreign or untrained file is refused before anything else, even with a warm cache
    check_trained(path, read_supernet_file(path))
    idx = _SPACE.indices(cells)
    cache = ScoreCache(path, settings)
    missing = np.unique(idx[np.isnan(cache.score[idx])])
    if len(missing):
        sw, _ = load_shared_weights(path, device=device, threads=threads)
        todo = np.unique(_SPACE.canonical_indices(missing)) if settings.per_class else missing
        if on_start is not None:
            on_start(len(todo))
        for start in range(0, len(todo), save_every):
            part = todo[start : start + save_every]
            got, score, loss, seconds = score_cells(sw, part, settings, on_progress=on_progress)
            cache.add(got, score, loss, seconds)
            cache.save()
    elif on_start is not None:
        on_start(0)
    return idx, cache.score[idx].copy(), cache.seconds[idx].copy()


def supernet_losses(
    path: str | os.PathLike, cells: Any, settings: ScoreSettings = ScoreSettings(), **kw: Any
) -> np.ndarray:
    """Mean validation cross-entropy of ``cells`` with inherited weights (scored into the cache as needed)."""
    idx, _, _ = supernet_scores(path, cells, settings, **kw)
    return ScoreCache(path, settings).loss[idx].copy()
