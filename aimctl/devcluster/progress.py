"""Progress of the long first build: what is being built, how far, and how long is left.

The build (:mod:`aimctl.devcluster.build`) is a fixed list of steps; each ``go build`` step knows its
size up front — the number of packages ``go list -deps`` reports — and ``go build -v`` names each
package as it compiles, so a step's fraction and its remaining time (extrapolated from its own rate)
are knowable. ``go mod tidy`` steps only count the modules they download (their total is unknown).

On a terminal one status line is redrawn in place (at most every ``min_interval`` seconds); in a log
(CI, ``make`` piped to a file) a line is printed each time a step passes another 10 % or after
``log_interval`` seconds, so logs stay short. The clock and the writers are injected (unit-tested);
:func:`terminal_redraw` is the real redraw for a terminal on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO


def duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``1h02m``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


@dataclass
class BuildProgress:
    """Reports steps ``1..total_steps``; :meth:`start` a step, :meth:`advance` per unit of work."""

    total_steps: int
    #: Writes one line (a log line, or a line printed above the redrawn status).
    write: Callable[[str], None]
    #: On a terminal: redraws the status line in place (no newline); None in a log.
    redraw: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.monotonic
    min_interval: float = 0.5
    log_interval: float = 30.0
    _step: int = 0
    _what: str = ""
    _unit: str = ""
    _total: int | None = None
    _done: int = 0
    _started: float = 0.0
    _step_started: float = 0.0
    _last_emit: float = field(default=-1e9)
    _last_decile: int = 0
    _open_line: bool = False

    def __post_init__(self) -> None:
        self._started = self.clock()

    def start(self, what: str, total: int | None = None, unit: str = "packages") -> None:
        """Begin the next step: ``what`` is being built; ``total`` units of work (None = unknown)."""
        self._finish_line()
        self._step += 1
        self._what, self._total, self._unit, self._done = what, total, unit, 0
        self._step_started = self._last_emit = self.clock()
        self._last_decile = 0
        size = f" ({total} {unit})" if total else ""
        self.write(f"[{self._step}/{self.total_steps}] {what}{size} ...")

    def advance(self, n: int = 1) -> None:
        self._done += n
        now = self.clock()
        decile = int(10 * self._done / self._total) if self._total else 0
        if self.redraw is not None:
            if now - self._last_emit >= self.min_interval:
                self._emit(now, inline=True)
        elif (self._total and decile > self._last_decile) or now - self._last_emit >= self.log_interval:
            self._last_decile = decile
            self._emit(now, inline=False)

    def status(self, now: float | None = None) -> str:
        """The current line: step, what, how far, time in the step and left in it, total time."""
        now = self.clock() if now is None else now
        spent = now - self._step_started
        parts = [f"[{self._step}/{self.total_steps}] {self._what}"]
        if self._total:
            done = min(self._done, self._total)
            parts.append(f"{done}/{self._total} {self._unit} ({100 * done // self._total}%)")
            if 0 < done < self._total and spent > 0:
                left = spent / done * (self._total - done)
                parts.append(f"~{duration(left)} left in this step")
        elif self._done:
            parts.append(f"{self._done} {self._unit}")
        parts.append(f"{duration(now - self._started)} so far")
        return ", ".join(parts)

    def done(self, message: str) -> None:
        self._finish_line()
        self.write(f"{message} ({duration(self.clock() - self._started)} in all)")

    def _emit(self, now: float, inline: bool) -> None:
        self._last_emit = now
        if inline and self.redraw is not None:
            self.redraw(self.status(now))
            self._open_line = True
        else:
            self.write(self.status(now))

    def _finish_line(self) -> None:
        if self._open_line and self.redraw is not None:
            self.redraw("")  # clear the status line; the next line is written in its place
            self._open_line = False


def terminal_redraw(stream: TextIO | None = None) -> Callable[[str], None] | None:
    """A redraw function for ``stream`` (default stderr) when it is a terminal, else None."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        return None

    def redraw(text: str) -> None:
        out.write("\r\x1b[K" + text)
        out.flush()

    return redraw
