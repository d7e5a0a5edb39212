"""``nasscout report``: the regret table (or JSON) of a run directory, and its two plots."""

from __future__ import annotations

import json
from pathlib import Path

import click

from surrogate.errors import NasscoutError


@click.command("report")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object keyed by strategy.")
@click.option("--no-plots", is_flag=True, help="Skip writing the PNG plots.")
def report(directory: Path, as_json: bool, no_plots: bool) -> None:
    """Summarise the run in DIRECTORY: regret (pp) and test accuracy at 25/50/100/200 queries and at the end.

    Rewrites DIRECTORY/results.csv from the journal first (so an interrupted run can be reported), then
    writes regret_vs_queries.png and regret_vs_time.png next to it. On a `nasscout search` directory (its
    summary.json), regenerates report.html, the three PNGs and trials.csv and prints their paths.
    """
    from strategies.completeness import notes, restrict, run_status
    from strategies.report import format_table, summarize
    from strategies.report_plots import plot_regret
    from strategies.results import load_run, nan_to_none

    if directory.exists() and not directory.is_dir():
        raise NasscoutError(
            f"{directory} is a file, not a run directory; accepted: a directory made by "
            "`nasscout run --out DIR`"
        )
    if _is_search_dir(directory):
        _search_report(directory, as_json, no_plots)
        return
    run = load_run(directory)
    df, meta = run.df, run.meta
    if len(df) == 0:
        raise NasscoutError(f"{directory} holds no evaluations yet; run or --resume it first")
    # every statistic over complete searches only (see strategies.completeness)
    status = run_status(df, meta, run.journal.contents.done if run.journal else None)
    used = restrict(df, status)
    summary = summarize(used, meta, list(status))
    for name, st in status.items():
        summary[name]["n_seeds"] = len(st.seeds_present)  # seeds with evaluations, as always
        summary[name].update(st.to_json())
    paths = []
    if not no_plots:
        try:
            paths = plot_regret(used, meta, directory)
        except OSError as exc:
            raise NasscoutError(
                f"cannot write plots to {directory}: {exc.strerror or exc}"
            ) from None
    if as_json:
        click.echo(json.dumps(nan_to_none(summary), indent=2))
        return
    left_out = len(run.journal.left_out) if run.journal else 0
    click.echo(format_table(summary, meta, notes(status, left_out)))
    if paths:
        click.echo("plots: " + ", ".join(str(p) for p in paths))


def _is_search_dir(directory: Path) -> bool:
    """A `nasscout search --out DIR` directory: a summary.json and no run journal/results beside it."""
    from strategies.journal import JOURNAL_NAME
    from strategies.results import RESULTS_NAME
    from strategies.search.report import SUMMARY_NAME

    return (directory / SUMMARY_NAME).is_file() and not any(
        (directory / name).exists() for name in (JOURNAL_NAME, RESULTS_NAME)
    )


def _search_report(directory: Path, as_json: bool, no_plots: bool) -> None:
    from strategies.search.report import write_report

    if no_plots:
        raise NasscoutError(
            f"--no-plots does not apply to the search directory {directory}: its report is the plots "
            "(report.html embeds them); accepted: `nasscout report DIR` or `--json`"
        )
    paths = write_report(directory)
    if as_json:
        click.echo(json.dumps({name: str(p) for name, p in paths.items()}, indent=2))
        return
    for name, p in paths.items():
        click.echo(f"{name}: {p}")
