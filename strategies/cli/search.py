"""``nasscout search``: a low-cost search with real training on a dataset (strategies/search/)."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from strategies.cli.early_stop_flags import extrapolator_flags
from surrogate.errors import NasscoutError


@contextmanager
def _executor(opts: Any):
    """(executor, where, slots): a Dask cluster's workers, or a pool of local processes."""
    from surrogate.training.executors import dask_client

    if opts.dask_scheduler is not None or opts.dask_local is not None:
        with dask_client(local=opts.dask_local, scheduler=opts.dask_scheduler) as client:
            n = len(client.scheduler_info().get("workers", {}))
            slots = max(n, opts.workers if opts.dask_scheduler else 1)
            where = (
                f"Dask scheduler {opts.dask_scheduler} ({n} workers)"
                if opts.dask_scheduler
                else f"local Dask cluster of {n} workers"
            )
            yield client.get_executor(pure=False, retries=2), where, slots
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from surrogate.training.executors import _init_worker

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "surrogate.training.trainer"])
    pool = ProcessPoolExecutor(
        max_workers=opts.workers, mp_context=ctx, initializer=_init_worker, initargs=(1,)
    )
    ok = False
    try:
        yield pool, f"{opts.workers} local process{'es' * (opts.workers > 1)}", opts.workers
        ok = True
    finally:
        pool.shutdown(wait=ok, cancel_futures=True)


def _full_training_s(opts: Any) -> float:
    """Seconds one whole training of a typical cell takes here (a few timed steps)."""
    from surrogate.training.benchmark import _probe_seconds_per_mflop
    from surrogate.training.data import load_splits
    from surrogate.training.trainer import analytic_flops_m

    preset = opts.training_preset()
    splits = load_splits(opts.dataset, preset)
    return _probe_seconds_per_mflop(opts.dataset, preset) * analytic_flops_m(1000, preset, splits)


def _check_budget(opts: Any) -> float | None:
    """One line when the budget cannot pay for one training; the estimate of one (hours budget)."""
    if opts.budget_unit == "epochs":
        if opts.budget_epochs < opts.epochs:
            raise NasscoutError(
                f"--budget-epochs {opts.budget_epochs} is too small to train one candidate: one training "
                f"of preset {opts.preset} is {opts.epochs} epochs; give at least {opts.epochs} "
                f"(a useful search: 10-20 trainings, {10 * opts.epochs}-{20 * opts.epochs})"
            )
        return None
    est = _full_training_s(opts)
    if opts.budget_hours * 3600.0 < est:
        raise NasscoutError(
            f"--budget-hours {opts.budget_hours:g} is too small to train one candidate: one training of "
            f"preset {opts.preset} takes about {est / 3600:.3f} h here ({est:.0f} s, measured); give at "
            f"least {est / 3600:.3f}"
        )
    return est


def _prepare_folder(out: Path, opts: Any, resume: bool) -> dict[str, Any] | None:
    """The interrupted search's meta.json on --resume (checked against the options); None for a new one."""
    from strategies.search.options import compare_for_resume

    meta_path = out / "meta.json"
    if resume:
        if not meta_path.is_file():
            raise NasscoutError(
                f"--resume: {out} holds no search (no meta.json); drop --resume to start one there"
            )
        try:
            meta = json.loads(meta_path.read_text())
            had = meta["options"]
        except (ValueError, KeyError, TypeError):
            raise NasscoutError(
                f"--resume: {meta_path} is unreadable; start a new search"
            ) from None
        compare_for_resume(had, opts)
        return meta
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NasscoutError(
            f"--out {out} exists; add --resume to continue the search in it, or choose a new folder"
        )
    return None


