"""``nasscout oneshot search``: one weight-sharing search (rsws, enas, cars, darts) on the NB201 supernet, with a
progress bar per budget epoch; kill it and rerun with ``--resume`` to continue."""

from __future__ import annotations

import sys

import click

from surrogate.errors import NasscoutError

DEFAULT_BUDGET = (
    100  # supernet epochs: ~5 full cpu-mini trainings (20 epochs each), the scale
)


@click.group("oneshot")
def oneshot() -> None:
    """Weight-sharing searches on the NB201 supernet."""


def _options(cls: type, method: str, pairs: tuple[str, ...]) -> dict:
    from strategies.options import type_options

    raw: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise NasscoutError(f"--option {pair!r} is invalid; accepted: KEY=VALUE, e.g. top_k=5")
        raw[key.strip()] = value.strip()
    return type_options(cls, method, raw)


@oneshot.command("search")
@click.option("--method", required=True, help="rsws, enas, cars or darts.")
@click.option(
    "--dataset", default="fashion-mnist", show_default=True, help="fashion-mnist, cifar10, ..."
)
@click.option("--preset", default="cpu-mini", show_default=True, help="cpu-mini or nb201.")
@click.option(
    "--budget-epochs",
    type=int,
    default=DEFAULT_BUDGET,
    show_default=True,
    help="Supernet epochs (passes over the training images) the search may spend.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Search seed.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--cells",
    type=click.Choice(["all", "table"]),
    default="all",
    show_default=True,
    help="Pick the final cell among all of NB201, or among our full-run cells (fashion-mnist).",
)
@click.option("--resume", is_flag=True, help="Continue the (killed) search in --out.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a preset option.")
@click.option("--option", "opts", multiple=True, metavar="KEY=VALUE", help="A method option.")
@click.option(
    "--no-real-accuracy",
    is_flag=True,
    help="Skip looking up (or training) the chosen cell's real accuracy.",
)
@click.option(
    "--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda."
)
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads.")
def search(
    method: str,
    dataset: str,
    preset: str,
    budget_epochs: int,
    seed: int,
    out: str,
    cells: str,
    resume: bool,
    sets: tuple[str, ...],
    opts: tuple[str, ...],
    no_real_accuracy: bool,
    device: str,
    threads: int,
) -> None:
    """Search NB201 with weight sharing; write meta.json, curve.csv, curve.png and result.json into --out."""
    from tqdm import tqdm

    from strategies.oneshot import method_class
    from strategies.oneshot.driver import SearchConfig, check_budget, run_search
    from surrogate.training.data import canonical_dataset
    from surrogate.training.presets import get_preset, parse_overrides
    from surrogate.training.trainer import check_device

    method = method.lower()
    cls = method_class(method)
    check_budget(budget_epochs)
    if seed < 0:
        raise NasscoutError(f"--seed {seed} is invalid; accepted: an integer >= 0")
    if threads < 1:
        raise NasscoutError(f"--threads {threads} is invalid; accepted: a positive integer")
    check_device(device)
    config = SearchConfig(
        method=method,
        dataset=canonical_dataset(dataset),
        preset=get_preset(preset, parse_overrides(sets)),
        budget_epochs=budget_epochs,
        seed=seed,
        options=_options(cls, method, opts),
        device=device,
        threads=threads,
        cells=cells,
    )
    bars: list = []  # created at the first epoch, so that a refused search prints only its error line

    def on_epoch(row: dict, resumed: bool) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=budget_epochs, desc=f"{method} seed {seed}", unit="epoch", file=sys.stderr
                )
            )
        bar = bars[0]
        if resumed and row["epoch"] == 1:
            bar.write(f"resuming the search in {out}", file=sys.stderr)
        post = {"loss": f"{row['train_loss']:.3f}"}
        for key in ("probe_acc", "reward_acc"):
            if key in row:
                post[key.split("_")[0]] = f"{row[key]:.1f}%"
        bar.set_postfix(post, refresh=False)
        bar.update(1)

    try:
        result = run_search(
            out, config, resume=resume, real=not no_real_accuracy, on_epoch=on_epoch
        )
    finally:
        for bar in bars:
            bar.close()
    best = result["chosen"][0]
    line = (
        f"{result['method']} seed {seed}: chose {best['arch']} (#{best['cell']}), inherited valid "
        f"{best['inherited_valid_acc']:.2f}%, {result['budget_epochs']} supernet epochs in "
        f"{result['train_seconds']:.0f} s"
    )
    real = result.get("real")
    if real:
        how = "from our full runs" if real["source"] == "table" else f"trained now ({real['why']})"
        line += (
            f"; real accuracy {how}: valid {real['valid_acc']:.2f}%, test {real['test_acc']:.2f}%"
        )
        if real["test_rank"] is not None:
            line += f", rank {real['test_rank']} of {real['n_cells']} cells by test accuracy"
    click.echo(line + f"; results in {out}")
