"""Calling the ``nasscout`` CLI in-process from a test: (exit code, stdout, stderr)."""

from __future__ import annotations

from typing import Any

from strategies.cli.main import main


def nasscout(capsys: Any, *args: Any) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
