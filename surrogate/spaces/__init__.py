"""Search spaces by name (placeholder until the spaces package lands: NB201 only)."""

from __future__ import annotations

from surrogate.errors import NasscoutError


def get_space(name: str):
    from surrogate.space import NB201Space

    if name == "nb201":
        return NB201Space()
    raise NasscoutError(f"unknown search space {name!r}; accepted: nb201")
