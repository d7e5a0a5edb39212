"""The user's own strategy, predictor and benchmark through the same harness: by import path and by entry
point (the example package in examples/ really pip-installed into a temporary folder; nothing mocked),
checked against the contracts, recorded in meta.json, and refused on --resume once their code changed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from strategies.cli.main import main
from strategies.results import COLUMNS
from surrogate.plugins import refresh

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "nasscout-example-plugin"
GREEDY = "nasscout_example.strategies:GreedyMutation"
RIDGE = "nasscout_example.predictors:RidgeOneHot"
WALL = COLUMNS.index("wall_time_s")


def cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nasscout: error: "), err
    return lines[0]


def rows_without_wall(path: Path) -> list[list[str]]:
    return [
        [f for i, f in enumerate(line.split(",")) if i != WALL]
        for line in path.read_text().splitlines()
    ]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example plugin package, pip-installed (built from a copy) into a folder put on sys.path, so its
    entry points are found by importlib.metadata as for any installed package."""
    tmp = tmp_path_factory.mktemp("plugin-install")
    src = tmp / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert list(target.glob("nasscout_example_plugin-0.1.0.dist-info"))
    sys.path.insert(0, str(target))
    refresh()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith("nasscout_example")]:
        del sys.modules[name]
    refresh()


@pytest.fixture
def on_path(monkeypatch):
    """The example package's folder on sys.path only (not installed: import paths, no entry points)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield
    for name in [m for m in sys.modules if m.startswith("nasscout_example")]:
        del sys.modules[name]


def write_module(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


# ---- a strategy by import path: many seeds, resume, report ------------------------------------------------
def test_import_path_strategy_runs_resumes_exactly_and_is_reported(
    on_path, nb201, tmp_path, capsys
):
    full, cut = tmp_path / "full", tmp_path / "cut"
    args = ("run", "--strategy", f"{GREEDY},rs", "--seeds", "6", "--budget-queries", "30",
            "--option", f"{GREEDY}.n_init=5", "--jobs", "2", "-q")  # fmt: skip
    code, _, err = cli(capsys, *args, "--out", full)
    assert code == 0, err
    meta = json.loads((full / "meta.json").read_text())
    facts = meta["plugins"][GREEDY]
    source = EXAMPLE / "nasscout_example" / "strategies.py"
    import hashlib

    assert facts["module"] == "nasscout_example.strategies" and facts["origin"] == "import path"
    assert facts["file"] == str(source)
    assert facts["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert meta["config"]["options"] == {GREEDY: {"n_init": 5}}  # typed: 5, not "5"
    # an interrupted copy: the first half of the journal, no done markers, no results -> --resume
    cut.mkdir()
    shutil.copy(full / "meta.json", cut / "meta.json")
    lines = [ln for ln in (full / "journal.jsonl").read_text().splitlines() if '"done"' not in ln]
    (cut / "journal.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    code, _, err = cli(capsys, "run", "--out", cut, "--resume", "-q")
    assert code == 0, err
    assert rows_without_wall(cut / "results.csv") == rows_without_wall(full / "results.csv")
    code, text, _ = cli(capsys, "report", cut, "--no-plots")
    assert code == 0
    assert f"plugin {GREEDY} (import path; sha256 {facts['sha256'][:12]})" in text.splitlines()
    assert f"strategy options: {GREEDY}.n_init=5" in text
    code, js, _ = cli(capsys, "report", cut, "--no-plots", "--json")
    summary = json.loads(js)
    assert summary[GREEDY]["n_seeds"] == 6 and summary["rs"]["n_seeds"] == 6
    # the plugin's own logic ran: after n_init random cells, each proposal is one edit from the incumbent
    import pandas as pd

    df = pd.read_csv(cut / "results.csv")
    for _, g in df[df["strategy"] == GREEDY].groupby("seed"):
        g = g.sort_values("trial")
        for t in range(5, len(g)):
            best = g.iloc[:t]["observed_acc"].idxmax()
            assert (
                nb201.space.edit_distance(int(g.iloc[t]["index"]), int(g.loc[best, "index"])) == 1
            )


def test_changed_plugin_code_is_refused_on_resume(nb201, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_module(tmp_path, "plug_changed", """
        from strategies.random_search import RandomSearch

        class Mine(RandomSearch):
            summary = "random search, my copy"
    """)  # fmt: skip
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", "--strategy", "plug_changed:Mine", "--seeds", "2",
                       "--budget-queries", "8", "--jobs", "1", "-q", "--out", out)  # fmt: skip
    assert code == 0, err
    code, _, err = cli(capsys, "run", "--out", out, "--resume", "-q")
    assert code == 0, err  # unchanged code resumes
    path.write_text(path.read_text() + "\n# a change\n")
    before = (out / "journal.jsonl").read_text()
    code, _, err = cli(capsys, "run", "--out", out, "--resume", "-q")
    line = one_line_error(code, err)
    assert "cannot resume: the code of plugin 'plug_changed:Mine' changed" in line
    assert str(path) in line
    assert (out / "journal.jsonl").read_text() == before  # nothing of the run lost
    sys.modules.pop("plug_changed", None)


# ---- contract checks: one line each --------------------------------------------------------------------
BROKEN = """
import numpy as np
from strategies.base import Strategy
from predictors.base import Predictor

