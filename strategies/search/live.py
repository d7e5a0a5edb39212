"""The live view of ``nasscout search``: one line per event, and on a terminal a status line kept at the
bottom (budget spent, what is training, best so far, what was stopped or screened out)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from strategies.search.state import SearchState


def status_line(state: SearchState, opts: Any) -> str:
    spent = state.spent_epochs if opts.budget_unit == "epochs" else state.spent_hours
    unit = "epochs" if opts.budget_unit == "epochs" else "h"
    fmt = "{:.0f}" if opts.budget_unit == "epochs" else "{:.2f}"
    parts = [
        f"budget {fmt.format(spent)}/{fmt.format(opts.budget_total)} {unit} "
        f"({100 * spent / opts.budget_total:.0f}%)"
    ]
    training = [t for t in state.trials.values() if t.status == "training"]
    if training:
        parts.append(
            "training "
            + ", ".join(f"#{t.trial} {t.epochs_done}/{state.epochs}" for t in training[:4])
        )
    best = state.best()
    if best is not None:
        parts.append(f"best {best.valid_acc:.2f}% (#{best.trial}, cell {best.cell})")
    stopped = sum(t.status == "stopped" for t in state.trials.values())
    parts.append(f"stopped {stopped}")
    parts.append(f"screened out {max(state.screened - len(state.trials), 0)}")
    return " · ".join(parts)


class LiveView:
    """Callable for ``Search(on_event=...)``; quiet prints nothing."""

    def __init__(self, opts: Any, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.opts, self.quiet = opts, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_status = ""

    def __call__(self, message: str, state: SearchState) -> None:
        if self.quiet:
            return
        line = status_line(state, self.opts)
        if message:
            stamp = time.strftime("%H:%M:%S")
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(f"[{stamp}] {message}\n")
        if self.tty and (message or line != self._last_status):
            self.stream.write("\r\033[K" + line[:200])
        self._last_status = line
        self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
