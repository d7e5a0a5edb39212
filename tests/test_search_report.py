"""The end-of-search report (strategies.search.report) from summaries built on REAL curves of our Fashion-MNIST
table: CSV and page content against the input, images that decode, bad summaries refused in one line, and the
page rendered by a real headless chromium (images decoded, screenshot not blank)."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from strategies.search.report import CSV_COLUMNS, FILES, FORMAT, load_summary, write_report
from surrogate.errors import NasscoutError

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "datasets" / "nb201-fmnist-mini.h5"
STOP_AT = 5
PNG_SIG = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _summary(
    *, seed: int = 7, n_finished: int = 8, n_stopped: int = 5, finished: bool = True
) -> dict:
    """A nasscout-search-1 summary from real cells and their real 20-epoch curves (seed 0 of the table):
    finished trials keep the whole curve, stopped ones the first STOP_AT epochs with the final predicted by
    the ``fast`` extrapolator from those epochs, plus one trial still training (3 epochs) and one queued."""
    from predictors.curves import Curves, make_extrapolator
    from surrogate.tabular import TabularBenchmark

    b = TabularBenchmark.open(TABLE)
    ds = "fashion-mnist"
    rng = np.random.default_rng(seed)
    n = n_finished + n_stopped + 2
    cells = rng.choice(b.cells_for(ds), n, replace=False)
    valid = b.curves(cells, dataset=ds, metric="valid_acc", seed=0)
    test = b.curves(cells, dataset=ds, metric="test_acc", seed=0)
    rec = b.query(cells, dataset=ds, seed=0)
    T = valid.shape[1]
    base = ["finished"] * n_finished + ["stopped"] * n_stopped
    status = [base[i] for i in rng.permutation(len(base))]
    j = status.index("finished")  # the search trains its first candidate to the end
    status[0], status[j] = status[j], status[0]
    status += ["training", "queued"]
    done = np.array(
        [{"finished": T, "stopped": STOP_AT, "training": 3, "queued": 0}[s] for s in status]
    )
    st = np.array(status)
    fin = np.flatnonzero(st == "finished")
    best_i = int(fin[np.argmax(valid[fin, -1])])
    stop = np.flatnonzero(st == "stopped")
    pred = make_extrapolator("fast", seed=seed).predict(Curves(valid[stop, :STOP_AT]), T)
    p_better = pred.prob_above(np.full(len(stop), valid[fin, -1].max()))
    predicted = dict(zip(stop.tolist(), zip(pred.mean.tolist(), p_better.tolist())))
    trials = []
    for i, c in enumerate(cells):
        k = int(done[i])
        pf, pb = predicted.get(i, (None, None))
        reason = {
            "finished": "trained to the end",
            "stopped": f"P(final > best) = {pb:.3f} < 0.05 at epoch {STOP_AT}"
            if pb is not None
            else "",
            "training": "P(final > best) = 0.41 >= 0.05: continue",
            "queued": None,
        }[status[i]]
        trials.append(
            {
                "trial": i,
                "cell": int(c),
                "arch": b.space.format(int(c)),
                "status": status[i],
                "epochs_done": k,
                "valid_acc": float(valid[i, k - 1]) if k else None,
                "test_acc": float(test[i, k - 1]) if k else None,
                "predicted_final": pf,
                "p_better": pb,
                "reason": reason,
                "params_m": float(rec.params_m[i]),
                "flops_m": float(rec.flops_m[i]),
                "train_s": float(rec.train_time_s[i]) * k / T,
                "screen_score": float(rng.normal()),
                "curve": valid[i, :k].tolist(),
                "test_curve": test[i, :k].tolist(),
            }
        )
    spent = int(done.sum())
    total = 20 * T
    bt = trials[best_i]
    return {
        "format": FORMAT,
        "dataset": ds,
        "preset": "cpu-mini",
        "epochs": T,
        "seed": seed,
        "finished": finished,
        "wall_s": 1234.5,
        "workers": 2,
        "where": "local processes",
        "budget": {
            "unit": "epochs",
            "total": total,
            "spent": spent,
            "spent_epochs": spent,
            "spent_train_s": sum(t["train_s"] for t in trials),
            "screen_s": 12.5,
            "fraction": spent / total,
        },
        "avoided": {
            "screened_out": 40,
            "stopped_trials": n_stopped,
            "stopped_epochs": n_stopped * (T - STOP_AT),
            "stopped_train_s_est": 99.0,
        },
        "best": {
            k: bt[k]
            for k in ("trial", "cell", "arch", "valid_acc", "test_acc", "params_m", "flops_m")
        }
        | {"curve": bt["curve"], "test_curve": bt["test_curve"]},
        "early_stop": {"rule": "p_better", "threshold": 0.05, "checkpoints": [STOP_AT, 10, 15]},
        "prior": None,
        "trials": trials,
    }


def _write(tmp_path: Path, s: dict) -> Path:
    (tmp_path / "summary.json").write_text(json.dumps(s))
    return tmp_path


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[dict, dict[str, Path]]:
    s = _summary()
    out = _write(tmp_path_factory.mktemp("search"), s)
    return s, write_report(out)


def _front_brute(trials: list[dict]) -> set[int]:
    """Finished trials no other finished trial dominates (>= acc and <= params, better in one): O(n^2)."""
    fin = [t for t in trials if t["status"] == "finished"]
    keep = set()
    for t in fin:
        dominated = any(
            o["valid_acc"] >= t["valid_acc"]
            and o["params_m"] <= t["params_m"]
            and (o["valid_acc"] > t["valid_acc"] or o["params_m"] < t["params_m"])
            for o in fin
        )
        if not dominated:
            keep.add(t["trial"])
    return keep


def test_files_written_atomically(report):
    s, paths = report
    assert list(paths) == list(FILES)
    out = paths["report.html"].parent
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "summary.json"])  # no temp left
    for name in ("best_curve.png", "pareto.png", "budget.png"):
        assert paths[name].read_bytes().startswith(PNG_SIG)


def test_csv_matches_the_summary(report):
    s, paths = report
    rows = list(csv.DictReader(io.StringIO(paths["trials.csv"].read_text())))
    assert len(rows) == len(s["trials"]) and list(rows[0]) == list(CSV_COLUMNS)
    for row, t in zip(rows, s["trials"]):
        for k in CSV_COLUMNS:
            v = t[k]
            if isinstance(v, list):
                assert [float(x) for x in row[k].split(";") if x] == v, (t["trial"], k)
            elif v is None:
                assert row[k] == ""
            elif isinstance(v, float):
                assert float(row[k]) == v, (t["trial"], k)  # full precision round-trips
            else:
                assert row[k] == str(v)
    stopped = [r for r in rows if r["status"] == "stopped"]
    assert len(stopped) == 5 and all(r["epochs_done"] == str(STOP_AT) for r in stopped)
    assert all(r["predicted_final"] and 0 <= float(r["p_better"]) <= 1 for r in stopped)


def test_html_content(report):
    s, paths = report
    page = paths["report.html"].read_text()
    best = s["best"]
    assert html.escape(best["arch"]) in page
    assert f"{best['valid_acc']:,.2f}" in page and f"{best['test_acc']:,.2f}" in page
    assert f"{best['params_m']:,.3f}" in page
    assert ", ".join(f"{v:,.2f}" for v in best["curve"]) in page  # its curve, as numbers too
    b = s["budget"]
    assert f"{b['spent']:,.0f} / {b['total']:,.0f} epochs" in page
    assert f"{40 * s['epochs']:,.0f}" in page and "would have cost if trained" in page
    # the Pareto table holds exactly the brute-force front (fewest params first)
    section = page.split("<h2>Pareto front")[1].split("<h2>")[0]
    listed = [int(m) for m in re.findall(r"<tr><td>(\d+)</td>", section)]
    assert set(listed) == _front_brute(s["trials"]) and len(listed) >= 1
    params = [s["trials"][i]["params_m"] for i in listed]
    assert params == sorted(params)
    # every trial has a row; reasons (with < and >) are escaped
    table = page.split("<h2>Trials")[1]
    assert len(re.findall(r"<tr><td>\d+</td>", table)) == len(s["trials"])
    reason = next(t["reason"] for t in s["trials"] if t["status"] == "stopped")
    assert html.escape(reason) in page and reason not in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "imagesRendered" in page


def test_images_are_valid_png_data_uris(report):
    import matplotlib.image as mpimg

    s, paths = report
    page = paths["report.html"].read_text()
    blobs = DATA_URI.findall(page)
    assert len(blobs) == 3 == page.count("<img ")
    embedded = [base64.b64decode(x, validate=True) for x in blobs]
    on_disk = [paths[n].read_bytes() for n in ("best_curve.png", "pareto.png", "budget.png")]
    assert embedded == on_disk
    for data in embedded:
        img = mpimg.imread(io.BytesIO(data), format="png")
        assert img.shape[0] > 200 and img.shape[1] > 400
        # a plot, not a blank canvas: many distinct colours
        assert len(np.unique(img.reshape(-1, img.shape[2]), axis=0)) > 50


def test_running_search_without_best(tmp_path):
    """A search with no finished trial yet still gets a report that says so (and no Pareto front)."""
    s = _summary(seed=3)
    s["finished"] = False
    s["best"] = None
    for t in s["trials"]:
        if t["status"] == "finished":
            t["status"] = "training"
    paths = write_report(_write(tmp_path, s))
    page = paths["report.html"].read_text()
    assert "No training has finished yet" in page and "still running" in page
    assert "No finished trial with a parameter count yet" in page
    assert len(DATA_URI.findall(page)) == 3
    assert len(paths["trials.csv"].read_text().splitlines()) == len(s["trials"]) + 1


def test_empty_search(tmp_path):
    s = _summary(seed=4)
    s |= {"trials": [], "best": None, "finished": False}
    paths = write_report(_write(tmp_path, s))
    assert paths["trials.csv"].read_text() == ",".join(CSV_COLUMNS) + "\n"
    assert "<h2>Trials (0)</h2>" in paths["report.html"].read_text()


@pytest.mark.parametrize(
    "content, expect",
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON list"),
        (json.dumps({"format": "nasscout-run-1"}), "format 'nasscout-run-1'"),
        (json.dumps({"format": FORMAT, "dataset": "x"}), "lacks preset"),
        ("trial-missing", "trials[2] lacks curve"),
        ("bad-status", "status 'done'"),
    ],
)
def test_bad_summary_refused_in_one_line(tmp_path, content, expect):
    path = tmp_path / "summary.json"
    if content == "trial-missing":
        s = _summary()
        del s["trials"][2]["curve"]
        content = json.dumps(s)
    elif content == "bad-status":
        s = _summary()
        s["trials"][1]["status"] = "done"
        content = json.dumps(s)
    if content is not None:
        path.write_text(content)
    (tmp_path / "report.html").write_text("previous")
    with pytest.raises(NasscoutError) as err:
        write_report(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and expect in msg and FORMAT in msg
    assert (tmp_path / "report.html").read_text() == "previous"  # nothing half-replaced
    assert not (tmp_path / "pareto.png").exists()


def test_load_summary_roundtrip(tmp_path):
    s = _summary(seed=5)
    assert load_summary(_write(tmp_path, s) / "summary.json") == s


# ---- a real browser ---------------------------------------------------------------------------------------
CHROMIUM = next(
    (p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None
)


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--hide-scrollbars",
        "--run-all-compositor-stages-before-draw",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (CI installs Debian's chromium in .ci/run)"
)
def test_page_renders_in_headless_chromium(report, tmp_path):
    from PIL import Image

    s, paths = report
    url = paths["report.html"].resolve().as_uri()
    dom = _chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'<body[^>]*data-images-rendered="(\d+)"', dom.stdout)
    assert m, "the page's load script did not run: " + dom.stdout[:500]
    total = re.search(r'data-images-total="(\d+)"', dom.stdout)
    assert int(m.group(1)) == int(total.group(1)) == 3
    assert html.escape(s["best"]["arch"]) in dom.stdout
    # the count is real: the same page with one image's bytes corrupted reports one fewer
    page = paths["report.html"].read_text()
    blob = DATA_URI.findall(page)[1]
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace(blob, base64.b64encode(b"not a png" * 50).decode()))
    dom2 = _chromium(["--dump-dom", broken.as_uri()], tmp_path)
    assert re.search(r'data-images-rendered="2"', dom2.stdout), dom2.stdout[:300]

    shot = tmp_path / "shot.png"
    run = _chromium([f"--screenshot={shot}", "--window-size=1200,2400", url], tmp_path)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[0] >= 2000 and img.shape[1] >= 1100
    colours = len(np.unique(img.reshape(-1, 3), axis=0))
    assert colours > 200, f"screenshot looks blank: {colours} distinct colours"
    # the plots are in it: the best-curve blue and the stopped orange both appear
    for rgb in ((0x1F, 0x5F, 0xBF), (0xE0, 0x7B, 0x00)):
        near = np.abs(img.astype(int) - rgb).sum(axis=2) < 40
        assert near.sum() > 50, rgb


def test_cli_report_regenerates_a_search_directory(tmp_path, capsys):
    from strategies.cli.main import main

    def nasscout(*args) -> tuple[int, str, str]:
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return (code, *capsys.readouterr())

    s = _summary(seed=11)
    out = _write(tmp_path, s)
    code, text, _ = nasscout("report", out)
    assert code == 0
    assert text.splitlines() == [f"{name}: {out / name}" for name in FILES]
    assert html.escape(s["best"]["arch"]) in (out / "report.html").read_text()
    code, text, _ = nasscout("report", out, "--json")
    assert code == 0 and json.loads(text) == {name: str(out / name) for name in FILES}
    code, _, err = nasscout("report", out, "--no-plots")
    assert code == 2 and "--no-plots" in err and len(err.strip().splitlines()) == 1
    (out / "summary.json").write_text(json.dumps({"format": "nasscout-predictors-1"}))
    code, _, err = nasscout("report", out)
    assert code == 2 and FORMAT in err and len(err.strip().splitlines()) == 1
