"""``nasscout curves``: learning-curve extrapolators on real curves (``eval``; ``--list``)."""

from __future__ import annotations

import click

from surrogate.errors import NasscoutError


def _list_callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from predictors.curves import EXTRAPOLATORS, extrapolator_class

        for name in EXTRAPOLATORS:
            try:
                cls = extrapolator_class(name)
            except ImportError:
                click.echo(f"{name:7s} {'-':8s} (not available in this installation)")
                continue
            kind = "trained" if cls.needs_training else "free"
            click.echo(f"{name:7s} {kind:8s} {cls.summary}")
        ctx.exit(0)


_list_option = click.option(
    "--list",
    "list_",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_callback,
    help="List the extrapolators and exit.",
)


@click.group(invoke_without_command=True)
@_list_option
@click.pass_context
def curves(ctx: click.Context) -> None:
    """Learning-curve extrapolation: predict a training's final value from its first epochs."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _cutoffs(text: str) -> tuple[float, ...]:
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            out.append(float(part))
        except ValueError:
            raise NasscoutError(
                f"cutoff {part!r} is not a number; accepted: fractions in (0, 1) like 0.1,0.25,0.5"
            ) from None
    return tuple(out)


@curves.command("eval")
@click.option(
    "--source",
    required=True,
    help="fmnist-mini, fmnist-long, nats-sample, lcdb, or a nasscout .h5 file with curves.",
)
@click.option(
    "--cutoffs",
    default="0.1,0.25,0.5",
    show_default=True,
    help="Shares of the curve seen (comma-separated).",
)
@click.option(
    "--extrapolators",
    "names",
    default=None,
    help="Comma-separated names (see --list) [default: every available one but mcmc]; "
    "mcmc runs on --mcmc-curves curves.",
)
@click.option("--folds", type=int, default=5, show_default=True, help="Folds split by cell.")
@click.option("--seed", type=int, default=0, show_default=True, help="Split and model seed.")
@click.option("--max-curves", type=int, default=None, help="Evaluate a seeded subset of curves.")
@click.option(
    "--mcmc-curves",
    type=int,
    default=20,
    show_default=True,
    help="How many curves the slow mcmc extrapolator predicts.",
)
@click.option("--option", "option_pairs", multiple=True, help="NAME.KEY=VALUE, repeatable.")
@click.option("--out", "out_dir", default=None, help="Write the table, predictions and plots here.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as a JSON list.")
@_list_option
def eval_cmd(
    source: str,
    cutoffs: str,
    names: str | None,
    folds: int,
    seed: int,
    max_curves: int | None,
    mcmc_curves: int,
    option_pairs: tuple[str, ...],
    out_dir: str | None,
    as_json: bool,
) -> None:
    """Score extrapolators on real curves: K folds by cell, the final value from the first epochs."""
    from predictors.curves.evaluation import CurveEvalSpec, available, evaluate_curves
    from predictors.curves.report import format_curve_table, write_curve_result
    from predictors.eval_report import json_dumps, stderr_log
    from strategies.cli.predictors import _name_list, _options

    spec = CurveEvalSpec(
        source=source,
        extrapolators=_name_list(names) if names is not None else available(),
        cutoffs=_cutoffs(cutoffs),
        folds=folds,
        seed=seed,
        max_curves=max_curves,
        slow_curves=mcmc_curves,
        options=_options(option_pairs, scoped=True),
        skip_unusable=names is None,
    )
    result = evaluate_curves(spec, log=stderr_log)
    if out_dir:
        path = write_curve_result(result, out_dir)
        click.echo(
            f"nasscout: wrote {path}/results.csv, results.txt, predictions.csv and plots", err=True
        )
    if as_json:
        click.echo(json_dumps(result.rows), nl=False)
    else:
        click.echo(format_curve_table(result.rows, result.meta))
