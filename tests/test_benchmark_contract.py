"""ONE contract test run over every benchmark kind: what strategies, predictors and the runner may rely on.

Every new benchmark (a table of another space, a fitted surrogate, real training) is added to ``KINDS`` and
must pass every check here, which is what lets strategy code stay free of ``hasattr`` probing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from strategies.runner import Runner
from surrogate.benchmark import BENCHMARK_KINDS, Benchmark, Metric, Records
from surrogate.errors import NasscoutError
from surrogate.space import SearchSpace

REPO = Path(__file__).resolve().parents[1]
TRAINED = (1000, 6111, 9930)


@cache
def _tiny_training(root: str):
    from surrogate.training.benchmark import TrainingBenchmark
    from surrogate.training.presets import get_preset

    tiny = {"n_train": 256, "n_valid": 128, "n_test": 128, "C": 4, "N": 1, "image_size": 8}
    bench = TrainingBenchmark(
        "fashion-mnist", get_preset("cpu-mini", tiny, epochs=2), store=Path(root) / "t.h5"
    )
    bench.query(list(TRAINED), dataset="fashion-mnist")
    return bench


@cache
def _surrogate(source: str, dataset: str, root: str):
    """A quick XGBoost surrogate of ``source``'s ``dataset``, fitted on 10% of its cells, saved and reopened."""
    from predictors.surrogate_fit import fit_surrogate
    from surrogate.fitted import SurrogateBenchmark
    from surrogate.registry import load_benchmark
    from surrogate.tabular import TabularBenchmark

    path = Path(root) / f"{source.replace('/', '_')}-{dataset}.nss"
    truth = (
        TabularBenchmark.open(REPO / "datasets" / source)
        if source.endswith(".h5")
        else load_benchmark(source)
    )
    options = {"n_members": 1, "n_estimators": 100}
    fit_surrogate(truth, dataset, train_fraction=0.1, seed=0, options=options).save(path)
    return SurrogateBenchmark.open(path)


@cache
def _curve_surrogate(table: str, dataset: str, root: str):
    """A quick curve surrogate of one of our tables with curves (all its cells' curves), saved and reopened."""
    from predictors.curve_surrogate_fit import fit_curve_surrogate
    from surrogate.fitted import SurrogateBenchmark
    from surrogate.tabular import TabularBenchmark

    path = Path(root) / f"curves-{table}-{dataset}.nss"
    truth = TabularBenchmark.open(REPO / "datasets" / table)
    options = {"n_members": 1, "n_estimators": 60}
    fit_curve_surrogate(truth, dataset, train_fraction=0.8, seed=0, options=options).save(path)
    return SurrogateBenchmark.open(path)


@cache
def _oneshot(root: str):
    """A tiny supernet (2 epochs of a small Fashion-MNIST slice) with 60 cells scored, opened as oneshot:FILE."""
    from surrogate.registry import load_benchmark
    from surrogate.training.presets import get_preset
    from surrogate.training.supernet_score import ScoreSettings, supernet_scores
    from surrogate.training.supernet_train import SupernetRun, train_supernet

    tiny = {"n_train": 256, "n_valid": 128, "n_test": 128, "C": 4, "N": 1, "image_size": 8}
    out = Path(root) / "sn.pt"
    train_supernet(SupernetRun("fashion-mnist", get_preset("cpu-mini", tiny), 2, out))
    cells = np.random.default_rng(0).choice(15625, 60, replace=False)
    supernet_scores(out, cells, ScoreSettings(recal_batches=2))
    return load_benchmark(f"oneshot:{out}")


def _open(kind: str, tmp_root: Path, tables: dict | None = None):
    from surrogate.registry import load_benchmark
    from surrogate.tabular import TabularBenchmark

    if kind.startswith("surrogate-curves:"):
        table, ds = kind.removeprefix("surrogate-curves:").split("/")
        return _curve_surrogate(table, ds, str(tmp_root)), ds
    if kind.startswith("surrogate:"):
        source, ds = kind.removeprefix("surrogate:").split("/")
        return _surrogate(source, ds, str(tmp_root)), ds
    if kind == "nb201":
        return load_benchmark("nb201"), "cifar10"
    if kind == "fmnist-mini":
        return TabularBenchmark.open(REPO / "datasets" / "nb201-fmnist-mini.h5"), "fashion-mnist"
    if kind == "training":
        return _tiny_training(str(tmp_root)), "fashion-mnist"
    if kind == "oneshot":
        return _oneshot(str(tmp_root)), "fashion-mnist"
    if kind == "table-import":  # a user's CSV of 400 real NB201 cells at 12 and 200 epochs
        return _imported_table(str(tables["two"])), "my-cifar10"
    name, ds = kind.split("/")
    return load_benchmark(name), ds


@cache
def _imported_table(csv: str):
    """`nasscout data import table` of a user's CSV (conftest.user_tables: real NB201 rows)."""
    from surrogate.import_table import import_table
    from surrogate.tabular import TabularBenchmark

    out = Path(csv).with_suffix(".contract.h5")
    import_table(csv, space="nb201", dataset="my-cifar10", out=out)
    return TabularBenchmark.open(out)


