"""`nasscout bench` and `nasscout data build` end to end, through a real subprocess."""

import json
import os
import pickle
import subprocess
import sys

import pytest

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def nasscout(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture(scope="module", autouse=True)
def built(nb201):
    return nb201  # the cache exists before the subprocesses run


def test_query_json_answers_with_the_data(merged):
    out = nasscout("bench", "query", "nb201", "--dataset", "cifar10", "--arch", EXAMPLE, "--json")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    want = merged.set_index("arch_str").loc[EXAMPLE]
    assert row["index"] == int(want["index"]) == 9930
    assert row["valid_acc"] == pytest.approx(want["cifar10_val200_mean"], abs=1e-4)
    assert row["test_acc"] is None
    assert row["params_m"] == pytest.approx(want["cifar10_params_mb"], rel=5e-6)
    assert row["train_time_s"] == pytest.approx(want["cifar10_train_time200_s"], rel=1e-5)
    assert row["latency_s"] == pytest.approx(want["cifar10_latency_s"], rel=1e-4)
    assert row["fidelity"] == 200 and row["arch"] == EXAMPLE


def test_query_by_index_seed_and_fidelity():
    out = nasscout(
        "bench",
        "query",
        "nb201",
        "--dataset",
        "cifar100",
        "--arch",
        "9930",
        "--seed",
        "1",
        "--fidelity",
        "200",
        "--json",
    )
    row = json.loads(out.stdout)
    assert row["seed"] == 1 and row["test_acc"] is not None
    text = nasscout(
        "bench", "query", "nb201", "--dataset", "imagenet", "--arch", "9930", "--fidelity", "12"
    )
    assert (
        text.returncode == 0
        and "ImageNet16-120" in text.stdout
        and "fidelity      12" in text.stdout
    )


def test_info_json_keys():
    out = nasscout("bench", "info", "nb201", "--json")
    info = json.loads(out.stdout)
    for key in ("cells", "unique_cells", "datasets", "fidelities", "fields", "sources", "best"):
        assert key in info
    assert info["cells"] == 15625 and info["unique_cells"] == 6466
    assert set(info["best"]) == {"cifar10", "cifar100", "ImageNet16-120"}


def test_list():
    out = nasscout("bench", "list")
    assert out.returncode == 0 and out.stdout.startswith("nb201")


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--dataset", "cifar10", "--arch", "|nor_conv_3x3~0|+|x~0|"], "expected 3"),
        (
            ["--dataset", "cifar10", "--arch", EXAMPLE.replace("skip_connect", "skip")],
            "unknown op 'skip'",
        ),
        (["--dataset", "cifar10", "--arch", "-3"], "index -3 out of range; accepted 0..15624"),
        (["--dataset", "cifar10", "--arch", "20000"], "index 20000 out of range"),
        (["--dataset", "svhn", "--arch", "1"], "unknown dataset 'svhn'; accepted: cifar10"),
        (["--dataset", "cifar10", "--arch", "1", "--fidelity", "50"], "unknown fidelity 50"),
        (["--dataset", "cifar10", "--arch", "1", "--seed", "9"], "unknown seed 9"),
        (["--dataset", "cifar10", "--arch", "1", "--seed", "x"], "unknown seed 'x'"),
        (["--dataset", "cifar10", "--arch", ""], "empty architecture"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    out = nasscout("bench", "query", "nb201", *args)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_seed_missing_for_this_cell(nb201):
    import numpy as np

    two = int(np.flatnonzero(nb201.n_seeds(np.arange(15625), dataset="cifar10") == 2)[0])
    out = nasscout(
        "bench", "query", "nb201", "--dataset", "cifar10", "--arch", str(two), "--seed", "2"
    )
    assert (
        out.returncode == 2
        and f"seed 2 is not recorded for cell {two}; accepted: mean, 0, 1" in out.stderr
    )


def test_unknown_benchmark_and_bad_file(tmp_path):
    out = nasscout("bench", "info", "nb999")
    assert out.returncode == 2 and "unknown benchmark 'nb999'; accepted: nb201" in out.stderr
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    out = nasscout("bench", "info", str(junk))
    assert out.returncode == 2 and "unreadable or truncated" in out.stderr


def test_corrupt_cache_is_rebuilt(tmp_path, nb201):
    home = tmp_path / "home"
    cache = home / "benchmarks" / "nb201.h5"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(nb201.path.read_bytes()[:100_000])  # truncated copy
    out = nasscout(
        "bench",
        "query",
        "nb201",
        "--dataset",
        "cifar10",
        "--arch",
        "6111",
        "--json",
        env={"NASSCOUT_HOME": str(home)},
    )
    assert out.returncode == 0, out.stderr
    assert "rebuilding it now" in out.stderr and json.loads(out.stdout)["index"] == 6111


def test_build_without_optional_sources_says_what_is_missing(tmp_path):
    env = {"NASSCOUT_DATA_SOURCES": str(tmp_path / "empty"), "NASSCOUT_HOME": str(tmp_path / "h")}
    out = nasscout("data", "build", "nb201", env=env)
    assert out.returncode == 0, out.stderr
    assert "building nb201 without 12-epoch" in out.stderr
    info = json.loads(nasscout("bench", "info", "nb201", "--json", env=env).stdout)
    assert info["fidelities"] == [200] and "12-epoch" in info["sources"]["missing"]
    q = nasscout(
        "bench", "query", "nb201", "--dataset", "cifar100", "--arch", "1", "--json", env=env
    )
    assert json.loads(q.stdout)["test_acc"] is None
    bad = nasscout(
        "bench",
        "query",
        "nb201",
        "--dataset",
        "cifar10",
        "--arch",
        "1",
        "--fidelity",
        "12",
        env=env,
    )
    assert bad.returncode == 2 and "accepted epochs: 200" in bad.stderr


def test_source_with_the_wrong_shape_is_reported(tmp_path):
    src = tmp_path / "src" / "nb201"
    src.mkdir(parents=True)
    with open(src / "constrained_tpe_nb201_metric_vals.pkl", "wb") as fh:
        pickle.dump({"cifar100": {"loss": [1.0, 2.0]}}, fh)
    env = {"NASSCOUT_DATA_SOURCES": str(tmp_path / "src"), "NASSCOUT_HOME": str(tmp_path / "h")}
    out = nasscout("data", "build", "nb201", env=env)
    assert out.returncode == 2
    assert "constrained_tpe_nb201_metric_vals.pkl has the wrong shape" in out.stderr
    assert "Traceback" not in out.stderr


def test_help_is_fast_and_light():
    code = (
        "import sys; from strategies.cli.main import cli; import surrogate.tabular; "
        "print(sorted(m for m in ('torch', 'xgboost', 'pandas', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
