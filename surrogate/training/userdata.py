"""Your own image data as a training dataset: ``npz:PATH``, one NumPy ``.npz`` file.

The file holds four arrays: ``x_train`` and ``x_test`` (uint8 images, ``N x H x W`` or ``N x H x W x C`` with C
1 or 3, square) and ``y_train`` / ``y_test`` (integer labels 0..K-1). Validation images are drawn from
``x_train`` by the preset's ``split_seed``, as for the built-in datasets, and the test set is ``x_test``. The
file is read with ``allow_pickle=False`` (it cannot run code). A run store records the file's sha256, so runs
made on other contents of the same path are never mixed.

    np.savez("mydata.npz", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    nasscout search --dataset npz:mydata.npz --set n_train=4000 --set n_valid=1000 --set n_test=1000 ...
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from surrogate.errors import NasscoutError

PREFIX = "npz:"
KEYS = ("x_train", "y_train", "x_test", "y_test")
_CACHE: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def is_user_dataset(name: object) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def canonical_user_dataset(name: str) -> str:
    """``npz:`` + the file's absolute path (the same file named twice is one dataset)."""
    path = Path(name[len(PREFIX) :]).expanduser()
    if not path.is_file():
        raise NasscoutError(
            f"dataset file {str(path)!r} does not exist; accepted: npz:PATH of a .npz holding "
            f"{', '.join(KEYS)}"
        )
    return PREFIX + str(path.resolve())


def _images(a: np.ndarray, key: str, where: str) -> np.ndarray:
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[3] not in (1, 3) or a.shape[1] != a.shape[2] or a.shape[1] < 4:
        raise NasscoutError(
            f"{where}: {key} has shape {a.shape}; accepted: N x S x S or N x S x S x C images (C 1 or 3)"
        )
    if a.dtype != np.uint8:
        raise NasscoutError(f"{where}: {key} has dtype {a.dtype}; accepted: uint8 (0-255)")
    return a


def load_user_dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train NHWC uint8, y_train int64, x_test, y_test), checked, once per process."""
    name = canonical_user_dataset(name)
    if name in _CACHE:
        return _CACHE[name]
    where = name[len(PREFIX) :]
    try:
        with np.load(where, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise NasscoutError(
                    f"{where} lacks {', '.join(missing)}; accepted: a .npz holding {', '.join(KEYS)}"
                )
            arrays = {k: f[k] for k in KEYS}
    except NasscoutError:
        raise
    except Exception as exc:  # not a zip, a pickled object array, truncated
        raise NasscoutError(
            f"{where} is not a readable .npz of plain arrays ({type(exc).__name__}); save it with "
            "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        ) from None
    xs = [_images(arrays[k], k, where) for k in ("x_train", "x_test")]
    ys = []
    for k, x in zip(("y_train", "y_test"), xs):
        y = arrays[k]
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
            raise NasscoutError(
                f"{where}: {k} has shape {y.shape} and dtype {y.dtype}; accepted: {len(x)} integer labels"
            )
        ys.append(y.astype(np.int64))
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise NasscoutError(
            f"{where}: x_train images are {xs[0].shape[1:]}, x_test {xs[1].shape[1:]}; accepted: the same"
        )
    labels = np.concatenate(ys)
    if labels.min() < 0 or len(np.unique(ys[0])) < 2:
        raise NasscoutError(f"{where}: labels must be 0..K-1 with at least two classes in y_train")
    out = (xs[0], ys[0], xs[1], ys[1])
    _CACHE[name] = out
    return out


def user_dataset_info(name: str) -> tuple[str, int, int, int]:
    """(label, classes, channels, side) like ``surrogate.training.data.DATASETS``."""
    x_train, y_train, _, y_test = load_user_dataset(name)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return ("npz", n_classes, int(x_train.shape[3]), int(x_train.shape[1]))


def user_dataset_sha256(name: str) -> str:
    h = hashlib.sha256()
    with open(canonical_user_dataset(name)[len(PREFIX) :], "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