KINDS = [
    "nb201",
    "fmnist-mini",
    "table-import",
    "training",
    "oneshot",  # a trained supernet's inherited-weight scores (60 cells scored, one per class broadcast)
    "transnas-micro/class_object",
    "transnas-micro/room_layout",  # a negative loss: still higher is better
    "nasbench-graph/cora",
    "nasbench-graph/proteins",  # a dataset with fewer ops: a subset of the space's cells
    "surrogate:nb201/cifar10",  # fitted surrogates: two fidelities, three seeds of learned noise
    "surrogate:nb201-fmnist-mini.h5/fashion-mnist",  # 200 trained cells -> 10,000 cells with their ops
    "surrogate:nasbench-graph/proteins",  # a surrogate answers only cells whose ops its data trained
    "surrogate:transnas-micro/room_layout",  # a loss: the surrogate keeps the table's metric
    "surrogate-curves:nb201-fmnist-mini.h5/fashion-mnist",  # whole curves; epochs 2, 7, 20 as fidelities
]


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory):
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(params=KINDS)
def bench_ds(request, shared_data, tmp_root, user_tables):
    return _open(request.param, tmp_root, user_tables)


def test_names_kinds_and_space(bench_ds):
    b, ds = bench_ds
    assert isinstance(b, Benchmark)
    assert isinstance(b.name, str) and b.name and b.kind in BENCHMARK_KINDS
    assert isinstance(b.space, SearchSpace) and b.space.n_cells > 0
    assert ds in b.datasets and b.dataset(ds) == ds and b.dataset(ds.upper()) == ds
    with pytest.raises(NasscoutError, match="unknown dataset 'no-such-data'.*accepted: "):
        b.dataset("no-such-data")
    m = b.metric(ds)
    assert isinstance(m, Metric) and m.name and m.higher_is_better is True


def test_fidelities_seeds_and_cells(bench_ds):
    b, ds = bench_ds
    fids = b.fidelities_for(ds)
    assert len(fids) >= 1 and list(fids) == sorted(set(fids)) and all(f > 0 for f in fids)
    for f in fids:
        seeds = b.seeds(ds, f)
        assert len(seeds) >= 1 and all(isinstance(s, int) for s in seeds)
    cells = b.cells_for(ds)
    assert cells.dtype == np.int64 and cells.size >= 1
    assert np.all(np.diff(cells) > 0) and cells.min() >= 0 and cells.max() < b.space.n_cells


def test_query_is_vectorised_and_seeded(bench_ds):
    b, ds = bench_ds
    cells = b.cells_for(ds)[:50]
    top = max(b.fidelities_for(ds))
    mean = b.query(cells, dataset=ds, seed="mean")
    assert isinstance(mean, Records) and len(mean) == len(cells) and mean.fidelity == top
    assert np.array_equal(mean.index, cells) and np.all(np.isfinite(mean.valid_acc))
    i = len(cells) // 2
    one = b.query(cells[i : i + 1], dataset=ds, seed="mean")
    assert one.valid_acc[0] == mean.valid_acc[i]  # a batch answers exactly what single queries do
    draw = [b.query(cells, dataset=ds, seed=np.random.default_rng(7)).valid_acc for _ in range(2)]
    assert np.array_equal(draw[0], draw[1])  # same seed, same noisy draw
    per_seed = np.column_stack(
        [b.query(cells, dataset=ds, seed=s).valid_acc for s in b.seeds(ds, top)]
    )
    assert np.all((draw[0] >= np.nanmin(per_seed, 1)) & (draw[0] <= np.nanmax(per_seed, 1)))
    with pytest.raises(NasscoutError, match="fidelity"):
        b.query(cells, dataset=ds, fidelity=10**6)


def test_cost_and_best(bench_ds):
    b, ds = bench_ds
    cells = b.cells_for(ds)
    cost = b.cost(cells[:50], dataset=ds)
    assert cost.shape == (min(50, len(cells)),) and np.all(np.isfinite(cost) & (cost >= 0))
    index, value = b.best(ds)
    assert index in set(cells.tolist())
    everything = b.query(cells, dataset=ds, seed="mean").valid_acc
    assert value == pytest.approx(np.nanmax(everything))


def test_the_runner_drives_it_with_no_knowledge_of_its_kind(bench_ds):
    b, ds = bench_ds
    traj = Runner(b, dataset=ds, seed=0, budget_queries=3).run("rs")
    assert len(traj) == 3 and np.all(traj.column("cost_s") >= 0)
    if (
        b.kind != "training"
    ):  # a table or surrogate answers only its cells: strategies propose only those
        assert set(traj.column("index").tolist()) <= set(b.cells_for(ds).tolist())


@pytest.mark.parametrize(
    "strategy", ["rs", "rea", "evolution", "reinforce", "ls", "nsga2", "bo-gp", "bananas", "pnas"]
)
@pytest.mark.parametrize(
    "kind", ["fmnist-mini", "nasbench-graph/proteins", "surrogate:nasbench-graph/proteins"]
)
def test_every_strategy_proposes_only_cells_a_table_holds(strategy, kind, shared_data, tmp_root):
    """A table of 200 trained cells, a dataset with fewer ops (and its surrogate): strategies search that
    subset only."""
    b, ds = _open(kind, tmp_root)
    traj = Runner(b, dataset=ds, seed=1, budget_queries=30, observe="mean").run(strategy)
    assert len(traj) == 30
    assert set(traj.column("index").tolist()) <= set(b.cells_for(ds).tolist())
