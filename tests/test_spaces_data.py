"""The TransNAS-Bench-101 micro and NAS-Bench-Graph builds, checked against their raw sources; bad input
through the real CLI."""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from surrogate.errors import DataError, NasscoutError

TASKS = (
    "class_scene",
    "class_object",
    "jigsaw",
    "room_layout",
    "segmentsemantic",
    "normal",
    "autoencoder",
)
GRAPHS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")


def nasscout(*args):
    return subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


# ---- TransNAS-Bench-101 micro ---------------------------------------------------------------------------
def test_transnas_counts_and_metrics(transnas):
    assert transnas.space.name == "transnas-micro" and len(transnas.cells) == 4096
    assert set(transnas.datasets) == set(TASKS)
    for task in TASKS:
        rec = transnas.query(transnas.cells, dataset=task)
        assert rec.valid_acc.shape == (4096,) and not np.isnan(rec.valid_acc).any()
        assert transnas.metric(task).higher_is_better is True
        assert np.all(transnas.cost(transnas.cells, dataset=task) > 0)
    assert np.all(transnas.query(transnas.cells, dataset="room_layout").valid_acc < 0)
    assert "SSIM" in transnas.metric("normal").name


def test_transnas_values_match_the_raw_rows(transnas, shared_data):
    zf = zipfile.ZipFile(shared_data / "transnas101_micro" / "naslib_all_benchmarks_zen.zip")
    rng = np.random.default_rng(0)
    for task in ("class_object", "room_layout", "autoencoder"):
        member = next(n for n in zf.namelist() if f"--{task}--2000" in n)
        rows = json.load(io.TextIOWrapper(zf.open(member)))
        for r in (rows[k] for k in rng.choice(len(rows), 25, replace=False)):
            ops = [int(v) for v in r["arch"].strip("()").split(",")]
            index = int("".join(map(str, ops)), 4)
            assert transnas.query([index], dataset=task).valid_acc[0] == pytest.approx(
                r["val_accuracy"], rel=1e-6
            )
            assert transnas.extra([index], dataset=task, field="zen")[0] == pytest.approx(
                r["zen"]["score"], rel=1e-6
            )
            assert transnas.extra([index], dataset=task, field="naslib_idx")[0] == int(r["idx"])


def test_transnas_known_cells(transnas):
    # a single 3x3 conv on the direct edge beats the all-none cell; a dead path equals all-none
    q = transnas.query(
        [
            "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|",
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",
        ],
        dataset="class_object",
    ).valid_acc
    assert q[0] == pytest.approx(42.630375, abs=1e-4)
    assert q[1] == pytest.approx(q[2]) and q[1] < q[0]


# ---- NAS-Bench-Graph ----------------------------------------------------------------------------------------
def test_nbgraph_counts(nbgraph):
    assert nbgraph.space.name == "nasbench-graph" and len(nbgraph.cells) == 26206
    assert set(nbgraph.datasets) == set(GRAPHS)
    for ds in GRAPHS:
        cells = nbgraph.cells_for(ds)
        assert len(cells) == (2021 if ds == "proteins" else 26206)
        rec = nbgraph.query(cells, dataset=ds)
        for field in ("valid_acc", "test_acc", "latency_s", "params_m", "train_time_s"):
            assert not np.isnan(getattr(rec, field)).any(), (ds, field)
        assert 0 < rec.valid_acc.min() and rec.valid_acc.max() <= 100


