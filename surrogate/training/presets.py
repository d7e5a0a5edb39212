"""Training recipes by name: ``nb201`` (the paper's) and ``cpu-mini`` (small enough for a laptop core).

A preset fixes everything that changes a run's numbers, so a run store records the preset's full settings and
refuses runs made with other ones (results of two recipes never mix in one table).

``cpu-mini`` (measured in benchmarks/bench_trainer.py and datasets/README.md): C=8, N=1, Fashion-MNIST
resized to 16x16, 5,000 training and 2,000 validation images drawn from the official training set, 2,000
images of the official test set, batch 128, 20 epochs of NB201's optimiser (SGD Nesterov 0.9, lr 0.1 cosine,
weight decay 5e-4, random crop + flip). A typical cell (#1000) uses 36 s of CPU time for its 20 epochs on
one core (torch import and data loading included); its Fashion-MNIST accuracy is about 83 %.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from surrogate.errors import NasscoutError


@dataclass(frozen=True)
class Preset:
    """Every knob of a training run; ``None`` sizes mean "all that is left" / "the whole official set"."""

    name: str
    C: int = 16
    N: int = 5
    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.1
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    crop_padding: int = 4  # random crop of the padded image; 0 disables
    flip: bool = True
    # resize (antialiased bilinear) to this side; None keeps the native size
    image_size: int | None = None
    # training images; None = all training images outside the validation split
    n_train: int | None = None
    n_valid: int = 25_000  # validation images held out of the official training set
    n_test: int | None = None  # images of the official test set; None = all
    # fixes the validation split and the subsets: the same for every cell and seed
    split_seed: int = 0
    eval_batch_size: int = 1000

    def settings(self) -> dict[str, Any]:
        """Plain JSON-able values; two runs belong in one store exactly when these are equal."""
        return asdict(self)

    def with_overrides(self, **overrides: Any) -> Preset:
        known = {f.name for f in fields(self)}
        for key in overrides:
            if key not in known:
                raise NasscoutError(
                    f"unknown preset option {key!r}; accepted: {', '.join(sorted(known - {'name'}))}"
                )
        return check(replace(self, **overrides))


PRESETS: dict[str, Preset] = {
    # NAS-Bench-201's recipe (AutoDL-Projects configs/nas-benchmark/hyper-paras/200E.config); the validation
    # split is half of the training set, as NB201's cifar10-valid protocol.
    "nb201": Preset(name="nb201"),
    "cpu-mini": Preset(
        name="cpu-mini",
        C=8,
        N=1,
        epochs=20,
        batch_size=128,
        crop_padding=2,
        image_size=16,
        n_train=5000,
        n_valid=2000,
        n_test=2000,
        eval_batch_size=1000,
    ),
}


def _positive(p: Preset, name: str, allow_none: bool = False) -> None:
    value = getattr(p, name)
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NasscoutError(f"{name}={value!r} is invalid; accepted: a positive integer")


def check(p: Preset) -> Preset:
    """Refuse settings that cannot train (epochs <= 0, a negative rate, an image side not divisible by 4)."""
    for name in ("C", "N", "epochs", "batch_size", "eval_batch_size", "n_valid"):
        _positive(p, name)
    for name in ("n_train", "n_test", "image_size"):
        _positive(p, name, allow_none=True)
    if p.image_size is not None and p.image_size % 4:
        raise NasscoutError(
            f"image_size={p.image_size} is invalid; accepted: a multiple of 4 (two stride-2 reductions)"
        )
    for name in ("lr", "lr_min", "momentum", "weight_decay"):
        value = getattr(p, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
            raise NasscoutError(f"{name}={value!r} is invalid; accepted: a number >= 0")
    if not isinstance(p.crop_padding, int) or p.crop_padding < 0:
        raise NasscoutError(
            f"crop_padding={p.crop_padding!r} is invalid; accepted: an integer >= 0"
        )
    if not isinstance(p.split_seed, int) or p.split_seed < 0:
        raise NasscoutError(f"split_seed={p.split_seed!r} is invalid; accepted: an integer >= 0")
    return p


def get_preset(
    name: str, overrides: dict[str, Any] | None = None, *, epochs: int | None = None
) -> Preset:
    """A named preset with options replaced (``epochs=30``); unknown names list the accepted ones."""
    if name not in PRESETS:
        raise NasscoutError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    overrides = dict(overrides or {})
    if epochs is not None:
        overrides["epochs"] = epochs
    return PRESETS[name].with_overrides(**overrides) if overrides else PRESETS[name]


def preset_from_settings(settings: dict[str, Any]) -> Preset:
    """Rebuild a preset recorded in a run store (so workers and resumed runs use exactly it)."""
    known = {f.name for f in fields(Preset)}
    return check(Preset(**{k: v for k, v in settings.items() if k in known}))


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``("n_train=500", "lr=0.05")`` -> typed overrides, each value parsed as the field's type."""
    types = {f.name: f.type for f in fields(Preset)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in types or key == "name":
            accepted = ", ".join(sorted(set(types) - {"name"}))
            raise NasscoutError(
                f"cannot read preset option {item!r}; accepted: KEY=VALUE with KEY one of {accepted}"
            )
        kind = str(types[key])
        text = text.strip()
        try:
            if text.lower() == "none" and "None" in kind:
                out[key] = None
            elif kind.startswith("bool"):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                out[key] = text.lower() in ("true", "1")
            elif kind.startswith("int"):
                out[key] = int(text)
            else:
                out[key] = float(text)
        except ValueError:
            raise NasscoutError(
                f"cannot read preset option {item!r}: {text!r} is not a {kind}"
            ) from None
    return out
