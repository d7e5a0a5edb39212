"""Image datasets for training, loaded through torchvision and held in memory as small tensors.

Fashion-MNIST is found offline: torchvision wants the four IDX files *uncompressed* in
``root/FashionMNIST/raw/``, so the gzipped files of the Debian package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist``) or of ``../shared/data/fashion_mnist`` are gunzipped once into
``$NASSCOUT_HOME/data``. CIFAR-10/100 are read from ``$NASSCOUT_HOME/data`` and downloaded by torchvision there
on machines with internet (``NASSCOUT_OFFLINE=1`` forbids that).

Splits are fixed by the preset's ``split_seed`` alone, so every cell and every training seed sees the same
validation images: the validation set is drawn from the official training set, the test set is the official
test set (or a fixed subset of it). Images stay in [0, 1]; augmentation (random crop of the zero-padded image,
horizontal flip) runs on whole batches as tensor ops drawn from a ``torch.Generator``, which is the torchvision
``RandomCrop(padding) + RandomHorizontalFlip`` recipe without per-image PIL work, and normalisation by the
training split's channel mean and std follows, as in NB201.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import NasscoutError
from surrogate.sources import nasscout_home, source_roots

# canonical name -> (torchvision class, classes, channels, native side)
DATASETS: dict[str, tuple[str, int, int, int]] = {
    "fashion-mnist": ("FashionMNIST", 10, 1, 28),
    "cifar10": ("CIFAR10", 10, 3, 32),
    "cifar100": ("CIFAR100", 100, 3, 32),
}
ALIASES = {
    "fashion-mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar100": "cifar100",
    "cifar-100": "cifar100",
}
TORCHVISION_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
FMNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


def canonical_dataset(name: str) -> str:
    """The canonical training-dataset name, or a one-line error listing the accepted ones."""
    from surrogate.training.userdata import canonical_user_dataset, is_user_dataset

    if is_user_dataset(name):
        return canonical_user_dataset(name)
    key = str(name).lower()
    if key not in ALIASES:
        raise NasscoutError(
            f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}, or npz:PATH (your own images)"
        )
    return ALIASES[key]


def dataset_info(name: str) -> tuple[str, int, int, int]:
    """(loader, classes, channels, native side) of a built-in dataset or an ``npz:`` file."""
    from surrogate.training.userdata import is_user_dataset, user_dataset_info

    name = canonical_dataset(name)
    return user_dataset_info(name) if is_user_dataset(name) else DATASETS[name]


def data_root() -> Path:
    return nasscout_home() / "data"


def _fmnist_sources() -> list[Path]:
    return [DEBIAN_FMNIST] + [r / "fashion_mnist" for r in source_roots()]


def prepare_fashion_mnist(root: Path) -> Path:
    """Gunzip Fashion-MNIST into ``root/FashionMNIST/raw`` from an offline copy (atomic per file)."""
    raw = root / "FashionMNIST" / "raw"
    if all((raw / f).is_file() for f in FMNIST_FILES):
        return root
    for src in _fmnist_sources():
        if all((src / f"{f}.gz").is_file() or (src / f).is_file() for f in FMNIST_FILES):
            raw.mkdir(parents=True, exist_ok=True)
            for f in FMNIST_FILES:
                if (raw / f).is_file():
                    continue
                tmp = raw / f".{f}.{os.getpid()}.tmp"
                if (src / f).is_file():
                    shutil.copyfile(src / f, tmp)
                else:
                    with gzip.open(src / f"{f}.gz", "rb") as fin, open(tmp, "wb") as fout:
                        shutil.copyfileobj(fin, fout, 1 << 20)
                os.replace(tmp, raw / f)
            return root
    if os.environ.get("NASSCOUT_OFFLINE") == "1":
        where = ", ".join(str(p) for p in _fmnist_sources())
        raise NasscoutError(
            f"Fashion-MNIST is not available offline (looked in {where}); install it with "
            "`apt-get install dataset-fashion-mnist`, copy the four *-ubyte.gz files into one of those "
            "folders, or unset NASSCOUT_OFFLINE to let torchvision download it"
        )
    return root  # torchvision downloads it


@dataclass
class Splits:
    """Training, validation and test images (float32 in [0, 1], NCHW) with int64 labels."""

    dataset: str
    train_x: Any
    train_y: Any
    valid_x: Any
    valid_y: Any
    test_x: Any
    test_y: Any
    mean: Any  # (1, C, 1, 1) of the training split
    std: Any
    n_classes: int
    in_channels: int
    image_size: int


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with open(path, "rb") as fh:
        return np.frombuffer(fh.read(), dtype=np.uint8, offset=offset)


def _fashion_mnist(root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """The IDX files torchvision's FashionMNIST reads, parsed with numpy (uint8 NHWC, int64 labels).

    Same files, same arrays as ``torchvision.datasets.FashionMNIST(root).data`` (tests/test_training.py
    checks it), without importing torchvision, which costs each training worker 2-10 s of start-up.
    """
    raw = root / "FashionMNIST" / "raw"
    prefix = "train" if train else "t10k"
    images = _read_idx(raw / f"{prefix}-images-idx3-ubyte", 16).reshape(-1, 28, 28, 1)
    labels = _read_idx(raw / f"{prefix}-labels-idx1-ubyte", 8).astype(np.int64)
    return images, labels


def _torchvision(dataset: str, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images NHWC, int64 labels) of one official split."""
    from surrogate.training.userdata import is_user_dataset, load_user_dataset

    if is_user_dataset(dataset):
        x_train, y_train, x_test, y_test = load_user_dataset(dataset)
        return (x_train, y_train) if train else (x_test, y_test)
    if dataset == "fashion-mnist" and all(
        (root / "FashionMNIST" / "raw" / f).is_file() for f in FMNIST_FILES
    ):
        return _fashion_mnist(root, train)
    cls_name = DATASETS[dataset][0]
    offline = os.environ.get("NASSCOUT_OFFLINE") == "1"
    missing = NasscoutError(
        f"{cls_name} is not in {root} and NASSCOUT_OFFLINE=1 forbids downloading it; run once on "
        f"a machine with internet (torchvision downloads it there) and copy {root}/ over"
    )
    folder = TORCHVISION_FOLDERS.get(dataset)
    if offline and folder is not None and not (root / folder).is_dir():
        raise missing  # before importing torchvision (seconds)
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError:
        if offline:
            raise missing from None
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(30)
        try:
            ds = cls(str(root), train=train, download=True)
        except Exception as exc:  # no network, proxy, mirror down: the user must fetch it
            raise NasscoutError(
                f"{cls_name} is not in {root} and downloading it failed ({type(exc).__name__}: {exc}); "
                f"download it on a machine with internet into {root}"
            ) from None
        finally:
            socket.setdefaulttimeout(old)
    images = np.asarray(ds.data)
    if images.ndim == 3:  # grayscale N,H,W
        images = images[..., None]
    return images, np.asarray(ds.targets, dtype=np.int64)