def test_nbgraph_values_match_the_package_reader(nbgraph):
    from nas_bench_graph import Arch, light_read  # the package's own (unrestricted) reader

    space = nbgraph.space
    for ds in ("cora", "arxiv", "proteins"):
        raw = light_read(ds)
        cells = nbgraph.cells_for(ds)
        for i in np.random.default_rng(1).choice(cells, 30, replace=False):
            link_id, *ops = space.cell_ops[i].tolist()
            arch = Arch(list(space.LINKS[link_id]), [space.OPS[o] for o in ops])
            want = raw[arch.valid_hash()]
            rec = nbgraph.query([int(i)], dataset=ds)
            assert rec.valid_acc[0] == pytest.approx(100 * want["valid_perf"], rel=1e-12)
            assert rec.test_acc[0] == pytest.approx(100 * want["perf"], rel=1e-12)
            assert rec.latency_s[0] == pytest.approx(want["latency"], rel=1e-12)
            assert rec.params_m[0] == pytest.approx(want["para"], rel=1e-12)


def test_safe_reader_decodes_like_the_package():
    from nas_bench_graph import light_read

    from surrogate.build_nbgraph import light_dir, read_light

    assert read_light(light_dir() / "citeseer.bench") == light_read("citeseer")


def test_safe_unpickler_refuses_code(tmp_path):
    from surrogate.build_nbgraph import read_light

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "evil.bench"
    bad.write_bytes(pickle.dumps({0: Boom()}))
    with pytest.raises(DataError, match="refusing to load (posix|os|nt).system"):
        read_light(bad)
    odd = tmp_path / "odd.bench"
    odd.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataError, match="is not a"):
        read_light(odd)


def test_proteins_with_an_op_it_lacks_is_one_line(nbgraph):
    with pytest.raises(NasscoutError) as err:
        nbgraph.query(["gat~0|gcn~0|gcn~1|gcn~2"], dataset="proteins")
    msg = str(err.value)
    assert "proteins was trained without gat" in msg and "\n" not in msg
    assert "accepted ops: arma, fc, gcn, sage, skip" in msg
    best, _ = nbgraph.best("proteins")
    assert best in nbgraph.cells_for("proteins")


# ---- the CLI ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,needles",
    [
        (
            (
                "transnas-micro",
                "--dataset",
                "jigsaw",
                "--arch",
                "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            ),
            (
                "exists only in nb201",
                "accepted ops: none, skip_connect, nor_conv_1x1, nor_conv_3x3",
            ),
        ),
        (
            ("nb201", "--dataset", "cifar10", "--arch", "gcn~0|gin~0|fc~1|cheb~2"),
            ("exists only in nasbench-graph, not in nb201",),
        ),
        (
            ("transnas-micro", "--dataset", "cifar10", "--arch", "5"),
            ("unknown dataset 'cifar10'", "class_object", "room_layout"),
        ),
        (
            ("nasbench-graph", "--dataset", "mnist", "--arch", "5"),
            ("unknown dataset 'mnist'", "cora", "proteins"),
        ),
        (
            ("nasbench-graph", "--dataset", "proteins", "--arch", "gat~0|gcn~0|gcn~1|gcn~2"),
            ("proteins was trained without gat", "accepted ops: arma, fc, gcn, sage, skip"),
        ),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(nbgraph, transnas, nb201, args, needles):
    out = nasscout("bench", "query", *args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    for needle in needles:
        assert needle in lines[0]


def test_cli_info_and_query(nbgraph, transnas):
    info = nasscout("bench", "info", "transnas-micro")
    assert info.returncode == 0, info.stderr
    assert "space        transnas-micro" in info.stdout
    assert "room_layout      negative loss" in info.stdout and "higher is better" in info.stdout
    assert "ESTIMATED cost" in info.stdout
    q = nasscout("bench", "query", "nasbench-graph", "--dataset", "cora", "--arch", "0", "--json")
    row = json.loads(q.stdout)
    assert row["arch"] == "gat~0|gat~0|gat~0|gat~0" and row["valid_acc"] == pytest.approx(
        77.3333, abs=1e-3
    )
    info = nasscout("bench", "info", "nasbench-graph", "--json")
    metrics = json.loads(info.stdout)["metrics"]
    assert metrics["proteins"]["cells"] == 2021 and metrics["cora"]["cells"] == 26206
