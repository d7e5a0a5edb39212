"""`nasscout predictors eval|fit|rank|zerocost`, model files, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from predictors.io import load_predictor, read_cells_file, read_metadata, save_predictor
from predictors.registry import make_predictor
from strategies.cli.main import main
from surrogate.errors import NasscoutError

XGB_SMALL = ["--option", "n_members=2", "--option", "n_estimators=40"]


@pytest.fixture(scope="module", autouse=True)
def built(nb201):
    return nb201  # the benchmark cache exists before any command runs


def run(capsys, *args):
    """(exit code, stdout, stderr) of one in-process CLI call."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, needle):
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nasscout: error:"), err
    assert needle in lines[0]


@pytest.fixture(scope="module")
def xgb_model(tmp_path_factory, nb201):
    path = tmp_path_factory.mktemp("models") / "xgb.model"
    code = main(
        ["predictors", "fit", "--model", "xgb", "--train-size", "60", "--seed", "2",
         "--out", str(path), *XGB_SMALL]
    )  # fmt: skip
    assert code is None
    return path


def test_list(capsys):
    for args in (("predictors", "--list"), ("predictors", "eval", "--list")):
        code, out, _ = run(capsys, *args)
        assert code == 0
        names = [ln.split()[0] for ln in out.splitlines()]
        for name in ("xgb", "gp", "params", "flops", "zen", "synflow", "jacov"):
            assert name in names
        assert "free" in out and "trained" in out


def test_eval_json_and_files(capsys, tmp_path):
    code, out, err = run(
        capsys, "predictors", "eval", "--predictors", "params,flops", "--train-sizes", "10,20",
        "--test-size", "40", "--seeds", "2", "--out", str(tmp_path / "ev"), "--json",
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["predictor"], r["train_size"]) for r in rows] == [
        ("params", 10), ("params", 20), ("flops", 10), ("flops", 20),
    ]  # fmt: skip
    assert all(r["n_seeds"] == 2 and -1 <= r["kendalltau_mean"] <= 1 for r in rows)
    for f in (
        "scores.csv",
        "summary.json",
        "meta.json",
        "tau_vs_train_size.png",
        "scatter_flops.png",
    ):
        assert (tmp_path / "ev" / f).is_file()
    assert "params" in err  # progress lines go to stderr, the JSON alone to stdout


def test_eval_text_table(capsys):
    code, out, _ = run(
        capsys, "predictors", "eval", "--predictors", "zen", "--train-sizes", "10",
        "--test-size", "30", "--seeds", "1",
    )  # fmt: skip
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["predictor", "train", "seeds"]
    assert out.splitlines()[1].split()[:3] == ["zen", "10", "1"]


