"""The ``nasscout`` command. Subcommand groups live in their own modules and are imported only when used,
so ``nasscout --help`` and ``nasscout bench query`` start fast (no torch, xgboost or pandas)."""

from __future__ import annotations

import importlib
import sys

import click

from surrogate.errors import NasscoutError, describe_os_error

# command name -> (module, attribute, one-line help)
SUBCOMMANDS = {
    "bench": ("strategies.cli.bench", "bench", "Inspect and query benchmarks."),
    "data": ("strategies.cli.data", "data", "Build and import benchmark data."),
    "train": (
        "strategies.cli.train",
        "train",
        "Train NB201 cells for real and record learning curves.",
    ),
    "run": ("strategies.cli.run", "run", "Run search strategies on a benchmark (resumable)."),
    "report": ("strategies.cli.report", "report", "Summarise a run: regret table, JSON, plots."),
    "surrogate": (
        "strategies.cli.surrogate",
        "surrogate",
        "Fit surrogate benchmarks and validate them against their table.",
    ),
    "predictors": (
        "strategies.cli.predictors",
        "predictors",
        "Evaluate, fit and rank with predictors.",
    ),
    "supernet": (
        "strategies.cli.supernet",
        "supernet",
        "Train an NB201 supernet and score cells by inherited weights (one-shot).",
    ),
    "oneshot": (
        "strategies.cli.oneshot",
        "oneshot",
        "Weight-sharing searches (rsws, enas, cars, darts) on the NB201 supernet.",
    ),
    "search": (
        "strategies.cli.search",
        "search",
        "Search your data: train only the promising cells (lowcost, real training).",
    ),
    "curves": (
        "strategies.cli.curves",
        "curves",
        "Evaluate learning-curve extrapolators on real curves.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module, attr, _ = SUBCOMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


_DEBUG = [False]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nasscout")
@click.option(
    "--debug", is_flag=True, help="On an error, also print the traceback (e.g. a plugin's own)."
)
def cli(debug: bool) -> None:
    """nasscout: predictor-based neural architecture search, benchmarked honestly."""
    _DEBUG[0] = debug


def _traceback(exc: BaseException) -> None:
    """With --debug: the full traceback, including a plugin's own (kept across worker processes)."""
    if not _DEBUG[0]:
        return
    import traceback

    detail = getattr(exc, "detail", None)
    click.echo(detail or "".join(traceback.format_exception(exc)), err=True, nl=False)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback (unless
    ``--debug``)."""
    _DEBUG[0] = False
    try:
        cli.main(args=argv, prog_name="nasscout", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("nasscout: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except NasscoutError as exc:
        _traceback(exc)
        click.echo(f"nasscout: error: {exc}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except (
        OSError
    ) as exc:  # unwritable or missing folders, a full disk: the user's to fix, no traceback
        click.echo(f"nasscout: error: {describe_os_error(exc)}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