def a_function():
    pass

class NotAStrategy:
    def ask(self):
        return None

class AskTakesBudget(Strategy):
    def ask(self, budget):
        return None
    def tell(self, trial, obs):
        pass

class TellTakesOne(Strategy):
    def ask(self):
        return None
    def tell(self, result):
        pass

class NoTell(Strategy):
    def ask(self):
        return None

class OldInit(Strategy):
    def __init__(self, space, seed):
        super().__init__(space, seed=seed)
    def ask(self):
        return None
    def tell(self, trial, obs):
        pass

class RaisesInAsk(Strategy):
    def ask(self):
        if self._next_id == 3:
            raise ZeroDivisionError("my bug on the 4th ask")
        return self._new_trial(self._random_cell())
    def tell(self, trial, obs):
        pass

class RaisesInFit(Predictor):
    def fit(self, archs, y):
        raise KeyError("my fit bug")
    def predict(self, archs, *, return_std=False):
        return np.zeros(len(archs))

class PredictsAScalar(Predictor):
    def fit(self, archs, y):
        return self
    def predict(self, archs, *, return_std=False):
        return (0.0, 1.0) if return_std else 0.0

def not_a_benchmark():
    return 42

class FitWithoutY(Predictor):
    def fit(self, archs):
        return self
    def predict(self, archs, *, return_std=False):
        return np.zeros(len(archs))
