"""The catalog of bad input: every command, many ways to get it wrong, each one line and exit code 2.

Each row is (arguments, a fragment the one error line must contain). Arguments may name files made once
for the module (``{dir}`` is a folder of prepared bad files, see :func:`files`). Rows run in-process through
``strategies.cli.main.main``, the function the ``nasscout`` console script calls, so click parsing, our
validation and the error mapping are exactly the CLI's; an exception escaping it (what would be a
traceback) fails the row. A few rows also run as real subprocesses to check the in-process view.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from strategies.cli.main import main

ARCH = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
FM = ("--dataset", "fashion-mnist")

CASES: list[tuple[tuple[str, ...], str]] = [
    # ---- top level ----
    (("nope",), "No such command 'nope'"),
    (("--bogus",), "No such option '--bogus'"),
    (("bench", "nope"), "No such command 'nope'"),
    (("data", "nope"), "No such command 'nope'"),
    (("predictors", "nope"), "No such command 'nope'"),
    # ---- bench ----
    (("bench", "info"), "Missing argument 'BENCHMARK'"),
    (("bench", "info", "nb999"), "unknown benchmark 'nb999'"),
    (("bench", "info", "{dir}/missing.h5"), "does not exist"),
    (("bench", "info", "{dir}/junk.h5"), "junk.h5 is unreadable or truncated"),
    (("bench", "info", "{dir}/empty.h5"), "empty.h5 is unreadable or truncated"),
    (("bench", "info", "{dir}/other.h5"), "not a nasscout benchmark file"),
    (("bench", "info", "{dir}/folder.h5"), "is a folder, not a benchmark file"),
    (("bench", "info", "nb201", "--bogus"), "No such option '--bogus'"),
    (("bench", "query", "nb201", "--dataset", "cifar10"), "Missing option '--arch'"),
    (("bench", "query", "nb201", "--arch", "5"), "Missing option '--dataset'"),
    (("bench", "query", "nb201", "--dataset", "mnist", "--arch", "5"), "unknown dataset 'mnist'"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "15625"), "15625"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "-1"), "-1"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "|conv~0|"), "|conv~0|"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", ""), "arch"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "abc"), "'abc'"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", ARCH.replace("none", "zero")),
     "zero"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "5", "--fidelity", "13"),
     "fidelity 13"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "5", "--fidelity", "x"),
     "'x' is not a valid integer"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "5", "--seed", "banana"),
     "banana"),
    (("bench", "query", "nb201", "--dataset", "cifar10", "--arch", "5", "--seed", "999"), "999"),
    (("bench", "query", "nb999", "--dataset", "cifar10", "--arch", "5"), "unknown benchmark"),
    (("bench", "query", "{dir}/junk.h5", "--dataset", "cifar10", "--arch", "5"),
     "unreadable or truncated"),
    # ---- data build / import ----
    (("data", "build"), "Missing argument 'BENCHMARK'"),
    (("data", "build", "nb999"), "unknown benchmark 'nb999'"),
    (("data", "build", "nb201", "--out", "{dir}/folder.h5"), "is a directory"),
    (("data", "build", "nb201", "--out", "{dir}/a-file/x.h5"), "cannot write"),
    (("data", "import", "nats-tss"), "Missing argument"),
    (("data", "import", "nats-tss", "{dir}/missing"), "does not exist"),
    (("data", "import", "nats-tss", "{dir}/a-file"), "is a file"),
    (("data", "import", "nats-tss", "{dir}/folder.h5"), "no meta.pickle.pbz2"),
    (("data", "import", "nats-tss", "{dir}/NATS-sss-v1_0-50262-simple"), "size search space"),
    (("data", "import", "nats-tss", "{dir}/evil-nats"), "does not load"),
    (("data", "import", "nats-tss", "{dir}/junk-nats"), "cannot read"),
    (("data", "import", "nats-tss", "{nats}", "--hp", "13"), "'13' is not one of"),
    (("data", "import", "nats-tss", "{nats}", "--dataset", "mnist"), "unknown dataset 'mnist'"),
    (("data", "import", "nats-tss", "{nats}", "--curves", "val_acc"), "unknown curve metric"),
    (("data", "import", "nats-tss", "{nats}", "--workers", "0"), "workers must be a positive"),
    (("data", "import", "nats-tss", "{nats}", "--workers", "x"), "'x' is not a valid integer"),
    (("data", "import", "nb201-pth", "{dir}/missing.pth"), "does not exist"),
    (("data", "import", "nb201-pth", "{dir}"), "is a directory"),
    (("data", "import", "nb201-pth", "{dir}/junk.h5"), "not a readable PyTorch file"),
    (("data", "import", "nb201-pth", "{dir}/evil.pth"), "refuses"),
    (("data", "import", "nb201-pth", "{dir}/other.pth"), "not a NAS-Bench-201 file"),
    (("data", "import", "nb201-pth", "{dir}/missing.pth", "--hp", "7"), "'7' is not one of"),
    # ---- data build-fullruns ----
    (("data", "build-fullruns", *FM, "--cells", "2"), "Missing option '--store'"),
    (("data", "build-fullruns", *FM, "--store", "{dir}/s.h5"), "Missing option '--cells'"),
    (("data", "build-fullruns", "--cells", "2", "--store", "{dir}/s.h5"),
     "Missing option '--dataset'"),
    (("data", "build-fullruns", *FM, "--cells", "0", "--store", "{dir}/s.h5"), "cells"),
    (("data", "build-fullruns", *FM, "--cells", "-3", "--store", "{dir}/s.h5"), "-3"),
    (("data", "build-fullruns", *FM, "--cells", "x", "--store", "{dir}/s.h5"),
     "'x' is not a valid integer"),
    (("data", "build-fullruns", "--dataset", "mnist", "--cells", "2", "--store", "{dir}/s.h5"),
     "mnist"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.txt"), "must be a .h5"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.h5", "--preset", "huge"),
     "unknown preset 'huge'"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.h5", "--seeds", "a"),
     "'a'"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.h5", "--epochs", "0"),
     "epochs"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.h5", "--set", "lr"),
     "KEY=VALUE"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.h5", "--set", "zz=1"),
     "zz"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.h5", "--workers", "0"),
     "workers"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/s.h5", "--device", "tpu"),
     "tpu"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/junk.h5"),
     "not a readable HDF5 file"),
    (("data", "build-fullruns", *FM, "--cells", "2", "--store", "{dir}/a-file/s.h5"),
     "cannot use run store"),
    # ---- train ----
    (("train", *FM, "--store", "{dir}/t.h5"), "Missing option '--arch'"),
    (("train", "--arch", "5", "--store", "{dir}/t.h5"), "Missing option '--dataset'"),
    (("train", "--arch", "5", *FM), "Missing option '--store'"),
    (("train", "--arch", "15625", *FM, "--store", "{dir}/t.h5"), "15625"),
    (("train", "--arch", "x", *FM, "--store", "{dir}/t.h5"), "'x'"),
    (("train", "--arch", "5", "--dataset", "svhn", "--store", "{dir}/t.h5"), "svhn"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.txt"), "must be a .h5"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.h5", "--preset", "huge"), "huge"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.h5", "--epochs", "-1"), "epochs"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.h5", "--epochs", "1.5"),
     "'1.5' is not a valid integer"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.h5", "--set", "nope=1"), "nope"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.h5", "--set", "=1"), "KEY=VALUE"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.h5", "--device", "tpu"), "tpu"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/t.h5", "--threads", "0"), "threads"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/junk.h5"), "not a readable HDF5 file"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/other.h5"), "not a nasscout benchmark"),
    (("train", "--arch", "5", *FM, "--store", "{dir}/a-file/t.h5"), "cannot use run store"),
    # ---- run ----
    (("run", "--strategy", "rs"), "no --out given"),
    (("run", "--out", "{dir}/r1"), "no --strategy given"),
    (("run", "--strategy", "nope", "--out", "{dir}/r1"), "unknown strategy 'nope'"),
    (("run", "--strategy", "rs,,rea", "--out", "{dir}/r1"), "has an empty name"),
    (("run", "--strategy", ",", "--out", "{dir}/r1"), "strateg"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--dataset", "mnist"), "unknown dataset"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--benchmark", "nb999"), "unknown benchmark"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--benchmark", "{dir}/junk.h5"),
     "unreadable or truncated"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--budget-queries", "0"), "budget"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--budget-queries", "-5"), "budget"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--budget-queries", "ten"),
     "'ten' is not a valid integer"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--budget-seconds", "-1"), "budget"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--budget-seconds", "nan"), "budget"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--seeds", "0"), "seeds"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--first-seed", "-1"), "seed"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--workers", "0"), "workers"),
    (("run", "--strategy", "rs", "--out", "{dir}/r1", "--jobs", "0"), "jobs"),
    (("run", "--strategy", "rs", "--out", "{dir}/a-file"), "a-file"),
    (("run", "--out", "{dir}/missing-run", "--resume"), "nothing to resume"),
    (("run", "--out", "{dir}/a-file", "--resume"), "is a file, not a run directory"),
    (("run", "--out", "{dir}/empty-run", "--resume"), "meta.json"),
    # ---- report ----
    (("report",), "Missing argument 'DIRECTORY'"),
    (("report", "{dir}/missing-run"), "does not exist"),
    (("report", "{dir}/a-file"), "is a file, not a run directory"),
    (("report", "{dir}/empty-run"), "meta.json"),
    (("report", "{dir}/bad-meta-run"), "meta.json"),
    (("report", "{dir}/empty-run", "--bogus"), "No such option '--bogus'"),
    # ---- predictors eval ----
    (("predictors", "eval", "--predictors", "oracle"), "unknown predictor 'oracle'"),
    (("predictors", "eval", "--predictors", "params,params"), "listed twice"),
    (("predictors", "eval", "--predictors", "params", "--train-sizes", "1"), "train size 1"),
    (("predictors", "eval", "--predictors", "params", "--train-sizes", "0"), "train size 0"),
    (("predictors", "eval", "--predictors", "params", "--train-sizes", "-4"), "-4"),
    (("predictors", "eval", "--predictors", "params", "--train-sizes", "10,x"), "'x'"),
    (("predictors", "eval", "--predictors", "params", "--train-sizes", ""), "train size"),
    (("predictors", "eval", "--predictors", "params", "--train-sizes", "20000"), "larger than"),
    (("predictors", "eval", "--predictors", "params", "--test-size", "0"), "test size"),
    (("predictors", "eval", "--predictors", "params", "--test-size", "3"), "too small"),
    (("predictors", "eval", "--predictors", "params", "--seeds", "0"), "seeds"),
    (("predictors", "eval", "--predictors", "params", "--first-seed", "-2"), "first seed"),
    (("predictors", "eval", "--predictors", "params", "--dataset", "mnist"), "mnist"),
    (("predictors", "eval", "--predictors", "params", "--benchmark", "nb999"), "unknown benchmark"),
    (("predictors", "eval", "--predictors", "params", "--option", "params"), "PREDICTOR.KEY=VALUE"),
    (("predictors", "eval", "--predictors", "params", "--option", "xgb.n_members=2"),
     "not evaluated"),
    (("predictors", "eval", "--predictors", "xgb", "--option", "xgb.bogus=2",
      "--train-sizes", "10", "--seeds", "1", "--test-size", "20"), "bogus"),
    (("predictors", "eval", "--predictors", "params", "--features", "snip"), "snip"),
    (("predictors", "eval", "--predictors", "params", "--cells", "{dir}/missing.csv"), "not found"),
    (("predictors", "eval", "--predictors", "params", "--cells", "{dir}/badcell.csv"),
     "badcell.csv:3"),
    (("predictors", "eval", "--predictors", "params", "--cells", "{dir}/empty.csv"), "no cells"),
    (("predictors", "eval", "--predictors", "params", "--test-size", "x"),
     "'x' is not a valid integer"),
    # ---- predictors fit ----
    (("predictors", "fit", "--train-size", "10", "--out", "{dir}/m.model"),
     "Missing option '--model'"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "10"), "Missing option '--out'"),
    (("predictors", "fit", "--model", "oracle", "--train-size", "10", "--out", "{dir}/m.model"),
     "unknown predictor"),
    (("predictors", "fit", "--model", "xgb", "--out", "{dir}/m.model"), "exactly one of"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "1", "--out", "{dir}/m.model"),
     "constant"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "0", "--out", "{dir}/m.model"),
     "train size 0"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "99999", "--out", "{dir}/m.model"),
     "larger than"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "5", "--cells", "{dir}/ok.csv",
      "--out", "{dir}/m.model"), "exactly one of"),
    (("predictors", "fit", "--model", "xgb", "--cells", "{dir}/nan.csv", "--out", "{dir}/m.model"),
     "NaN"),
    (("predictors", "fit", "--model", "xgb", "--cells", "{dir}/dup.csv", "--out", "{dir}/m.model"),
     "appears twice"),
    (("predictors", "fit", "--model", "xgb", "--cells", "{dir}/badtarget.csv",
      "--out", "{dir}/m.model"), "is not a number"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "10", "--option", "n_members=0",
      "--out", "{dir}/m.model"), "n_members=0"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "10", "--option", "bogus=1",
      "--out", "{dir}/m.model"), "unknown option 'bogus'"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "10", "--option", "=1",
      "--out", "{dir}/m.model"), "KEY=VALUE"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "10", "--dataset", "mnist",
      "--out", "{dir}/m.model"), "mnist"),
    (("predictors", "fit", "--model", "xgb", "--train-size", "10", "--features", "snip",
      "--out", "{dir}/m.model"), "snip"),
    (("predictors", "fit", "--model", "params", "--train-size", "10",
      "--out", "{dir}/a-file/m.model"), "a-file"),
    # ---- predictors rank ----
    (("predictors", "rank"), "Missing argument"),
    (("predictors", "rank", "{dir}/missing.model"), "not found"),
    (("predictors", "rank", "{dir}/ok.csv"), "not a nasscout predictor file"),
    (("predictors", "rank", "{dir}/old.model"), "refit it"),
    (("predictors", "rank", "{dir}/evil.model"), "is refused"),
    (("predictors", "rank", "{dir}/cut.model"), "truncated"),
    (("predictors", "rank", "{dir}/folder.h5"), "not found"),
    (("predictors", "rank", "{dir}/params.model", "--top", "-1"), "--top -1"),
    (("predictors", "rank", "{dir}/params.model", "--top", "x"), "'x' is not a valid integer"),
    (("predictors", "rank", "{dir}/params.model", "--cells", "{dir}/badcell.csv"), "badcell.csv:3"),
    (("predictors", "rank", "{dir}/params.model", "--cells", "{dir}/missing.csv"), "not found"),
    # ---- predictors zerocost ----
    (("predictors", "zerocost", "--proxies", "snip"), "unknown proxy 'snip'"),
    (("predictors", "zerocost", "--proxies", ""), "prox"),
    (("predictors", "zerocost", "--dataset", "mnist"), "mnist"),
    (("predictors", "zerocost", "--limit", "-1"), "limit"),
    (("predictors", "zerocost", "--cells", "{dir}/badcell.csv"), "badcell.csv:3"),
    (("predictors", "zerocost", "--cells", "{dir}/missing.csv"), "not found"),
]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory, nb201) -> dict[str, str]:
    """Prepared bad files; ``nb201`` makes sure the benchmark cache exists before any row runs."""
    import bz2
    import hashlib
    import json
    import pickle

    import h5py
    import numpy as np
    import torch

    from predictors.io import MAGIC, save_predictor
    from predictors.registry import make_predictor

    d = tmp_path_factory.mktemp("catalog")
    (d / "a-file").write_text("a file, not a folder\n")
    (d / "folder.h5").mkdir()
    (d / "junk.h5").write_bytes(b"not an hdf5 file at all")
    (d / "empty.h5").write_bytes(b"")
    with h5py.File(d / "other.h5", "w") as f:
        f.attrs["schema"] = "someone-else"
        f.create_dataset("x", data=np.arange(3))
    (d / "NATS-sss-v1_0-50262-simple").mkdir()
    for name, payload in (
        ("evil-nats", bz2.compress(b"cposix\nsystem\n(S'touch /tmp/x'\ntR.")),
        ("junk-nats", b"BZh91AY&SYnot really"),
    ):
        (d / name).mkdir()
        (d / name / "meta.pickle.pbz2").write_bytes(payload)
    (d / "evil.pth").write_bytes(b"")
    torch.save({"x": _Evil()}, d / "evil.pth")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, d / "other.pth")
    (d / "ok.csv").write_text("arch,valid_acc\n5,90\n7,80\n9,70\n")
    (d / "nan.csv").write_text("arch,valid_acc\n5,90\n7,nan\n9,70\n")
    (d / "dup.csv").write_text("arch,valid_acc\n5,90\n5,91\n9,70\n")
    (d / "badtarget.csv").write_text("arch,valid_acc\n5,90\n7,high\n")
    (d / "badcell.csv").write_text("arch\n5\nnot-a-cell\n")
    (d / "empty.csv").write_text("# nothing\n")
    (d / "empty-run").mkdir()
    (d / "bad-meta-run").mkdir()
    (d / "bad-meta-run" / "meta.json").write_text("{not json")
    model = make_predictor("params").fit(np.arange(20), np.linspace(10, 90, 20))
    save_predictor(model, d / "params.model")
    (d / "cut.model").write_bytes((d / "params.model").read_bytes()[:300])
    payload = pickle.dumps(model)
    header = {
        "schema": "nasscout-predictor",
        "schema_version": 1,
        "space": "nb201",
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    (d / "old.model").write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    evil = pickle.dumps(_Evil())
    header.update(
        schema_version=2,
        payload_bytes=len(evil),
        payload_sha256=hashlib.sha256(evil).hexdigest(),
    )
    (d / "evil.model").write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + evil)
    nats = Path(os.environ.get("NASSCOUT_DATA_SOURCES", "")) / "nats_tss_sample"
    return {"dir": str(d), "nats": str(nats / "NATS-tss-v1_0-3ffb9-simple")}


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/nasscout-catalog-pwned",))


def _args(row: tuple[str, ...], files: dict[str, str]) -> list[str]:
    return [a.format(**files) if "{" in a and "|" not in a else a for a in row]


def run_in_process(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("row", "fragment"), CASES, ids=[" ".join(r[:4]) for r, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(row, fragment, files, capsys):
    code, out, err = run_in_process(_args(row, files), capsys)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    message = lines[-1] if lines else ""
    assert fragment in message, err
    if message.startswith("nasscout: error:"):
        assert len(lines) == 1, err  # our errors: exactly one line
    else:  # click's usage errors: usage line(s) and one 'Error:' line
        assert message.startswith("Error:"), err
    assert not Path("/tmp/nasscout-catalog-pwned").exists()


def test_the_catalog_is_large_and_covers_every_command():
    assert len(CASES) >= 100
    commands = {
        r[0] if r[0] not in ("bench", "data", "predictors") else " ".join(r[:2]) for r, _ in CASES
    }
    for cmd in ("bench info", "bench query", "data build", "data import", "data build-fullruns",
                "run", "report", "train", "predictors eval", "predictors fit", "predictors rank",
                "predictors zerocost"):  # fmt: skip
        assert cmd in commands, cmd


@pytest.mark.parametrize("index", [0, 20, 60, 90])
def test_rows_give_the_same_result_in_a_real_process(index, files):
    row, fragment = CASES[index]
    proc = subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", *_args(row, files)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert fragment in proc.stderr.strip().splitlines()[-1]