_CACHE: dict[tuple, Splits] = {}


def load_splits(dataset: str, preset: Any) -> Splits:
    """The preset's splits of ``dataset``, built once per process (a few hundred ms for Fashion-MNIST)."""
    import torch
    import torch.nn.functional as F

    dataset = canonical_dataset(dataset)
    key = (
        dataset,
        preset.n_train,
        preset.n_valid,
        preset.n_test,
        preset.split_seed,
        preset.image_size,
    )
    if key in _CACHE:
        return _CACHE[key]
    root = data_root()
    root.mkdir(parents=True, exist_ok=True)
    if dataset == "fashion-mnist":
        prepare_fashion_mnist(root)
    x_train, y_train = _torchvision(dataset, root, train=True)
    x_test, y_test = _torchvision(dataset, root, train=False)
    n_total = len(x_train)
    n_valid = preset.n_valid
    n_train = preset.n_train if preset.n_train is not None else n_total - n_valid
    if n_valid + n_train > n_total:
        raise NasscoutError(
            f"n_train={n_train} + n_valid={n_valid} exceed the {n_total:,} training images of {dataset}; "
            "choose smaller ones (e.g. --set n_train=N --set n_valid=M)"
        )
    n_test = preset.n_test if preset.n_test is not None else len(x_test)
    if n_test > len(x_test):
        raise NasscoutError(
            f"n_test={n_test} exceeds the {len(x_test):,} test images of {dataset}; choose a smaller "
            "one (e.g. --set n_test=N)"
        )
    rng = np.random.default_rng(preset.split_seed)
    perm = rng.permutation(n_total)
    valid_idx = np.sort(perm[:n_valid])
    train_idx = np.sort(perm[n_valid : n_valid + n_train])
    test_idx = (
        np.arange(len(x_test))
        if n_test == len(x_test)
        else np.sort(rng.permutation(len(x_test))[:n_test])
    )

    def to_tensor(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
        if preset.image_size is not None and preset.image_size != x.shape[-1]:
            x = F.interpolate(
                x,
                size=(preset.image_size,) * 2,
                mode="bilinear",
                antialias=True,
                align_corners=False,
            ).clamp_(0.0, 1.0)
        return x.contiguous()

    train_x = to_tensor(x_train[train_idx])
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True)
    _, n_classes, channels, side = dataset_info(dataset)
    splits = Splits(
        dataset=dataset,
        train_x=train_x,
        train_y=torch.from_numpy(y_train[train_idx]),
        valid_x=to_tensor(x_train[valid_idx]),
        valid_y=torch.from_numpy(y_train[valid_idx]),
        test_x=to_tensor(x_test[test_idx]),
        test_y=torch.from_numpy(y_test[test_idx]),
        mean=mean,
        std=std,
        n_classes=n_classes,
        in_channels=channels,
        image_size=preset.image_size or side,
    )
    _CACHE[key] = splits
    return splits


def augment(x: Any, padding: int, flip: bool, generator: Any) -> Any:
    """Random crop of the zero-padded batch and random horizontal flip, one draw per image."""
    import torch
    import torch.nn.functional as F

    b, c, h, w = x.shape
    if padding:
        xp = F.pad(x, (padding, padding, padding, padding))
        oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
        ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
        rows = (oy[:, None] + torch.arange(h))[:, None, :, None]  # b,1,h,1
        cols = (ox[:, None] + torch.arange(w))[:, None, None, :]  # b,1,1,w
        x = xp[
            torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols
        ]
    if flip:
        mask = torch.rand(b, generator=generator) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x