"""


@pytest.fixture
def broken(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    write_module(tmp_path, "plug_broken", BROKEN)
    write_module(
        tmp_path, "plug_noimport", "import numpy\nraise RuntimeError('my module is broken')\n"
    )
    yield
    for name in ("plug_broken", "plug_noimport"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    "strategy, message",
    [
        ("plug_missing:X", "cannot import strategy plugin 'plug_missing:X': no module named 'plug_missing'"),
        ("plug_noimport:X", "cannot import strategy plugin 'plug_noimport:X': RuntimeError: my module is broken"),
        ("plug_broken:Nope", "module 'plug_broken' has no 'Nope'"),
        ("plug_broken:a_function", "strategy 'plug_broken:a_function' is a function, not a class"),
        ("plug_broken:NotAStrategy", "strategy 'plug_broken:NotAStrategy' (NotAStrategy) is not a Strategy"),
        ("plug_broken:AskTakesBudget", "AskTakesBudget.ask(self, budget) has the wrong shape; accepted: ask(self)"),
        ("plug_broken:TellTakesOne", "TellTakesOne.tell(self, result) has the wrong shape; accepted: tell(self, trial, obs)"),
        ("plug_broken:NoTell", "(NoTell) does not implement tell"),
        ("plug_broken:OldInit", "OldInit.__init__(self, space, seed) has the wrong shape"),
        ("plug_broken", "unknown strategy 'plug_broken'; accepted: all, or any of rs, rea"),
    ],
)  # fmt: skip
def test_a_broken_strategy_is_one_line(strategy, message, broken, nb201, tmp_path, capsys):
    code, _, err = cli(capsys, "run", "--strategy", f"rs,{strategy}", "--out", tmp_path / "r")
    assert message in one_line_error(code, err)
    assert not (tmp_path / "r").exists()  # refused before anything touched the disk


def test_a_plugin_raising_inside_ask_loses_nothing(broken, nb201, tmp_path, capsys):
    out = tmp_path / "r"
    args = ("run", "--strategy", "rs,plug_broken:RaisesInAsk", "--seeds", "2", "--budget-queries",
            "10", "--jobs", "1", "-q", "--out", out)  # fmt: skip
    code, _, err = cli(capsys, *args)
    line = one_line_error(code, err)
    assert (
        "strategy 'plug_broken:RaisesInAsk' raised ZeroDivisionError: my bug on the 4th ask in ask()"
        in line
    )
    journal = [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]
    mine = [r for r in journal if r.get("strategy") == "plug_broken:RaisesInAsk" and "trial" in r]
    assert len([r for r in journal if r.get("strategy") == "rs" and r.get("done")]) == 2
    assert sorted(r["trial"] for r in mine) == [
        0,
        1,
        2,
    ]  # the three it proposed were evaluated, kept
    # --debug adds the plugin's own traceback, then the same line
    code, _, err = cli(capsys, "--debug", "run", "--out", out, "--resume", "-q")
    assert code == 2 and 'plug_broken.py", line' in err and "ZeroDivisionError" in err
    assert err.strip().splitlines()[-1] == line


def test_a_broken_predictor_is_one_line(broken, nb201, capsys):
    code, _, err = cli(capsys, "predictors", "eval", "--predictors", "plug_broken:FitWithoutY",
                       "--quick", "--features", "none")  # fmt: skip
    assert "FitWithoutY.fit(self, archs) has the wrong shape" in one_line_error(code, err)
    code, _, err = cli(capsys, "predictors", "fit", "--model", "plug_broken:AskTakesBudget",
                       "--train-size", "10", "--out", "x.model")  # fmt: skip
    assert "(AskTakesBudget) is not a Predictor" in one_line_error(code, err)
    eval_args = ("--train-sizes", "20", "--seeds", "1", "--features", "none")
    code, _, err = cli(
        capsys, "predictors", "eval", "--predictors", "plug_broken:RaisesInFit", *eval_args
    )
    line = one_line_error(code, err)
    assert "predictor 'plug_broken:RaisesInFit' raised KeyError: 'my fit bug' in fit()" in line
    code, _, err = cli(capsys, "predictors", "eval", "--predictors", "plug_broken:PredictsAScalar",
                       *eval_args)  # fmt: skip
    assert "predict() returned tuple of shapes [(), ()] for 200 cells" in one_line_error(code, err)
    code, _, err = cli(capsys, "run", "--benchmark", "plug_broken:not_a_benchmark", "--strategy", "rs",
                       "--out", "unused")  # fmt: skip
    assert "benchmark plugin 'plug_broken:not_a_benchmark' gave a int, not a Benchmark" in (
        one_line_error(code, err)
    )


# ---- predictors by import path ------------------------------------------------------------------------
def test_predictor_by_import_path_evaluates_and_fits(on_path, nb201, tmp_path, capsys):
    code, text, err = cli(capsys, "predictors", "eval", "--predictors", f"{RIDGE},params",
                          "--train-sizes", "200", "--seeds", "2", "--test-size", "200", "--features",
                          "none", "--option", f"{RIDGE}.alpha=3", "--json")  # fmt: skip
    assert code == 0, err
    rows = {r["predictor"]: r for r in json.loads(text)}
    assert rows[RIDGE]["kendalltau_mean"] > 0.3  # a real (linear) model on real NB201 targets
    model = tmp_path / "ridge.model"
    code, _, err = cli(capsys, "predictors", "fit", "--model", RIDGE, "--train-size", "60",
                       "--out", model)  # fmt: skip
    assert code == 0, err
    # a model file naming a class that is only importable by path is not loaded: files choose no code
    code, _, err = cli(capsys, "predictors", "rank", model)
    line = one_line_error(code, err)
    assert (
        "nasscout_example.predictors:RidgeOneHot" in line
        and "not a nasscout predictor type" in line
    )


# ---- entry points of an installed package ---------------------------------------------------------------
def test_entry_points_are_listed_with_their_origin(installed, capsys):
    code, text, _ = cli(capsys, "run", "--list-strategies")
    assert code == 0
    greedy = [ln for ln in text.splitlines() if ln.split()[0] == "greedy"]
    assert greedy and "plugin nasscout-example-plugin 0.1.0" in greedy[0]
    assert "greedy mutation of the incumbent" in greedy[0]
    assert "built-in" in text.splitlines()[0]
    code, text, _ = cli(capsys, "predictors", "--list")
    ridge = [ln for ln in text.splitlines() if ln.split()[0] == "ridge-onehot"]
    assert ridge and "trained" in ridge[0] and "plugin nasscout-example-plugin 0.1.0" in ridge[0]


def test_entry_points_run_evaluate_fit_and_rank(installed, nb201, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", "--strategy", "greedy,rea", "--seeds", "3", "--budget-queries",
                       "20", "--option", "greedy.explore=0.2", "--jobs", "2", "-q", "--out", out)  # fmt: skip
    assert code == 0, err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["plugins"]["greedy"]["version"] == "nasscout-example-plugin 0.1.0"
    assert meta["plugins"]["greedy"]["origin"] == "plugin nasscout-example-plugin 0.1.0"
    assert str(installed) in meta["plugins"]["greedy"]["file"]
    assert meta["config"]["options"] == {"greedy": {"explore": 0.2}}
    code, _, err = cli(capsys, "predictors", "eval", "--predictors", "ridge-onehot", "--train-sizes",
                       "30", "--seeds", "1", "--features", "none", "--json")  # fmt: skip
    assert code == 0, err
    model = tmp_path / "r.model"
    code, _, err = cli(capsys, "predictors", "fit", "--model", "ridge-onehot", "--train-size", "40",
                       "--out", model)  # fmt: skip
    assert code == 0, err
    code, text, err = cli(
        capsys, "predictors", "rank", model, "--top", "3"
    )  # an installed plugin's
    assert code == 0, err  # class is on the allowlist: its file loads
    assert len(text.strip().splitlines()) == 5


def test_a_benchmark_entry_point(installed, nb201, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", "--benchmark", "nb201-no-none", "--strategy", "greedy",
                       "--seeds", "2", "--budget-queries", "15", "--jobs", "1", "-q", "--out", out)  # fmt: skip
    assert code == 0, err
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    meta = json.loads((out / "meta.json").read_text())
    facts = meta["plugins"]["--benchmark nb201-no-none"]
    assert facts["ref"] == "nasscout_example.benchmarks:nb201_without_none" and facts["sha256"]
    assert df["benchmark"].unique().tolist() == ["nb201-no-none"]
    assert not df["arch"].str.contains("none~").any()  # only the cells the plugin's table holds


def test_entry_points_in_a_fresh_process(installed, tmp_path):
    """As a user meets it: a new interpreter with the package on its path finds the entry points."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), str(ROOT)])}
    res = subprocess.run(
        [sys.executable, "-m", "strategies.cli.main", "run", "--list-strategies"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert any(ln.startswith("greedy ") for ln in res.stdout.splitlines())


def test_the_current_folder_is_searched_but_never_the_run_folder(nb201, tmp_path):
    """As the `nasscout` console script runs (its path starts at its own folder, not the current one):
    `module:Class` is found in the folder the command runs from; a resume started inside the run folder
    does not import a module stored there."""
    work, bin_ = tmp_path / "work", tmp_path / "bin"
    work.mkdir(), bin_.mkdir()
    write_module(work, "mine_here", """
        from strategies.random_search import RandomSearch

        class Mine(RandomSearch):
            summary = "mine"
    """)  # fmt: skip
    script = bin_ / "nasscout_script.py"
    script.write_text("from strategies.cli.main import main\nmain()\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NASSCOUT_HOME": os.environ["NASSCOUT_HOME"]}

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip

    res = run(
        work, "run", "--strategy", "mine_here:Mine", "--budget-queries", "5", "-q", "--out", "r"
    )
    assert res.returncode == 0, res.stderr
    shutil.copy(
        work / "mine_here.py", work / "r" / "mine_here.py"
    )  # a module stored in the run folder
    (work / "mine_here.py").unlink()
    (work / "r" / "journal.jsonl").write_text("")
    res = run(work / "r", "run", "--out", ".", "--resume", "-q")
    assert res.returncode == 2
    assert (
        "cannot import strategy plugin 'mine_here:Mine': no module named 'mine_here'" in res.stderr
    )
