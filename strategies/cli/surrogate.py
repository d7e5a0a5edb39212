"""``nasscout surrogate``: fit a surrogate benchmark on a fraction of a table, validate it against the table."""

from __future__ import annotations

import json
import sys
import time

import click

from surrogate.errors import NasscoutError


@click.group(invoke_without_command=True)
@click.pass_context
def surrogate(ctx: click.Context) -> None:
    """Fitted surrogate benchmarks (NAS-Bench-301's method), checked where the whole truth is known."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@surrogate.command("fit")
@click.option(
    "--benchmark", default="nb201", show_default=True, help="A tabular benchmark name or .h5 file."
)
@click.option("--dataset", default="cifar10", show_default=True)
@click.option(
    "--model", default="xgb", show_default=True, help="xgb, gp, gin, ensemble, rf or mlp-ensemble."
)
@click.option(
    "--train-fraction",
    default=None,
    help="Fraction of cells to fit on, in (0, 1]  [default: 0.1; 0.8 with --curves].",
)
@click.option(
    "--curves",
    "curves",
    default=None,
    help="Fit a curve surrogate (whole per-epoch curves) from a table with curves: svd or param.",
)
@click.option(
    "--rungs",
    default=None,
    help="With --curves: epochs as fidelities, e.g. 2,6,17,50 [default: T/3^k].",
)
@click.option(
    "--components",
    type=int,
    default=None,
    help="With --curves svd: SVD components per curve, 1..8 [default: 5].",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Cell sample, model and noise seed."
)
@click.option("--option", "option_pairs", multiple=True, help="KEY=VALUE model option, repeatable.")
@click.option("--out", "out_path", required=True, help="The surrogate file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the file's summary as JSON.")
def fit_cmd(
    benchmark: str,
    dataset: str,
    model: str,
    train_fraction: str | None,
    curves: str | None,
    rungs: str | None,
    components: int | None,
    seed: int,
    option_pairs: tuple[str, ...],
    out_path: str,
    as_json: bool,
) -> None:
    """Fit a surrogate of one dataset of a benchmark and save it as one file."""
    from predictors.surrogate_fit import check_fraction, check_model, fit_surrogate
    from strategies.cli.predictors import _options
    from surrogate.curve_parts import check_method
    from surrogate.registry import load_benchmark

    if curves is not None:
        check_method(curves)
    elif rungs is not None or components is not None:
        flag = "--rungs" if rungs is not None else "--components"
        raise NasscoutError(f"{flag} applies to a curve surrogate only; add --curves svd")
    if train_fraction is None:
        train_fraction = "0.8" if curves else "0.1"
    model, fraction = check_model(model), check_fraction(train_fraction)
    options = _options(option_pairs, scoped=False)
    if benchmark.startswith("surrogate:"):
        raise NasscoutError(
            f"benchmark {benchmark!r} is a surrogate; accepted: a tabular benchmark to fit on"
        )
    truth = load_benchmark(benchmark)
    if truth.kind != "tabular":
        raise NasscoutError(
            f"benchmark {benchmark!r} is {truth.kind}; accepted: a tabular benchmark"
        )
    from pathlib import Path

    # a table file is recorded by its absolute path, so `validate` finds it from any folder
    source = str(Path(benchmark).resolve()) if Path(benchmark).is_file() else benchmark
    t0 = time.perf_counter()
    common = {"model": model, "train_fraction": fraction, "seed": seed, "options": options}
    if curves:
        from predictors.curve_surrogate_fit import fit_curve_surrogate

        sur = fit_curve_surrogate(
            truth,
            dataset,
            method=curves,
            rungs=rungs,
            components=components,
            source_name=source,
            **common,
        )
    else:
        sur = fit_surrogate(truth, dataset, source_name=source, **common)
    sur.save(out_path)
    info = {**sur.info(), **sur.info()["surrogate"]}
    info["fit_seconds"] = round(time.perf_counter() - t0, 2)
    del info["surrogate"]
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    src = info["source"]
    click.echo(
        f"fitted {model} on {info['train_cells']} of {src['cells']} cells of {src['benchmark']} "
        f"{src['dataset']} (fraction {fraction:g}, seed {seed}) in {info['fit_seconds']} s"
    )
    click.echo(
        f"answers {info['cells']} cells at fidelities {', '.join(map(str, info['fidelities']))}"
    )
    if "curves" in info:
        c, n = info["curves"], info["noise"]["curves"]
        click.echo(
            f"curves: {c['method']} with {c['components']} components over {c['epochs']} epochs "
            f"({c['train_curves']} training curves)"
        )
        what = (
            "seed-to-seed"
            if c["noise_source"] == "seeds"
            else "epoch jitter only (one seed per cell)"
        )
        click.echo(
            f"curve noise: {what}, {n['donors']} donors x {n['seeds']} seeds, residual std "
            f"{n['std_first_epoch']:.2f} at epoch 1, {n['std_last_epoch']:.2f} at epoch {c['epochs']}"
        )
        click.echo(f"wrote {out_path}")
        return
    for f, n in info["noise"].items():
        std = n.get("std")
        spread = f"{min(std):.2f}-{max(std):.2f} points over {n['bins']} bins" if std else n["note"]
        click.echo(f"seed noise at {f}: {spread}")
    click.echo(f"wrote {out_path}")


@surrogate.command("validate")
@click.argument("path")
@click.option(
    "--strategies",
    default=None,
    help="Comma-separated [default: rs,rea,evolution,reinforce,ls,nsga2,bo-gp,hyperband].",
)
@click.option(
    "--seeds",
    "n_seeds",
    type=int,
    default=5,
    show_default=True,
    help="Runs per strategy (seeds 0..N-1).",
)
@click.option("--budget", type=int, default=100, show_default=True, help="Queries per run.")
@click.option(
    "--out", "out_dir", default=None, help="Write validation.json, noise.png and regret.png here."
)
@click.option(
    "--orders",
    type=int,
    default=100,
    show_default=True,
    help="Curve surrogates: random training orders of the early-stopping check.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate_cmd(
    path: str,
    strategies: str | None,
    n_seeds: int,
    budget: int,
    out_dir: str | None,
    orders: int,
    as_json: bool,
) -> None:
    """Held-out accuracy, seed noise and strategy fidelity of a surrogate against its table.

    For a curve surrogate: held-out curve error per epoch, final-value Kendall tau, noise against the real
    runs and early-stopping savings on real vs surrogate curves of the same cells."""
    from strategies.surrogate_validate import validate
    from surrogate.fitted import SurrogateBenchmark

    names = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
    sur = SurrogateBenchmark.open(path)
    if "curves" in sur.header:
        _validate_curves(sur, strategies, orders, out_dir, as_json)
        return
    res = validate(sur, strategies=names, n_seeds=n_seeds, budget=budget, out_dir=out_dir)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    echo_validation(res)


def echo_validation(res: dict) -> None:
    click.echo(
        f"{res['source']} {res['dataset']}: {res['model']} fitted on {res['n_train_cells']} cells "
        f"({res['train_fraction']:g}); {res['n_heldout']} held-out cells"
    )
    for f, m in res["per_fidelity"].items():
        click.echo(
            f"  held-out @{f:>4}: R2 {m['r2']:.3f}  Kendall tau {m['kendalltau']:.3f}  MAE {m['mae']:.3f}"
            f"  cost error {m['cost_mape']:.1%}"
        )
    n = res["noise"]
    if "ks_statistic" in n:
        click.echo(
            f"  seed spread @{n['fidelity']}: KS D {n['ks_statistic']:.3f} (p {n['ks_pvalue']:.3g}, "
            f"{n['n_cells']} cells); median std real {n['real_std_median']:.3f}, "
            f"surrogate {n['surrogate_std_median']:.3f}"
        )
    else:
        click.echo(f"  seed spread: {n['note']}")
    click.echo(
        f"  {'strategy':12s} {'regret truth':>12s} {'surrogate':>10s} {'max gap':>8s} {'at':>4s}"
    )
    for name, r in res["strategies"].items():
        click.echo(
            f"  {name:12s} {r['final_regret_truth']:12.3f} {r['final_regret_surrogate']:10.3f} "
            f"{r['max_anytime_gap']:8.3f} {r['max_gap_at'] or '-':>4}"
        )
    click.echo(
        f"  Spearman of final regrets {res['strategy_regret_spearman']:.3f} over {res['n_strategies']} "
        f"strategies x {res['n_seeds']} seeds ({res['budget_queries']} queries); largest anytime gap "
        f"{res['max_anytime_gap']:.3f} points"
    )
    sys.stdout.flush()


def _validate_curves(
    sur: object, strategies: str | None, orders: int, out_dir: str | None, as_json: bool
) -> None:
    from pathlib import Path

    from strategies.curve_validate import validate_curves

    if strategies:
        raise NasscoutError(
            f"--strategies {strategies!r} does not apply to a curve surrogate; its validation compares "
            "curves and early stopping (--orders)"
        )
    res = validate_curves(sur, orders=orders)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "validation.json").write_text(json.dumps(res, indent=2) + "\n")
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    echo_curve_validation(res)


def echo_curve_validation(res: dict) -> None:
    click.echo(
        f"{res['source']} {res['dataset']}: {res['method']} curves ({res['components']} components, "
        f"{res['model']}) fitted on {res['n_train_cells']} cells ({res['train_fraction']:g}); "
        f"{res['n_heldout']} held-out cells x {res['epochs']} epochs"
    )
    per = res["curve_mae_per_epoch"]
    marks = sorted({0, len(per) // 4, len(per) // 2, len(per) - 1})
    at = ", ".join(f"epoch {i + 1} {per[i]:.2f}" for i in marks)
    click.echo(f"  curve MAE {res['curve_mae']:.3f} points ({at})")
    click.echo(
        f"  final epoch: Kendall tau {res['final_kendalltau']:.3f}  R2 {res['final_r2']:.3f}  "
        f"MAE {res['final_mae']:.3f}"
    )
    n = res["noise"]
    line = f"  noise ({res['noise_source']}): roughness surrogate/real, median over epochs {n['roughness_ratio_median']:.2f}"
    if "seed_std_ratio_median" in n:
        line += (
            f"; seed std surrogate/real {n['seed_std_ratio_median']:.2f} ({n['seed_cells']} cells)"
        )
    click.echo(line)
    click.echo(
        f"  early stopping over {res['orders']} orders   saving real / surrogate (mean curve)   "
        "regret real / surrogate (mean curve)"
    )
    for rule, r in res["early_stop"].items():
        click.echo(
            f"  {rule:26s} {r['real']['epoch_saving']:5.2f}x / {r['surrogate']['epoch_saving']:5.2f}x "
            f"({r['surrogate_mean']['epoch_saving']:5.2f}x)   {r['real']['regret_mean']:6.3f} / "
            f"{r['surrogate']['regret_mean']:6.3f} ({r['surrogate_mean']['regret_mean']:6.3f})"
        )
    click.echo(
        f"  largest gap: saving {res['early_stop_saving_max_gap']:.2f}x, regret "
        f"{res['early_stop_regret_max_gap']:.3f} points"
    )
    sys.stdout.flush()
