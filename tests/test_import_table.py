"""`nasscout data import table`: a user's CSV/Parquet of trained archs becomes a benchmark, and every bad row
is refused with its line number (real NB201 rows from the public merged CSV, see conftest.user_tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strategies.cli.main import main
from strategies.runner import Runner
from surrogate.errors import NasscoutError
from surrogate.import_table import import_table
from surrogate.tabular import TabularBenchmark


def cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def imported(user_tables, tmp_path_factory):
    out = tmp_path_factory.mktemp("imp") / "mine.h5"
    import_table(user_tables["long"], space="nb201", dataset="my-cifar10", out=out, epochs=200)
    return TabularBenchmark.open(out)


def test_the_table_answers_exactly_its_rows(imported, user_tables):
    b, cells = imported, user_tables["cells"]
    assert np.array_equal(b.cells_for("my-cifar10"), cells)  # sorted, only the 400 cells given
    assert b.fidelities_for("my-cifar10") == (200,) and b.seeds("my-cifar10", 200) == [0, 1, 2]
    for s in range(3):
        got = b.query(cells, dataset="my-cifar10", seed=s).valid_acc
        want = user_tables["per_seed"][:, s]
        known = np.isfinite(want)
        assert np.allclose(got[known], want[known], atol=1e-4) and np.all(np.isnan(got[~known]))
    assert np.allclose(b.cost(cells, dataset="my-cifar10"), user_tables["time"], rtol=1e-6)
    with pytest.raises(NasscoutError, match="not in"):  # a cell nobody trained is not in it
        b.query([int(np.setdiff1d(np.arange(15625), cells)[0])], dataset="my-cifar10")


def test_real_values_agree_with_the_nb201_table(imported, user_tables, nb201):
    cells = user_tables["cells"]
    mine = imported.query(cells, dataset="my-cifar10", seed="mean").valid_acc
    theirs = nb201.query(cells, dataset="cifar10", fidelity=200, seed="mean").valid_acc
    assert np.allclose(mine, theirs, atol=1e-3)


def test_parquet_and_one_column_per_seed_give_the_same_benchmark(imported, user_tables, tmp_path):
    cells = user_tables["cells"]
    want = imported.query(cells, dataset="my-cifar10", seed="mean").valid_acc
    for key in ("parquet", "wide"):
        out = tmp_path / f"{key}.h5"
        import_table(user_tables[key], space="nb201", dataset="my-cifar10", out=out, epochs=200)
        b = TabularBenchmark.open(out)
        got = b.query(cells, dataset="my-cifar10", seed="mean").valid_acc
        assert np.array_equal(got, want), key


def test_strategies_search_only_the_cells_it_holds(imported, user_tables):
    traj = Runner(imported, dataset="my-cifar10", seed=4, budget_queries=60).run("rea")
    assert len(traj) == 60
    assert set(traj.column("index").tolist()) <= set(user_tables["cells"].tolist())


def test_two_fidelities_from_an_epochs_column(user_tables, tmp_path, capsys):
    out = tmp_path / "two.h5"
    code, text, err = cli(
        capsys, "data", "import", "table", user_tables["two"], "--dataset", "mine", "--out", out
    )
    assert code == 0, err
    assert "400 nb201 cells" in text and "next: nasscout run --benchmark" in text
    b = TabularBenchmark.open(out)
    assert b.fidelities_for("mine") == (12, 200)
    hp12 = b.query(user_tables["cells"], dataset="mine", fidelity=12, seed="mean").valid_acc
    assert np.allclose(hp12, user_tables["hp12"], atol=1e-4)
    # no training times at 12 epochs: unknown, and an evaluation there costs 0 simulated seconds
    assert np.all(b.cost(user_tables["cells"], dataset="mine", fidelity=12) == 0)
    traj = Runner(b, dataset="mine", seed=0, budget_queries=40).run("hyperband")
    assert set(traj.column("fidelity").tolist()) == {12, 200}


def _lines(path) -> list[str]:
    return path.read_text().splitlines()


@pytest.fixture
def small_csv(user_tables, tmp_path):
    """The first 30 data rows of the user's CSV (line numbers as in the file: the header is line 1)."""
    lines = _lines(user_tables["long"])[:31]
    return lines, tmp_path


def _bad(small_csv, edit) -> tuple:
    lines, tmp = small_csv
    lines = list(lines)
    edit(lines)
    path = tmp / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _set(lines: list[str], line: int, column: int, value: str) -> None:
    fields = lines[line - 1].split(",")
    fields[column] = value
    lines[line - 1] = ",".join(fields)


