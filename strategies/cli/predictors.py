"""``nasscout predictors``: evaluate predictors (NASLib protocol), fit one to cells, rank cells with it."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from surrogate.errors import NasscoutError


def _echo_list() -> None:
    from predictors.registry import catalog

    rows = catalog()
    wide = max(len(o) for _, o, _, _ in rows)
    for name, origin, cls, summary in rows:
        kind = "?" if cls is None else "trained" if cls.needs_training else "free"
        click.echo(f"{name:13s} {kind:8s} {origin:<{wide}}  {summary}")


def _list_callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        _echo_list()
        ctx.exit(0)


_list_option = click.option(
    "--list",
    "list_",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_callback,
    help="List the predictors and exit.",
)


@click.group(invoke_without_command=True)
@_list_option
@click.pass_context
def predictors(ctx: click.Context) -> None:
    """Evaluate, fit and use performance predictors."""
    from surrogate.plugins import search_current_folder

    search_current_folder()  # --predictors/--model module:Class from the folder the command runs in
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


# ---- option parsing helpers ------------------------------------------------------------------------------


def _int_list(text: str, what: str) -> tuple[int, ...]:
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            out.append(int(part))
        except ValueError:
            raise NasscoutError(
                f"{what} {part!r} is not an integer; accepted: a comma-separated list like 10,56,209"
            ) from None
    return tuple(out)


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _options(pairs: tuple[str, ...], *, scoped: bool) -> dict[str, Any]:
    """``KEY=VALUE`` (or ``PREDICTOR.KEY=VALUE`` when scoped); values are JSON literals or strings."""
    out: dict[str, Any] = {}
    shape = "PREDICTOR.KEY=VALUE, e.g. xgb.n_members=3" if scoped else "KEY=VALUE, e.g. n_members=3"
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise NasscoutError(f"option {pair!r} is invalid; accepted: {shape}")
        if scoped:  # the last dot: a predictor named by import path has dots of its own
            name, dot, opt = key.rpartition(".")
            if not dot or not name or not opt:
                raise NasscoutError(f"option {pair!r} is invalid; accepted: {shape}")
            out.setdefault(name, {})[opt] = _value(value)
        else:
            out[key] = _value(value)
    return out


def _features(text: str) -> tuple[str, ...]:
    """--features: proxy names (a known proxy the benchmark lacks is dropped later with a log line)."""
    from predictors.zerocost import PROXIES

    names = () if text.strip().lower() in ("", "none") else _name_list(text)
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise NasscoutError(
            f"unknown feature {unknown[0]!r}; accepted: {', '.join(PROXIES)} (zero-cost proxies), or none"
        )
    return names


# ---- eval --------------------------------------------------------------------------------------------------


@predictors.command("eval")
@click.option(
    "--benchmark", default="nb201", show_default=True, help="nb201 or a nasscout .h5 file."
)
@click.option("--dataset", default="cifar10", show_default=True)
@click.option(
    "--predictors",
    "names",
    default=None,
    help="Comma-separated names or package.module:Class import paths (default: all).",
)
@click.option(
    "--train-sizes", default=None, help="Comma-separated [default: 10,23,56,135,209,500]."
)
@click.option("--test-size", type=int, default=200, show_default=True)
@click.option("--seeds", type=int, default=None, help="Number of random splits [default: 5].")
@click.option("--first-seed", type=int, default=0, show_default=True)
@click.option(
    "--cells", "cells_file", default=None, help="Draw splits from these cells (CSV/text)."
)
@click.option(
    "--features",
    default="params,flops,zen",
    show_default=True,
    help="Free per-cell features given to trained predictors (add synflow,jacov; or none).",
)
@click.option("--option", "option_pairs", multiple=True, help="PREDICTOR.KEY=VALUE, repeatable.")
@click.option("--quick", is_flag=True, help="Sizes 10,56,209, 2 seeds, models' quick settings.")
@click.option(
    "--out", "out_dir", default=None, help="Write scores.csv, summary.json and plots here."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON list.")
@_list_option
def eval_cmd(
    benchmark: str,
    dataset: str,
    names: str | None,
    train_sizes: str | None,
    test_size: int,
    seeds: int | None,
    first_seed: int,
    cells_file: str | None,
    features: str,
    option_pairs: tuple[str, ...],
    quick: bool,
    out_dir: str | None,
    as_json: bool,
) -> None:
    """Compare predictors on random train/test splits of cells (NASLib's protocol)."""
    from predictors.evaluation import (
        DEFAULT_TRAIN_SIZES,
        QUICK_SEEDS,
        QUICK_TRAIN_SIZES,
        EvalSpec,
        default_predictors,
        evaluate,
        format_table,
        json_dumps,
        pool_space,
        stderr_log,
    )

    cells = targets = None
    if cells_file:
        from predictors.io import read_cells_file

        cells, targets = read_cells_file(cells_file, pool_space(EvalSpec(benchmark=benchmark)))
    spec = EvalSpec(
        predictors=(
            _name_list(names) if names is not None else default_predictors(benchmark, dataset)
        ),
        train_sizes=(
            _int_list(train_sizes, "train size")
            if train_sizes is not None
            else (QUICK_TRAIN_SIZES if quick else DEFAULT_TRAIN_SIZES)
        ),
        test_size=test_size,
        seeds=seeds if seeds is not None else (QUICK_SEEDS if quick else 5),
        first_seed=first_seed,
        benchmark=benchmark,
        dataset=dataset,
        features=_features(features),
        quick=quick,
        options=_options(option_pairs, scoped=True),
        cells=cells,
        targets=targets,
    )
    result = evaluate(spec, log=stderr_log)
    summary = result.summary()
    if out_dir:
        path = result.write(out_dir)
        click.echo(f"nasscout: wrote {path}/scores.csv, summary.json and plots", err=True)
    if as_json:
        click.echo(json_dumps(summary), nl=False)
    else:
        click.echo(format_table(summary))
        click.echo(f"wall time {result.meta['wall_time_s']:.1f} s")


# ---- fit ---------------------------------------------------------------------------------------------------


@predictors.command("fit")
@click.option(
    "--benchmark", default="nb201", show_default=True, help="nb201 or a nasscout .h5 file."
)
@click.option("--dataset", default="cifar10", show_default=True)
@click.option(
    "--model",
    "name",
    required=True,
    help="A predictor name (see --list), or your own as package.module:Class.",
)
@click.option(
    "--train-size", type=int, default=None, help="Sample this many cells from the benchmark."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling and model seed.")
@click.option(
    "--cells", "cells_file", default=None, help="Train on these cells (CSV/text, targets optional)."
)
@click.option(
    "--features",
    default="params,flops,zen",
    show_default=True,
    help="Free per-cell features for models that take them (or none).",
)
@click.option("--option", "option_pairs", multiple=True, help="KEY=VALUE model option, repeatable.")
@click.option("--out", "out_path", required=True, help="The model file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the file's metadata as JSON.")
@_list_option
def fit_cmd(
    benchmark: str,
    dataset: str,
    name: str,
    train_size: int | None,
    seed: int,
    cells_file: str | None,
    features: str,
    option_pairs: tuple[str, ...],
    out_path: str,
    as_json: bool,
) -> None:
    """Fit one predictor on cells of a benchmark (or your own cells) and save it to one file."""
    import numpy as np

    from predictors.evaluation import (
        build_predictor,
        check_targets,
        feature_source,
        json_dumps,
    )
    from predictors.io import read_cells_file, save_predictor
    from predictors.registry import call_model, plugin_record, predictor_class
    from predictors.zerocost import cell_features
    from surrogate.registry import load_benchmark

    predictor_class(name)  # unknown names fail before any data is read
    if (train_size is None) == (cells_file is None):
        raise NasscoutError("give exactly one of --train-size N or --cells FILE")
    bench = load_benchmark(benchmark)
    ds = bench.dataset(dataset)
    provenance: dict[str, Any] = {
        "benchmark": bench.name,
        "benchmark_path": str(bench.path),
        "benchmark_created_utc": bench.attrs.get("created_utc"),
        "benchmark_sources": bench.sources,
    }
    if cells_file is not None:
        from pathlib import Path

        from predictors.evaluation import check_split

        cells, y = read_cells_file(cells_file, bench.space)
        check_split(cells, np.empty(0, dtype=np.int64))
        provenance["cells_file"] = str(Path(cells_file).resolve())
        if y is None:
            y = bench.query(cells, dataset=ds, seed="mean").valid_acc
            provenance["targets"] = "benchmark"
        else:
            provenance["targets"] = "cells file"
        how = "cells" if provenance["targets"] == "cells file" else f"cells of {cells_file}"
    else:
        pool = bench.cells
        pool_y = bench.query(pool, dataset=ds, seed="mean").valid_acc
        known = np.isfinite(pool_y)
        pool, pool_y = pool[known], pool_y[known]
        if train_size < 1:
            raise NasscoutError(f"train size {train_size} is invalid; accepted: a positive integer")
        if train_size > len(pool):
            raise NasscoutError(
                f"train size {train_size} is larger than the {len(pool):,} cells with {ds} targets "
                f"in {bench.name} (the space has {bench.space.n_cells:,})"
            )
        pick = np.random.default_rng(seed).permutation(len(pool))[:train_size]
        cells, y = pool[pick], pool_y[pick]
        provenance.update(targets="benchmark", sampling=f"numpy default_rng({seed}).permutation")
        how = f"random cells of {bench.name}"
    y = check_targets(y, "training targets")
    feat_names: list[str] = []
    table = None
    source, have = feature_source(benchmark, bench.space, ds)
    wanted = [p for p in _features(features) if p in have]
    if wanted and "cell_features" in _init_params(name):
        table, feat_names = cell_features(ds, proxies=wanted, benchmark=source)
    model = build_predictor(
        name,
        seed=seed,
        dataset=ds,
        features=table,
        options=_options(option_pairs, scoped=False),
        space=bench.space,
        benchmark=source,
    )
    model.check_applicable()
    start = time.perf_counter()
    call_model(model, "fit", cells, y)
    fit_s = time.perf_counter() - start
    if provenance["targets"] == "benchmark":
        fid = int(bench.query(cells[:1], dataset=ds, seed="mean").fidelity)
        target = {"metric": "valid_acc", "fidelity": fid, "seed": "mean", "dataset": ds}
        said = f"valid_acc after {fid} epochs, mean over seeds"
    else:
        target = {"metric": "given", "source": provenance["cells_file"], "dataset": ds}
        said = f"targets from {cells_file}"
    target["units"] = "percent"
    metadata = {
        "model": name,
        "options": _options(option_pairs, scoped=False),
        "seed": seed,
        "encoding": getattr(model, "encoding", None),
        "cell_features": feat_names,
        "target": target,
        "training_cells": [int(c) for c in cells],
        "training_targets": [float(v) for v in y],
        "provenance": provenance,
        "plugins": plugin_record([name]),
        "fit_time_s": round(fit_s, 4),
    }
    header = save_predictor(model, out_path, metadata)
    if as_json:
        click.echo(
            json_dumps(
                {k: v for k, v in header.items() if k != "metadata"}
                | {"metadata": {k: v for k, v in metadata.items() if k != "training_targets"}}
            ),
            nl=False,
        )
        return
    size_kb = header["payload_bytes"] / 1024
    click.echo(f"fitted {name} on {len(cells)} {how} ({ds}; {said}) in {fit_s:.2f} s")
    click.echo(
        f"saved {out_path} ({size_kb:.0f} KB); rank with `nasscout predictors rank {out_path}`"
    )


def _init_params(name: str) -> list[str]:
    import inspect

    from predictors.registry import predictor_class

    return list(inspect.signature(predictor_class(name).__init__).parameters)


# ---- rank --------------------------------------------------------------------------------------------------


@predictors.command("rank")
@click.argument("model_path", metavar="MODEL")
@click.option(
    "--cells", "cells_file", default=None, help="Rank these cells (default: the whole space)."
)
@click.option("--top", type=int, default=20, show_default=True, help="How many to show (0 = all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def rank_cmd(model_path: str, cells_file: str | None, top: int, as_json: bool) -> None:
    """Rank cells by the predicted mean of a fitted MODEL file (with its std)."""
    import numpy as np

    from predictors.io import load_predictor, read_cells_file

    if top < 0:
        raise NasscoutError(f"--top {top} is invalid; accepted: 0 (all) or a positive integer")
    model = load_predictor(model_path)
    space = model._space()  # the cells of the space the model was fitted on
    if hasattr(model, "progress"):  # network proxies compute uncached cells: show how far they are
        model.progress = sys.stderr.isatty()
    cells = space.all_indices if cells_file is None else read_cells_file(cells_file, space)[0]
    start = time.perf_counter()
    mean, std = model.predict(cells, return_std=True)
    elapsed = time.perf_counter() - start
    order = np.lexsort((cells, -mean))  # best first; ties by index, so the order is reproducible
    if top:
        order = order[:top]
    rows = [
        {
            "rank": r + 1,
            "index": int(cells[i]),
            "arch": space.format(int(cells[i])),
            "mean": round(float(mean[i]), 4),
            "std": round(float(std[i]), 4),
        }
        for r, i in enumerate(order)
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    meta = model.file_metadata_.get("metadata", {})
    target = meta.get("target", {})
    click.echo(
        f"{model.file_metadata_['predictor']} fitted on {len(meta.get('training_cells', []))} cells "
        f"({target.get('dataset', '?')}); ranked {len(cells):,} cells in {elapsed:.3f} s"
    )
    click.echo(f"{'rank':>4s} {'index':>5s} {'mean':>7s} {'std':>6s}  arch")
    for r in rows:
        click.echo(f"{r['rank']:4d} {r['index']:5d} {r['mean']:7.2f} {r['std']:6.2f}  {r['arch']}")


# ---- zerocost ----------------------------------------------------------------------------------------------


@predictors.command("zerocost")
@click.option("--proxies", default="synflow,jacov", show_default=True, help="synflow and/or jacov.")
@click.option("--dataset", default="cifar10", show_default=True)
@click.option("--cells", "cells_file", default=None, help="Compute for these cells only.")
@click.option("--limit", type=int, default=None, help="Compute at most this many missing cells.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def zerocost_cmd(
    proxies: str, dataset: str, cells_file: str | None, limit: int | None, as_json: bool
) -> None:
    """Compute and cache synflow/jacov scores (default: every cell; resumable)."""
    import numpy as np

    from predictors.io import read_cells_file
    from predictors.zerocost import NETWORK_PROXIES, ProxyCache, dataset_name
    from surrogate.spaces.nb201 import NB201Space, canonical_indices

    space = NB201Space()
    ds = dataset_name(dataset)
    names = _name_list(proxies)
    if not names:
        raise NasscoutError(f"no proxy given; accepted: {', '.join(NETWORK_PROXIES)}")
    for p in names:
        if p not in NETWORK_PROXIES:
            raise NasscoutError(f"unknown proxy {p!r}; accepted: {', '.join(NETWORK_PROXIES)}")
    if limit is not None and limit < 1:
        raise NasscoutError(f"--limit {limit} is invalid; accepted: a positive integer")
    cells = space.all_indices if cells_file is None else read_cells_file(cells_file, space)[0]
    out = []
    for p in names:
        cache = ProxyCache(p, ds)
        _, done = cache.load()
        missing = cells[~done[cells]]
        if limit is not None:
            reps = canonical_indices(missing)
            keep = np.unique(reps)[:limit]
            missing = missing[np.isin(reps, keep)]
        start = time.perf_counter()
        cache.values(missing, progress=sys.stderr.isatty())
        elapsed = time.perf_counter() - start
        values, done, seconds = cache.load_all()
        item = {
            "proxy": p,
            "dataset": ds,
            "cells_cached": int(done.sum()),
            "cells_asked": int(len(cells)),
            "cells_ready": int(done[cells].sum()),
            "computed_classes": int(len(np.unique(canonical_indices(missing))))
            if len(missing)
            else 0,
            "seconds": round(elapsed, 2),
            "mean_s_per_class": round(float(np.nanmean(seconds)), 4) if done.any() else None,
            "cache": str(cache.path),
        }
        out.append(item)
        if not as_json:
            click.echo(
                f"{p:8s} {ds}: {item['cells_ready']:,}/{item['cells_asked']:,} asked cells cached "
                f"({item['computed_classes']} classes computed now in {elapsed:.1f} s; "
                f"{item['cells_cached']:,} cached in all) -> {cache.path}"
            )
    if as_json:
        click.echo(json.dumps(out))
