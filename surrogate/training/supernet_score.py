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

Scores are cached next to the supernet file in ``FILE.scores.npz`` (plain arrays, loaded with
``allow_pickle=False``), keyed by the supernet file's SHA-256 and the scoring settings: a retrained file or
other settings start a new cache, and asking again for cells already scored costs nothing. Each cell also
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
CACHE_VERSION = 1


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


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def score_cells(
    sw: Any,
    cells: Any,
    settings: ScoreSettings = ScoreSettings(),
    *,
    chunk: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, scores, seconds) for ``cells`` on ``SharedWeights`` ``sw``; seconds are per scored cell."""
    settings.check()
    idx = _SPACE.indices(cells)
    targets = _SPACE.canonical_indices(idx) if settings.per_class else idx
    todo, inverse = np.unique(targets, return_inverse=True)
    scores, seconds = np.empty(len(todo)), np.empty(len(todo))
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        t0 = time.perf_counter()
        scores[start : start + len(part)] = sw.score(
            part.tolist(),
            recal_batches=int(settings.recal_batches),
            split=settings.split,
            max_images=settings.eval_images,
        )
        seconds[start : start + len(part)] = (time.perf_counter() - t0) / len(part)
        if on_progress is not None:
            on_progress(len(part), len(todo))
    return idx, scores[inverse], seconds[inverse]


class ScoreCache:
    """Scores of one supernet file under one ``ScoreSettings``, kept in ``FILE.scores.npz``."""

    def __init__(self, supernet: str | os.PathLike, settings: ScoreSettings) -> None:
        self.supernet = Path(supernet)
        self.path = self.supernet.with_name(self.supernet.name + ".scores.npz")
        self.settings = settings.check()
        self.key = {
            "version": CACHE_VERSION,
            "supernet_sha256": file_sha256(self.supernet),
            "settings": settings.to_json(),
        }
        self.score = np.full(_SPACE.n_cells, np.nan)
        self.seconds = np.full(_SPACE.n_cells, np.nan)
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        try:
            with np.load(self.path, allow_pickle=False) as z:
                key = json.loads(str(z["key"]))
                cells, score, seconds = z["cells"], z["score"], z["seconds"]
        except (OSError, ValueError, KeyError, EOFError, json.JSONDecodeError):
            return  # a damaged or foreign cache is only a cache: it is rebuilt
        if key != self.key or not (cells.shape == score.shape == seconds.shape):
            return  # another training of the file, or other settings
        ok = (cells >= 0) & (cells < _SPACE.n_cells)
        self.score[cells[ok]], self.seconds[cells[ok]] = score[ok], seconds[ok]

    def known(self) -> np.ndarray:
        return np.flatnonzero(np.isfinite(self.score))

    def add(self, idx: np.ndarray, score: np.ndarray, seconds: np.ndarray) -> None:
        self.score[idx], self.seconds[idx] = score, seconds
        if self.settings.per_class:  # every member of a scored class is known too
            classes = _SPACE.class_ids
            per_class = np.full(int(classes.max()) + 1, np.nan)
            per_sec = np.full_like(per_class, np.nan)
            per_class[classes[idx]], per_sec[classes[idx]] = score, seconds
            fill = np.isnan(self.score) & np.isfinite(per_class[classes])
            self.score[fill], self.seconds[fill] = per_class[classes][fill], per_sec[classes][fill]

    def save(self) -> None:
        from surrogate.atomic import atomic_write

        cells = self.known()
        buf = io.BytesIO()
        np.savez(
            buf,
            key=np.array(json.dumps(self.key, sort_keys=True)),
            cells=cells,
            score=self.score[cells],
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
            got, score, seconds = score_cells(sw, part, settings, on_progress=on_progress)
            cache.add(got, score, seconds)
            cache.save()
    elif on_start is not None:
        on_start(0)
    return idx, cache.score[idx].copy(), cache.seconds[idx].copy()