def test_fit_then_rank_whole_space(capsys, xgb_model, nb201):
    meta = read_metadata(xgb_model)
    assert meta["space"] == "nb201" and meta["predictor"] == "xgb"
    m = meta["metadata"]
    assert len(m["training_cells"]) == 60 and m["target"]["metric"] == "valid_acc"
    assert m["target"]["fidelity"] == 200 and m["provenance"]["benchmark"] == "nb201"
    assert m["cell_features"] == ["params", "flops", "zen"] and "xgboost" in meta["versions"]
    code, out, _ = run(capsys, "predictors", "rank", str(xgb_model), "--top", "5", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    means = [r["mean"] for r in rows]
    assert means == sorted(means, reverse=True)
    model = load_predictor(xgb_model)
    everything = model.predict(np.arange(15625))
    assert rows[0]["mean"] == pytest.approx(everything.max(), abs=1e-3)
    # the top cells of a 60-cell model are good cells (true accuracy well above the median)
    true = nb201.query([r["index"] for r in rows], dataset="cifar10").valid_acc
    assert np.median(true) > 85


def test_rank_given_cells_text(capsys, xgb_model, tmp_path):
    cells = tmp_path / "cells.txt"
    cells.write_text(
        "# three cells\n11472\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n6111\n"
    )
    code, out, _ = run(capsys, "predictors", "rank", str(xgb_model), "--cells", str(cells))
    assert code == 0
    lines = out.splitlines()
    assert "ranked 3 cells" in lines[0] and len(lines) == 5
    from surrogate.spaces.nb201 import NB201Space

    all_none = NB201Space().index("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert lines[-1].split()[1] == str(all_none)  # the all-`none` cell ranks last


def test_fit_on_own_cells_with_targets(capsys, tmp_path):
    f = tmp_path / "mine.csv"
    rng = np.random.default_rng(0)
    cells = rng.choice(15625, size=30, replace=False)
    f.write_text(
        "arch,valid_acc\n" + "".join(f"{c},{80 + i / 3:.2f}\n" for i, c in enumerate(cells))
    )
    out_model = tmp_path / "params.model"
    code, out, err = run(
        capsys, "predictors", "fit", "--model", "params", "--cells", str(f), "--out", str(out_model)
    )
    assert code == 0, err
    assert "fitted params on 30 cells" in out
    m = read_metadata(out_model)["metadata"]
    assert m["provenance"]["targets"] == "cells file" and m["training_cells"] == [
        int(c) for c in cells
    ]


def test_model_file_round_trip_and_damage(tmp_path, nb201):
    model = make_predictor("params").fit(np.arange(20), np.linspace(10, 90, 20))
    path = tmp_path / "m.model"
    header = save_predictor(model, path, {"note": "test"})
    back = load_predictor(path)
    assert np.array_equal(back.predict(np.arange(100)), model.predict(np.arange(100)))
    assert back.file_metadata_["metadata"] == {"note": "test"}
    data = path.read_bytes()
    cases = {
        "truncated": data[:-10],
        "cut-header": data[:30],
        "other-space": data.replace(b'"space": "nb201"', b'"space": "nb101"'),
        "schema": data.replace(b'"schema_version": 2', b'"schema_version": 9'),
        "damaged": data[:-5] + bytes(5),
        "not-a-model": b"arch,valid_acc\n1,2\n",
    }
    needles = {
        "truncated": "truncated",
        "cut-header": "truncated or damaged",
        "other-space": "search space 'nb101'",
        "schema": "schema version 9",
        "damaged": "checksum",
        "not-a-model": "not a nasscout predictor file",
    }
    for name, blob in cases.items():
        bad = tmp_path / f"{name}.model"
        bad.write_bytes(blob)
        with pytest.raises(NasscoutError, match=needles[name]) as err:
            load_predictor(bad)
        assert "\n" not in str(err.value)
    assert header["payload_bytes"] > 0


def test_cells_file_formats(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("index,acc\n5,90.5\n7,80\n")
    idx, y = read_cells_file(a)
    assert idx.tolist() == [5, 7] and y.tolist() == [90.5, 80.0]
    b = tmp_path / "b.txt"
    b.write_text(
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|\n"
    )
    idx, y = read_cells_file(b)
    assert idx.tolist() == [11472] and y is None
    c = tmp_path / "c.txt"
    c.write_text("5\nnot-a-cell\n")
    with pytest.raises(NasscoutError, match=r"c.txt:2"):
        read_cells_file(c)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["eval", "--predictors", "params,oracle"], "unknown predictor 'oracle'"),
        (["eval", "--predictors", "params", "--train-sizes", "20000"], "larger than the search space"),
        (["eval", "--predictors", "params", "--train-sizes", "15500", "--test-size", "200"],
         "must not overlap"),
        (["eval", "--predictors", "params", "--train-sizes", "10,x"], "'x' is not an integer"),
        (["eval", "--predictors", "params", "--option", "params"], "PREDICTOR.KEY=VALUE"),
        (["fit", "--model", "oracle", "--train-size", "10", "--out", "x"], "unknown predictor"),
        (["fit", "--model", "xgb", "--train-size", "20000", "--out", "x"], "larger than the 15,625"),
        (["fit", "--model", "xgb", "--out", "x"], "exactly one of --train-size"),
        (["fit", "--model", "xgb", "--train-size", "5", "--option", "n_members=0", "--out", "x"],
         "n_members=0"),
        (["rank", "missing.model"], "not found"),
        (["rank", "missing.model", "--top", "-1"], "--top -1"),
        (["zerocost", "--proxies", "snip"], "unknown proxy 'snip'"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(capsys, args, needle):
    code, _, err = run(capsys, "predictors", *args)
    assert_one_line_error(code, err, needle)


@pytest.mark.parametrize(
    "content,needle",
    [
        ("arch,valid_acc\n5,90\n7,nan\n", "NaN"),
        ("arch,valid_acc\n5,90\n7,90\n9,90\n", "constant"),
        ("arch,valid_acc\n", "no cells"),
        ("arch,valid_acc\n5,90\n5,91\n", "appears twice"),
    ],
)
def test_bad_cells_files_for_fit_and_eval(capsys, tmp_path, content, needle):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    code, _, err = run(
        capsys,
        "predictors",
        "fit",
        "--model",
        "params",
        "--cells",
        str(f),
        "--out",
        str(tmp_path / "m"),
    )
    assert_one_line_error(code, err, needle)
    code, _, err = run(
        capsys, "predictors", "eval", "--predictors", "params", "--cells", str(f),
        "--train-sizes", "1", "--test-size", "10",
    )  # fmt: skip
    assert_one_line_error(code, err, needle)


def test_truncated_model_through_a_real_process(xgb_model, tmp_path):
    bad = tmp_path / "cut.model"
    bad.write_bytes(xgb_model.read_bytes()[:5000])
    proc = subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", "predictors", "rank", str(bad)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "is truncated" in proc.stderr
