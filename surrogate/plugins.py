"""The user's own code by name: ``package.module:Class`` import paths and installed entry points.

Loading a plugin *runs its code* (importing a module executes it), exactly like ``import`` does: that is the
point of a plugin, and why nasscout only imports what the user names on the command line or in Python, or
what an installed package registers under the entry-point groups below. Nothing is ever imported because a
result file (``meta.json``, a journal, a model file) names it: a resume re-imports the import path the user
ran with through the normal ``sys.path``, and refuses when the code's file hash changed.

Entry-point groups (``[project.entry-points."nasscout.strategies"]`` in a plugin's pyproject.toml):
``nasscout.strategies`` (Strategy classes), ``nasscout.predictors`` (Predictor classes) and
``nasscout.benchmarks`` (callables returning a Benchmark).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from surrogate.errors import NasscoutError

GROUPS = {
    "strategy": "nasscout.strategies",
    "predictor": "nasscout.predictors",
    "benchmark": "nasscout.benchmarks",
}
_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class PluginError(NasscoutError):
    """A plugin that cannot be imported, is not what it claims, or failed inside; its own traceback is kept
    as ``__cause__`` (``nasscout --debug`` prints it)."""


def is_import_path(text: Any) -> bool:
    """``package.module:Class`` (a colon is what tells an import path from a registered name)."""
    return isinstance(text, str) and ":" in text


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def load_import_path(path: str, kind: str) -> Any:
    """The object named by ``package.module:attr`` (imports the module: runs the user's code)."""
    path = str(path).strip()
    if not _PATH.match(path):
        raise PluginError(
            f"{kind} {path!r} is not an import path; accepted: package.module:Class (module on "
            "sys.path / PYTHONPATH, or an installed package)"
        )
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise PluginError(
                f"cannot import {kind} plugin {path!r}: no module named {exc.name!r}; accepted: a module "
                "on sys.path (run from its folder, set PYTHONPATH, or pip install its package)"
            ) from exc
        raise PluginError(
            f"cannot import {kind} plugin {path!r}: {_one_line(exc)} (raised while importing "
            f"{module_name}; --debug shows its traceback)"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - anything the user's module raises on import
        raise PluginError(
            f"cannot import {kind} plugin {path!r}: {_one_line(exc)} (raised while importing "
            f"{module_name}; --debug shows its traceback)"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            have = sorted(n for n in vars(module) if not n.startswith("_") and n[:1].isupper())
            raise PluginError(
                f"module {module_name!r} has no {attr!r} for {kind} plugin {path!r}; accepted: "
                f"{', '.join(have[:12]) or 'no public classes found'}"
            )
        obj = getattr(obj, part)
    return obj


@cache
def _entry_points(group: str) -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=group)}


def entry_points_of(kind: str) -> dict[str, Any]:
    """Installed entry points of ``kind`` (``strategy``/``predictor``/``benchmark``): name -> EntryPoint.

    Read from the installed packages' metadata (cached per process; :func:`refresh` forgets it)."""
    return _entry_points(GROUPS[kind])


def refresh() -> None:
    """Forget the cached entry points (after installing a plugin package in a running process)."""
    _entry_points.cache_clear()
    importlib.invalidate_caches()


def load_entry_point(ep: Any, kind: str) -> Any:
    try:
        return ep.load()
    except Exception as exc:  # noqa: BLE001 - the installed plugin's own failure
        raise PluginError(
            f"cannot load {kind} {ep.name!r} (entry point {ep.value} of "
            f"{dist_name(ep) or 'an installed package'}): {_one_line(exc)}; --debug shows its traceback"
        ) from exc


def dist_name(ep: Any) -> str | None:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else None


# ---- facts recorded in meta.json ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PluginFacts:
    """Where a plugin class comes from: enough to refuse a resume whose code changed."""

    ref: str  # module:qualname
    origin: str  # "import path" | "entry point NAME of DIST VERSION" | "python object"
    version: str | None  # the installed distribution's version, when it has one
    file: str | None
    sha256: str | None  # of the module's source file (of the class's own source in __main__)

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.ref.partition(":")[0],
            "ref": self.ref,
            "origin": self.origin,
            "version": self.version,
            "file": self.file,
            "sha256": self.sha256,
        }


