"""`run_experiment(...)`, the Python twin of `nasscout run` + `nasscout report`: the same results.csv and
report for the same configuration, strategies given as names, classes or (strategy, options) pairs."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from strategies.api import run_experiment
from strategies.base import Strategy
from strategies.cli.main import main
from surrogate.errors import NasscoutError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nasscout-example-plugin"


class FirstCells(Strategy):
    """A strategy written in a notebook: the table's cells in index order from a start offset."""

    summary = "cells in index order"

    def __init__(self, space, *, seed, context=None, start: int = 0):
        super().__init__(space, seed=seed, context=context)
        self.pos = start + seed

    def ask(self):
        cell = self.space.candidates[self.pos % len(self.space.candidates)]
        self.pos += 1
        return self._new_trial(int(cell))

    def tell(self, trial, obs) -> None:
        pass


@pytest.fixture
def greedy(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from nasscout_example.strategies import GreedyMutation

    yield GreedyMutation
    for name in [m for m in sys.modules if m.startswith("nasscout_example")]:
        del sys.modules[name]


def cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, dict):
            if not same(x, y):
                return False
        elif isinstance(x, float) or isinstance(y, float) or x is None or y is None:
            nan_x = x is None or (isinstance(x, float) and math.isnan(x))
            nan_y = y is None or (isinstance(y, float) and math.isnan(y))
            if nan_x != nan_y or (not nan_x and x != pytest.approx(y, rel=1e-12)):
                return False
        elif x != y:
            return False
    return True


def test_the_dataframe_and_report_match_the_cli(greedy, nb201, tmp_path, capsys):
    results, report = run_experiment(
        benchmark="nb201",
        dataset="cifar10",
        strategies=["rea", greedy, ("bo-gp", {"acquisition": "ucb", "n_init": 6})],
        seeds=range(3, 7),
        budget_queries=15,
        out=tmp_path / "api",
        jobs=2,
        quiet=True,
    )
    ref = "nasscout_example.strategies:GreedyMutation"  # a class is named by its import path
    code, _, err = cli(capsys, "run", "--strategy", f"rea,{ref},bo-gp", "--first-seed", "3",
                       "--seeds", "4", "--budget-queries", "15", "--option", "bo-gp.acquisition=ucb",
                       "--option", "bo-gp.n_init=6", "--jobs", "1", "-q", "--out", tmp_path / "cli")  # fmt: skip
    assert code == 0, err
    csv = pd.read_csv(tmp_path / "cli" / "results.csv", dtype={"arch": str, "strategy": str})
    assert isinstance(results, pd.DataFrame) and len(results) == 3 * 4 * 15
    assert list(results.columns) == list(csv.columns)
    a, b = results.drop(columns="wall_time_s"), csv.drop(columns="wall_time_s")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b, check_dtype=False)
    code, js, _ = cli(capsys, "report", tmp_path / "cli", "--json", "--no-plots")
    assert list(report) == ["rea", ref, "bo-gp"]
    assert same(report, json.loads(js))
    api_meta = json.loads((tmp_path / "api" / "meta.json").read_text())
    assert api_meta["config"]["options"] == {"bo-gp": {"acquisition": "ucb", "n_init": 6}}
    assert api_meta["plugins"][ref]["origin"] == "python object"
    assert api_meta["plugins"][ref]["file"] == str(EXAMPLE / "nasscout_example" / "strategies.py")
    assert api_meta["command_line"][0].startswith("run_experiment(benchmark='nb201'")


def test_resume_true_continues_or_starts(nb201, tmp_path):
    kwargs = dict(strategies=[FirstCells, ("rea", {"population_size": 6, "sample_size": 2})],
                  seeds=3, budget_queries=12, out=tmp_path / "r", jobs=1, quiet=True)  # fmt: skip
    first, rep1 = run_experiment(resume=True, **kwargs)  # nothing there yet: starts
    assert len(first) == 2 * 3 * 12 and set(rep1) == {f"{__name__}:FirstCells", "rea"}
    # an interrupted copy (half the journal) continues to the same table
    cut = tmp_path / "cut"
    cut.mkdir()
    shutil.copy(tmp_path / "r" / "meta.json", cut / "meta.json")
    lines = [ln for ln in (tmp_path / "r" / "journal.jsonl").read_text().splitlines()
             if '"done"' not in ln]  # fmt: skip
    (cut / "journal.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    again, rep2 = run_experiment(resume=True, **{**kwargs, "out": cut})
    pd.testing.assert_frame_equal(
        again.drop(columns="wall_time_s"), first.drop(columns="wall_time_s")
    )
    assert same(rep1, rep2)
    # a new run into a folder that holds one is refused without resume, and so are other options
    with pytest.raises(NasscoutError, match="already holds a run"):
        run_experiment(**kwargs)
    with pytest.raises(NasscoutError, match="cannot resume: --option"):
        run_experiment(resume=True, **{**kwargs, "strategies": [FirstCells, "rea"]})


def test_bad_arguments_are_one_line(nb201, tmp_path):
    with pytest.raises(NasscoutError, match="are not consecutive"):
        run_experiment(strategies=["rs"], seeds=[0, 2], budget_queries=5, out=tmp_path / "x")
    with pytest.raises(NasscoutError, match="is a int; accepted: a name"):
        run_experiment(strategies=[3], budget_queries=5, out=tmp_path / "x")
    with pytest.raises(
        NasscoutError, match="rea has no option 'popsize'; accepted: population_size"
    ):
        run_experiment(strategies=[("rea", {"popsize": 3})], budget_queries=5, out=tmp_path / "x")
    with pytest.raises(NasscoutError, match="is not a Strategy"):
        run_experiment(strategies=[dict], budget_queries=5, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