@click.command("search")
@click.option(
    "--dataset",
    required=True,
    help="fashion-mnist, cifar10, cifar100, or npz:PATH (your own images).",
)
@click.option("--preset", default="cpu-mini", show_default=True, help="cpu-mini or nb201.")
@click.option("--epochs", type=int, default=None, help="Training schedule (default: the preset's).")
@click.option(
    "--budget-epochs", type=int, default=None, help="Training epochs, summed over trials."
)
@click.option(
    "--budget-hours", type=float, default=None, help="Training hours, summed over workers."
)
@click.option("--workers", type=int, default=1, show_default=True, help="Trainings at once.")
@click.option(
    "--dask-scheduler", default=None, metavar="ADDR", help="tcp://HOST:PORT of a cluster."
)
@click.option(
    "--dask-local", type=int, default=None, metavar="N", help="A local Dask cluster of N."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Search seed.")
@click.option("--prior", default="auto", show_default=True, help="nb201:DATASET, auto or none.")
@click.option(
    "--early-stop",
    type=click.Choice(["domhan", "median", "none"]),
    default="domhan",
    show_default=True,
    help="Stop hopeless trainings by curve extrapolation (domhan) or the median rule.",
)
@click.option("--early-stop-threshold", type=float, default=0.05, show_default=True)
@extrapolator_flags("1, 10 with --early-stop-fit")
@click.option(
    "--early-stop-calibration",
    default=None,
    metavar="FILE.h5",
    help="domhan: calibrate the extrapolator from the start on the complete curves of an earlier study "
    "(a table or a search's runs.h5 with the same schedule); implies --early-stop-fit.",
)
@click.option(
    "--checkpoints",
    default="0.25,0.5,0.75",
    show_default=True,
    help="Fractions of the schedule where a training may be stopped.",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a preset option.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--out", required=True, type=click.Path(), help="Search folder.")
@click.option("--resume", is_flag=True, help="Continue the (killed) search in --out.")
@click.option("--quiet", is_flag=True, help="No live view.")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
def search(**kw: Any) -> None:
    """Search NB201 cells on DATASET, training only the promising ones (strategy lowcost)."""
    from strategies.search.options import SearchOptions, check_options, parse_checkpoints
    from surrogate.training.presets import parse_overrides

    opts = check_options(
        SearchOptions(
            dataset=kw["dataset"],
            preset=kw["preset"],
            epochs=kw["epochs"],
            budget_epochs=kw["budget_epochs"],
            budget_hours=kw["budget_hours"],
            seed=kw["seed"],
            prior=kw["prior"],
            early_stop=kw["early_stop"],
            threshold=kw["early_stop_threshold"],
            extrapolator=kw["early_stop_extrapolator"],
            fit=kw["early_stop_fit"],
            min_completed=kw["early_stop_min_completed"],
            calibration=kw["early_stop_calibration"],
            checkpoints=parse_checkpoints(kw["checkpoints"]),
            workers=kw["workers"],
            dask_scheduler=kw["dask_scheduler"],
            dask_local=kw["dask_local"],
            device=kw["device"],
            overrides=tuple(parse_overrides(kw["sets"]).items()),
        )
    )
    out = Path(kw["out"])
    meta = _prepare_folder(out, opts, kw["resume"])
    from surrogate.training.data import load_splits

    load_splits(opts.dataset, opts.training_preset())  # one line when the data is not available
    full_s = _check_budget(opts)
    if meta is not None and full_s is None and opts.budget_unit == "hours":
        full_s = meta.get("full_training_s")
    if opts.dask_scheduler is not None:  # reach it before anything is written
        from surrogate.training.executors import dask_client

        with dask_client(scheduler=opts.dask_scheduler):
            pass
    _run(opts, out, meta, full_s, quiet=kw["quiet"], as_json=kw["as_json"])


def _run(opts: Any, out: Path, meta: dict | None, full_s: float | None, **kw: Any) -> None:
    from strategies.search.driver import Search
    from strategies.search.live import LiveView
    from surrogate.atomic import atomic_write

    view = LiveView(opts, quiet=kw["quiet"])
    s = Search(opts, out, on_event=view, full_training_s=full_s)
    if meta is None:
        import platform

        import torch

        out.mkdir(parents=True, exist_ok=True)
        new_meta = {
            "kind": "nasscout-search",
            "options": opts.what(),
            "where": {k: v for k, v in opts.to_json().items() if k not in opts.what()},
            "full_training_s": full_s,
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": platform.python_version(),
            "torch": torch.__version__,
        }
        atomic_write(out / "meta.json", json.dumps(new_meta, indent=1) + "\n")
    else:
        s.replay()
    try:
        summary = s.run(lambda: _executor(opts))
    except KeyboardInterrupt:
        view.close()
        click.echo(
            f"nasscout: interrupted; {s.state.spent_epochs} epochs trained are kept in {out}; continue "
            "with the same command and --resume",
            err=True,
        )
        sys.exit(130)
    view.close()
    paths = _report(out)
    if kw["as_json"]:
        brief = {k: v for k, v in summary.items() if k != "trials"}
        brief["n_trials"] = len(summary["trials"])
        brief["report"] = {k: str(v) for k, v in paths.items()}
        click.echo(json.dumps(brief, indent=1))
        return
    click.echo(_text(summary, paths))


def _report(out: Path) -> dict[str, Path]:
    from strategies.search.report import write_report

    return write_report(out)


def _text(s: dict[str, Any], paths: dict[str, Path]) -> str:
    b, a, best = s["budget"], s["avoided"], s["best"]
    unit = "epochs" if b["unit"] == "epochs" else "h"
    lines = [
        f"search on {s['dataset']} ({s['preset']}, {s['epochs']} epochs per training), seed {s['seed']}",
        f"  budget          {b['spent']:.4g} of {b['total']:.4g} {unit}: {b['spent_epochs']} epochs trained, "
        f"{b['spent_train_s']:.0f} s training + {b['screen_s']:.1f} s screening",
        f"  trials          {len(s['trials'])} trained, {a['stopped_trials']} stopped early "
        f"({a['stopped_epochs']} epochs avoided), {a['screened_out']} screened out without training",
    ]
    if best is not None:
        lines += [
            f"  best            cell {best['cell']} {best['arch']}",
            f"                  valid {best['valid_acc']:.2f}%  test {best['test_acc']:.2f}%  "
            f"params {best['params_m']:.4f} M",
        ]
    for name, p in sorted(paths.items()):
        lines.append(f"  {name:<15} {p}")
    return "\n".join(lines)
