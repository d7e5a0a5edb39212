"""The NB201 arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, shared by every 4-node-cell space.

``parse_cell`` reads it strictly for one op vocabulary; an op that belongs to another space's vocabulary is
named as such ("exists only in nb201"), so an arch string of one space given to another fails with one line
saying why. Spaces register their op names in ``OPS_BY_SPACE`` when their module is imported (all of them
are, by ``surrogate.spaces``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from surrogate.errors import NasscoutError
from surrogate.space import shorten

SHAPE = "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
OPS_BY_SPACE: dict[str, tuple[str, ...]] = {}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def owners_of(op: str, space: str) -> list[str]:
    """The other spaces that have an op named ``op``."""
    return [name for name, names in OPS_BY_SPACE.items() if name != space and op in names]


def foreign_op_note(text: str, space: str, ops: Sequence[str]) -> str:
    """'' or a clause naming an op of ``text`` that only other spaces have (and which ones)."""
    for word in _WORD.findall(text[:10_000]):
        owners = [] if word in ops else owners_of(word, space)
        if owners:
            return f"op {word!r} exists only in {', '.join(owners)}, not in {space}"
    return ""


def unknown_op(name: str, space: str) -> str:
    owners = owners_of(name, space)
    where = f" (it exists only in {', '.join(owners)}, not in {space})" if owners else ""
    return f"unknown op {shorten(name)}{where}"


def _fail(text: str, what: str, space: str, ops: Sequence[str]) -> NasscoutError:
    note = "" if what.startswith("unknown op") else foreign_op_note(text, space, ops)
    accepted = f"{space} expects {SHAPE}; accepted ops: {', '.join(ops)}"
    reason = f"{note} ({what})" if note else what
    return NasscoutError(f"cannot read architecture {shorten(text)}: {reason}; {accepted}")


def parse_cell(text: str, ops: Sequence[str], space: str) -> list[int]:
    """Op ids (arch-string edge order) of a strict arch string; one-line ``NasscoutError`` otherwise."""
    op_id = {name: i for i, name in enumerate(ops)}
    if any(ch.isspace() for ch in text):
        raise _fail(text, "it contains whitespace", space, ops)
    if not (text.startswith("|") and text.endswith("|")):
        raise _fail(text, "it must start and end with '|'", space, ops)
    nodes = text.split("+")
    if len(nodes) != 3:
        raise _fail(text, f"{len(nodes)} nodes separated by '+', expected 3", space, ops)
    out: list[int] = []
    for node, part in enumerate(nodes, start=1):
        if len(part) < 2 or not (part.startswith("|") and part.endswith("|")):
            raise _fail(text, f"node {node} {shorten(part)} is not '|...|'", space, ops)
        edges = part[1:-1].split("|")
        if len(edges) != node:
            raise _fail(
                text, f"node {node} has {len(edges)} input edges, expected {node}", space, ops
            )
        for src, edge in enumerate(edges):
            name, sep, idx = edge.partition("~")
            if not sep:
                raise _fail(text, f"edge {shorten(edge)} lacks '~'", space, ops)
            if name not in op_id:
                raise _fail(text, unknown_op(name, space), space, ops)
            if idx != str(src):
                raise _fail(
                    text,
                    f"edge {shorten(edge)} into node {node} must come from node {src}, "
                    f"not {shorten(idx)}",
                    space,
                    ops,
                )
            out.append(op_id[name])
    return out


def format_cell(op_ids: Sequence[int], ops: Sequence[str]) -> str:
    o = [ops[i] for i in op_ids]
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"