BAD = {  # what the user did -> (edit of the CSV lines, what the one line must say)
    "bad arch string on line 17": (
        lambda ls: _set(ls, 17, 0, "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
        r"line 17: arch '\|conv_9x9~0\|.*' is no cell of nb201 \(unknown op 'conv_9x9'",
    ),
    "arch index out of range": (lambda ls: _set(ls, 5, 0, "15625"), r"line 5: arch '15625'"),
    "NaN accuracy": (lambda ls: _set(ls, 9, 2, "nan"), r"line 9: valid_acc is empty or NaN"),
    "empty accuracy": (lambda ls: _set(ls, 9, 2, ""), r"line 9: valid_acc is empty or NaN"),
    "accuracy above 100": (
        lambda ls: _set(ls, 4, 2, "190.5"),
        r"line 4: valid_acc 190.5 is outside 0..100 %",
    ),
    "text as a number": (
        lambda ls: _set(ls, 6, 2, "ninety"),
        r"line 6: valid_acc 'ninety' is not a number",
    ),
    "negative training time": (
        lambda ls: _set(ls, 7, 3, "-5"),
        r"line 7: train_time_s -5 is outside 0..inf seconds",
    ),
    "seed not an integer": (
        lambda ls: _set(ls, 8, 1, "1.5"),
        r"line 8: seed 1.5 is not an integer",
    ),
    "duplicate (arch, seed)": (
        lambda ls: ls.append(ls[9]),
        r"line 32: repeats the arch of line 10; \(arch, seed, epochs\) must be unique",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_rows_are_one_line_with_their_line_numbers(case, small_csv, capsys):
    edit, pattern = BAD[case]
    path = _bad(small_csv, edit)
    out = path.with_suffix(".h5")
    code, _, err = cli(
        capsys, "data", "import", "table", path, "--dataset", "d", "--out", out, "--epochs", "200"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "nothing imported" in err
    import re

    assert re.search(pattern, err), err
    assert not out.exists()  # nothing written


def test_several_bad_rows_are_all_counted(small_csv, capsys):
    def edit(ls):
        for line in (3, 12, 20, 25):
            _set(ls, line, 2, "101")

    path = _bad(small_csv, edit)
    code, _, err = cli(capsys, "data", "import", "table", path, "--dataset", "d", "--out",
                       path.with_suffix(".h5"), "--epochs", "200")  # fmt: skip
    assert code == 2 and "4 bad lines" in err and "(and 1 more)" in err and "line 3:" in err


def test_repeated_archs_without_a_seed_column_are_refused(small_csv, capsys):
    lines, tmp = small_csv
    no_seed = [",".join(f for i, f in enumerate(line.split(",")) if i != 1) for line in lines]
    df = pd.read_csv(pd.io.common.StringIO("\n".join(no_seed)))
    first = df.index[df["arch"].duplicated(keep=False)]
    assert len(first) >= 2  # real rows: three seeds per arch -> repeats
    path = tmp / "noseed.csv"
    path.write_text("\n".join(no_seed) + "\n")
    code, _, err = cli(capsys, "data", "import", "table", path, "--dataset", "d", "--out",
                       tmp / "x.h5", "--epochs", "200")  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "repeats the arch of line" in err and "add a seed column" in err


@pytest.mark.parametrize(
    "header, pattern",
    [
        (
            "name,seed,valid_acc",
            r"has no 'arch' column \(found: name, seed, valid_acc, train_time_s",
        ),
        ("arch,seed,accuracy", r"has no validation accuracy column"),
    ],
)
def test_missing_columns(header, pattern, small_csv, capsys):
    import re

    path = _bad(small_csv, lambda ls: ls.__setitem__(0, header + ",train_time_s,params_m"))
    code, _, err = cli(capsys, "data", "import", "table", path, "--dataset", "d", "--out",
                       path.with_suffix(".h5"), "--epochs", "200")  # fmt: skip
    assert code == 2 and re.search(pattern, err), err


def test_other_input_mistakes(user_tables, tmp_path, capsys):
    args = ("data", "import", "table", user_tables["long"], "--out", tmp_path / "x.h5")
    code, _, err = cli(capsys, *args, "--dataset", "d")
    assert code == 2 and "no epochs column and no --epochs" in err
    code, _, err = cli(capsys, *args, "--dataset", "a/b", "--epochs", "200")
    assert code == 2 and "--dataset 'a/b' is invalid" in err
    code, _, err = cli(capsys, *args, "--dataset", "d", "--epochs", "200", "--space", "nb999")
    assert code == 2 and "unknown search space 'nb999'" in err
    code, _, err = cli(capsys, "data", "import", "table", tmp_path / "none.csv", "--dataset", "d",
                       "--out", tmp_path / "x.h5", "--epochs", "1")  # fmt: skip
    assert code == 2 and "does not exist" in err
