"""Strategy options from the command line: ``--option rea.population_size=50`` typed by the strategy's own
constructor signature, so a typo or a value of the wrong type is one line naming what is accepted (before
anything runs), and the values recorded in meta.json are the typed ones (50, not "50")."""

from __future__ import annotations

import inspect
import json
import types
import typing
from typing import Any

from surrogate.errors import NasscoutError

# constructor parameters the runner sets itself (sw: the shared weights of a one-shot method)
RESERVED = ("self", "space", "seed", "context", "sw")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def split_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, dict[str, str]]:
    """``STRATEGY.KEY=VALUE`` texts -> {strategy: {key: raw text}}. The key is what follows the last dot,
    so import paths work too (``my.module:Greedy.k=3``)."""
    out: dict[str, dict[str, str]] = {}
    shape = "STRATEGY.KEY=VALUE, e.g. rea.population_size=50"
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        name, dot, opt = key.strip().rpartition(".")
        if not sep or not dot or not name or not opt.isidentifier():
            raise NasscoutError(f"--option {pair!r} is invalid; accepted: {shape}")
        out.setdefault(name, {})[opt] = value.strip()
    return out


def option_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The options a strategy class accepts: its constructor's parameters beyond space/seed/context."""
    params = inspect.signature(cls.__init__).parameters
    return {
        n: p
        for n, p in params.items()
        if n not in RESERVED and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the defaults' types
        return {}


def _describe(tp: Any) -> str:
    if tp is None or tp is type(None):
        return "none"
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if args and typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " | ".join(_describe(a) for a in args)
    origin = typing.get_origin(tp)
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def _convert(text: str, tp: Any) -> Any:
    """``text`` as type ``tp`` (raises ValueError when it is not one)."""
    if tp is Any or tp is inspect.Parameter.empty:
        try:
            return json.loads(text)
        except ValueError:
            return text
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and text.lower() in ("none", "null"):
            return None
        for a in sorted((a for a in args if a is not type(None)), key=_order):
            try:
                return _convert(text, a)
            except ValueError:
                continue
        raise ValueError(text)
    if origin is typing.Literal:
        for a in typing.get_args(tp):
            if str(a) == text:
                return a
        raise ValueError(text)
    if tp is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(text)
    if tp is int:
        return int(text)
    if tp is float:
        return float(text)
    if tp is str:
        return text
    if tp is type(None):
        if text.lower() in ("none", "null"):
            return None
        raise ValueError(text)
    want = origin or tp
    if want in (dict, list, tuple):
        value = json.loads(text)  # ValueError when not JSON
        if want is tuple and isinstance(value, list):
            return value  # JSON has no tuples; the strategy gets a list
        if not isinstance(value, want):
            raise ValueError(text)
        return value
    raise ValueError(text)


def _order(tp: Any) -> int:
    # try the narrowest type first: "3" is an int before it is a float or a string
    return {bool: 0, int: 1, float: 2}.get(tp, 3 if tp is not str else 4)


def type_options(cls: type, name: str, raw: dict[str, str]) -> dict[str, Any]:
    """Typed values for ``raw`` (key -> text) by ``cls``'s signature; one line on an unknown key or a value
    of the wrong type, listing the accepted keys with their types."""
    params = option_parameters(cls)
    hints = _hints(cls)

    def typ(p: inspect.Parameter) -> Any:
        if p.name in hints:
            return hints[p.name]
        if p.default is not p.empty and p.default is not None:
            return type(p.default)
        return Any

    listing = ", ".join(f"{n} ({_describe(typ(p))})" for n, p in params.items()) or "none"
    takes_any = any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()
    )
    out: dict[str, Any] = {}
    for key, text in raw.items():
        if key not in params and takes_any:  # **options: a JSON literal, else the text
            out[key] = _convert(text, Any)
            continue
        if key not in params:
            raise NasscoutError(
                f"--option {name}.{key}: {name} has no option {key!r}; accepted: {listing}"
            )
        tp = typ(params[key])
        try:
            out[key] = _convert(text, tp)
        except (ValueError, TypeError):
            raise NasscoutError(
                f"--option {name}.{key}={text!r} is not of type {_describe(tp)}; accepted keys of {name}: "
                f"{listing}"
            ) from None
    return out


def parse_options(
    pairs: tuple[str, ...] | list[str], strategies: list[str] | tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """``--option`` texts -> {strategy: typed options} for strategies of this run."""
    from strategies.registry import get_strategy

    raw = split_pairs(pairs)
    lowered = {s.lower(): s for s in strategies}
    out: dict[str, dict[str, Any]] = {}
    for name, values in raw.items():
        run_name = name if name in strategies else lowered.get(name.lower())
        if run_name is None:
            raise NasscoutError(
                f"--option for {name!r}, which is not in --strategy; accepted: options of "
                f"{', '.join(strategies)}"
            )
        out[run_name] = type_options(get_strategy(run_name), run_name, values)
    return out


def check_options(
    options: dict[str, dict[str, Any]], strategies: list[str] | tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Options given as Python values (the experiment API): known keys of strategies in the run."""
    from strategies.registry import get_strategy

    out: dict[str, dict[str, Any]] = {}
    for name, values in (options or {}).items():
        if name not in strategies:
            raise NasscoutError(
                f"options for {name!r}, which is not in the run; accepted: {', '.join(strategies)}"
            )
        if not isinstance(values, dict):
            raise NasscoutError(f"options for {name!r} must be a dict of keyword -> value")
        cls = get_strategy(name)
        params = option_parameters(cls)
        takes_any = any(
            p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()
        )
        for key in values:
            if key not in params and not takes_any:
                raise NasscoutError(
                    f"{name} has no option {key!r}; accepted: {', '.join(params) or 'none'}"
                )
        if values:
            out[name] = dict(values)
    return out


def describe(options: dict[str, dict[str, Any]]) -> str:
    """``rea.population_size=50, bo-gp.acquisition=ucb`` (for the report header)."""
    return ", ".join(f"{s}.{k}={v}" for s, d in options.items() for k, v in d.items())
