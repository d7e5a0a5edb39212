"""The extrapolator flags that `nasscout run` and `nasscout search` share (one spelling, one help text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def extrapolator_flags(warm_up_default: str) -> Callable[[Any], Any]:
    """--early-stop-extrapolator, --early-stop-fit and --early-stop-min-completed on a command;
    ``warm_up_default`` says the command's default warm-up (its rules differ)."""

    def add(command: Any) -> Any:
        for option in reversed(
            [
                click.option(
                    "--early-stop-extrapolator",
                    default="fast",
                    show_default=True,
                    help="domhan: the learning-curve extrapolator (nasscout curves; e.g. fast, mcmc, "
                    "pfn, best, last).",
                ),
                click.option(
                    "--early-stop-fit",
                    is_flag=True,
                    help="domhan: fit the extrapolator on the trainings completed so far (refit as "
                    "they complete).",
                ),
                click.option(
                    "--early-stop-min-completed",
                    type=int,
                    default=None,
                    help=f"Completed trainings before any is stopped (default: {warm_up_default}).",
                ),
            ]
        ):
            command = option(command)
        return command

    return add