def _distribution_version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    top = module.split(".")[0]
    for dist in packages_distributions().get(top, []):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return None


def plugin_facts(cls: type, origin: str) -> PluginFacts:
    """Module, version and source hash of ``cls`` (read now, from the code that is imported)."""
    module = sys.modules.get(cls.__module__)
    # a class in a script or notebook (__main__): its own source, so editing other cells does not count
    file = getattr(module, "__file__", None) if cls.__module__ != "__main__" else None
    digest = None
    if file and Path(file).is_file():
        digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    else:
        try:
            digest = hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()
            file = inspect.getsourcefile(cls)
        except (OSError, TypeError):
            file = None
    return PluginFacts(
        ref=f"{cls.__module__}:{cls.__qualname__}",
        origin=origin,
        version=_distribution_version(cls.__module__),
        file=str(file) if file else None,
        sha256=digest,
    )


def check_unchanged(recorded: dict[str, Any], now: PluginFacts | dict[str, Any], name: str) -> None:
    """Refuse to continue a run with plugin code other than the code it started with."""
    now = now.to_json() if isinstance(now, PluginFacts) else now
    was, sha = recorded.get("sha256"), now.get("sha256")
    if was is not None and was != sha:
        where = now.get("file") or now.get("ref")
        raise NasscoutError(
            f"cannot resume: the code of plugin {name!r} changed since the run started ({where} has "
            f"sha256 {str(sha)[:12]}..., the run recorded {str(was)[:12]}...); results would mix two "
            "versions: restore that code, or start a new run with another --out"
        )
    version = now.get("version")
    if recorded.get("version") and version and recorded["version"] != version:
        raise NasscoutError(
            f"cannot resume: plugin {name!r} is now {version}, the run used {recorded['version']}; "
            "install that version again, or start a new run with another --out"
        )


def check_plugin_class(
    obj: Any, name: str, kind: str, base: type, accepted: str, shapes: tuple
) -> type:
    """``obj`` if it is a concrete subclass of ``base`` whose methods bind as ``shapes`` says, else one line.

    ``shapes`` holds (method, shape shown to the user, bind(signature) raising TypeError on a wrong shape).
    """
    import inspect

    if not inspect.isclass(obj):
        raise PluginError(f"{kind} {name!r} is a {type(obj).__name__}, not a class; {accepted}")
    if not issubclass(obj, base):
        raise PluginError(
            f"{kind} {name!r} ({obj.__qualname__}) is not a {base.__name__}; {accepted}"
        )
    missing = sorted(getattr(obj, "__abstractmethods__", ()))
    if missing:
        raise PluginError(
            f"{kind} {name!r} ({obj.__qualname__}) does not implement {', '.join(missing)}; {accepted}"
        )
    for method, shape, bind in shapes:
        fn = getattr(obj, method)
        try:
            bind(inspect.signature(fn))
            continue
        except (TypeError, ValueError):
            pass
        try:
            shown = str(inspect.signature(fn))
        except (TypeError, ValueError):
            shown = "(...)"
        raise PluginError(
            f"{kind} {name!r}: {obj.__qualname__}.{method}{shown} has the wrong shape; accepted: {shape}"
        )
    return obj


def search_current_folder(exclude: Path | None = None) -> None:
    """Let ``module:Class`` find modules in the folder the command runs from, as ``python -m`` does (a
    console script's path starts at its own bin folder). Appended last, so it shadows nothing; never when
    that folder is inside ``exclude`` (a run folder: nothing stored there is imported)."""
    cwd = Path.cwd().resolve()
    if exclude is not None:
        ex = Path(exclude).resolve()
        if cwd == ex or ex in cwd.parents:
            return
    if str(cwd) not in sys.path and "" not in sys.path and "." not in sys.path:
        sys.path.append(str(cwd))
