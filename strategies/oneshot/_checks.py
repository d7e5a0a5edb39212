"""Option checks shared by the weight-sharing methods: every bad option is one NasscoutError line naming the
value and what is accepted."""

from __future__ import annotations

from typing import Any

from surrogate.errors import NasscoutError


def reject_unknown(method: str, options: dict[str, Any], known: tuple[str, ...]) -> None:
    if options:
        bad = sorted(options)[0]
        raise NasscoutError(
            f"{method}: unknown option {bad!r}; accepted: {', '.join(sorted(known))}"
        )


def positive_int(method: str, name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise NasscoutError(
            f"{method}: {name}={value!r} is invalid; accepted: an integer >= {minimum}"
        )
    return int(value)


def in_range(
    method: str, name: str, value: Any, low: float, high: float, *, open_low: bool = False
) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (low < value if open_low else low <= value) and value <= high
    if not ok:
        side = "(" if open_low else "["
        raise NasscoutError(
            f"{method}: {name}={value!r} is invalid; accepted: a number in {side}{low}, {high}]"
        )
    return float(value)


def check_epochs(method: str, n_epochs: int, planned: int, epoch: int) -> None:
    """The driver's budget must be the schedule the shared weights were built for."""
    if n_epochs != planned or not 0 <= epoch < n_epochs:
        raise NasscoutError(
            f"{method}: epoch {epoch} of {n_epochs} is invalid; accepted: 0..{planned - 1} of the "
            f"{planned} epochs the shared weights were built for"
        )
