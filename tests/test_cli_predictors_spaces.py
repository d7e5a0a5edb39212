"""`nasscout predictors` on TransNAS-Bench-101 micro and NAS-Bench-Graph: eval, fit, rank, and the one-line
refusals of what those spaces lack (the NB201 network's proxies, a table a benchmark does not hold)."""

from __future__ import annotations

import json

from predictors.evaluation import default_predictors
from strategies.cli.main import main

SMALL = ["--option", "xgb.n_members=2", "--option", "xgb.n_estimators=40"]


def run(capsys, *args):
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *needles):
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nasscout: error:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_eval_on_transnas_uses_the_zen_it_has(capsys, transnas):
    code, out, err = run(
        capsys, "predictors", "eval", "--benchmark", "transnas-micro", "--dataset", "jigsaw",
        "--predictors", "xgb,zen", "--train-sizes", "40", "--seeds", "1", "--test-size", "60",
        "--json", *SMALL,
    )  # fmt: skip
    assert code == 0, err
    rows = {r["predictor"]: r for r in json.loads(out)}
    assert set(rows) == {"xgb", "zen"}
    assert (
        rows["zen"]["kendalltau_mean"] > 0.2
    )  # zen ranks jigsaw cells (measured 0.36 on all cells)
    assert "no params, flops for jigsaw in transnas-micro; trained predictors get zen" in err


def test_eval_on_nbgraph_and_its_refusals(capsys, nbgraph):
    code, out, err = run(
        capsys, "predictors", "eval", "--benchmark", "nasbench-graph", "--dataset", "cora",
        "--predictors", "xgb,params", "--train-sizes", "40", "--seeds", "1", "--test-size", "60",
        "--json", *SMALL,
    )  # fmt: skip
    assert code == 0, err
    assert {r["predictor"] for r in json.loads(out)} == {"xgb", "params"}
    code, _, err = run(
        capsys, "predictors", "eval", "--benchmark", "nasbench-graph", "--dataset", "cora",
        "--predictors", "synflow",
    )  # fmt: skip
    one_line_error(
        code, err, "proxy 'synflow' needs the NB201 torch network", "'nasbench-graph'",
        "proxies that apply there: params",
    )  # fmt: skip
    code, _, err = run(
        capsys, "predictors", "eval", "--benchmark", "nasbench-graph", "--dataset", "cora",
        "--predictors", "xgb", "--features", "params,jacov",
    )  # fmt: skip
    one_line_error(code, err, "proxy 'jacov' needs the NB201 torch network")
    code, _, err = run(
        capsys, "predictors", "eval", "--benchmark", "nasbench-graph", "--dataset", "cora",
        "--predictors", "flops",
    )  # fmt: skip
    one_line_error(code, err, "proxy 'flops' needs flops_m", "apply there: params")


def test_default_predictors_follow_the_benchmark(nbgraph, transnas):
    graph = default_predictors("nasbench-graph", "cora")
    assert "params" in graph and not {"flops", "zen", "synflow", "jacov"} & set(graph)
    assert {"gp", "xgb", "gin", "ensemble"} <= set(graph)
    micro = default_predictors("transnas-micro", "class_object")
    assert "zen" in micro and not {"params", "flops", "synflow", "jacov"} & set(micro)


def test_fit_and_rank_on_nbgraph(capsys, tmp_path, nbgraph):
    path = tmp_path / "gp.model"
    code, out, err = run(
        capsys, "predictors", "fit", "--benchmark", "nasbench-graph", "--dataset", "arxiv",
        "--model", "gp", "--train-size", "50", "--option", "n_restarts=0", "--out", str(path),
    )  # fmt: skip
    assert code == 0, err
    assert "fitted gp on 50 random cells of nasbench-graph (arxiv" in out
    code, out, err = run(capsys, "predictors", "rank", str(path), "--top", "3", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 3 and rows[0]["mean"] >= rows[1]["mean"] >= rows[2]["mean"]
    for r in rows:  # NAS-Bench-Graph's own arch strings, read back to the same cells
        assert nbgraph.space.index(r["arch"]) == r["index"]
