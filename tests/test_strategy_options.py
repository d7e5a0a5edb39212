"""`nasscout run --option STRATEGY.KEY=VALUE`: typed by the strategy's signature, refused in one line when the
key or the value is wrong, recorded in meta.json, shown in the report, held fixed on --resume."""

from __future__ import annotations

import json

import pytest

from strategies.cli.main import main
from strategies.options import parse_options, split_pairs
from surrogate.errors import NasscoutError


def cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "pair, strategy, key, value",
    [
        ("rea.population_size=50", "rea", "population_size", 50),
        ("bo-gp.acquisition=ucb", "bo-gp", "acquisition", "ucb"),
        ("bo-gp.ucb_beta=2", "bo-gp", "ucb_beta", 2.0),  # float | None: a float
        ("bo-gp.n_init=none", "bo-gp", "n_init", None),
        ("bo-gp.dedupe_isomorphs=false", "bo-gp", "dedupe_isomorphs", False),
        ("bo-gp.predictor_options={\"n_restarts\": 0}", "bo-gp", "predictor_options", {"n_restarts": 0}),
        ("REA.sample_size=7", "rea", "sample_size", 7),  # built-in names are case-insensitive
    ],
)  # fmt: skip
def test_values_are_typed_by_the_signature(pair, strategy, key, value):
    typed = parse_options([pair], ["rea", "bo-gp"])
    assert typed == {strategy: {key: value}}
    assert type(typed[strategy][key]) is type(value)


@pytest.mark.parametrize(
    "pair, message",
    [
        ("rea.populaton_size=5", "rea has no option 'populaton_size'; accepted: population_size (int), sample_size (int)"),
        ("rea.population_size=many", "--option rea.population_size='many' is not of type int; accepted keys of rea: population_size (int)"),
        ("rea.population_size=2.5", "is not of type int"),
        ("bo-gp.dedupe_isomorphs=maybe", "is not of type bool | none"),
        ("bo-gp.predictor_options=[1", "is not of type dict | none"),
        ("ls.anything=1", "--option for 'ls', which is not in --strategy; accepted: options of rea, bo-gp"),
        ("rea=5", "--option 'rea=5' is invalid; accepted: STRATEGY.KEY=VALUE"),
        ("rea.population_size", "is invalid; accepted: STRATEGY.KEY=VALUE"),
    ],
)  # fmt: skip
def test_bad_options_name_what_is_accepted(pair, message):
    with pytest.raises(NasscoutError) as info:
        parse_options([pair], ["rea", "bo-gp"])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_import_path_keys_split_at_the_last_dot():
    assert split_pairs(["my.pkg.mod:Greedy.n_init=3"]) == {"my.pkg.mod:Greedy": {"n_init": "3"}}


def test_options_run_are_recorded_reported_and_held_on_resume(nb201, tmp_path, capsys):
    out, default = tmp_path / "opt", tmp_path / "default"
    base = (
        "run",
        "--strategy",
        "rea,bo-gp",
        "--seeds",
        "2",
        "--budget-queries",
        "16",
        "--jobs",
        "1",
        "-q",
    )
    opts = ("--option", "rea.population_size=8", "--option", "rea.sample_size=3",
            "--option", "bo-gp.acquisition=ucb", "--option", "bo-gp.n_init=6")  # fmt: skip
    code, _, err = cli(capsys, *base, *opts, "--out", out)
    assert code == 0, err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["config"]["options"] == {
        "rea": {"population_size": 8, "sample_size": 3},
        "bo-gp": {"acquisition": "ucb", "n_init": 6},
    }
    assert meta["strategy_options"]["rea"]["population_size"] == 8  # as run, next to the defaults
    code, text, _ = cli(capsys, "report", out, "--no-plots")
    header = text.splitlines()[1]
    assert header == (
        "strategy options: rea.population_size=8, rea.sample_size=3, bo-gp.acquisition=ucb, bo-gp.n_init=6"
    )
    # the options change what the strategies do (same seeds, defaults differ)
    code, _, err = cli(capsys, *base, "--out", default)
    assert code == 0, err
    assert (out / "results.csv").read_text() != (default / "results.csv").read_text()
    # resume: the run's options are kept when not repeated; another value is refused in one line
    code, _, err = cli(capsys, "run", "--out", out, "--resume", "-q")
    assert code == 0, err
    code, _, err = cli(
        capsys, "run", "--out", out, "--resume", "-q", "--option", "rea.population_size=9"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert (
        "cannot resume: --option rea.population_size=9 differs from the run's rea.population_size=8"
        in err
    )


def test_a_value_the_strategy_refuses_is_one_line(nb201, tmp_path, capsys):
    code, _, err = cli(capsys, "run", "--strategy", "bo-gp", "--option", "bo-gp.acquisition=pi",
                       "--out", tmp_path / "x")  # fmt: skip
    assert code == 2 and "bo-gp: unknown acquisition 'pi'; accepted: ei, ucb" in err
    code, _, err = cli(capsys, "run", "--strategy", "rea", "--option", "rea.sample_size=40",
                       "--out", tmp_path / "x")  # fmt: skip
    assert code == 2 and "sample_size 40 exceeds population_size 30" in err
    assert not (tmp_path / "x").exists()
