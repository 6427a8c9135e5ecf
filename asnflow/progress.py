"""A progress bar on stderr for long work: one self-rewriting line, only on a terminal.

``generate`` counts exposures with it, ``run`` counts nodes (with a note: how
many failed and which node started last).
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


class ProgressBar:
    """``label [#####.....] 1234/5000 exposures  12 s  note``; silent unless ``stream`` is a terminal."""

    def __init__(self, label: str, total: int, unit: str = "", enabled: bool = True,
                 stream: TextIO | None = None, interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._wanted = enabled
        self.enabled = bool(enabled and total > 0 and getattr(self.stream, "isatty", lambda: False)())
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.interval = interval
        self.started = time.monotonic()
        self.note_text = ""
        self._drawn = 0.0

    def restart(self, total: int) -> None:
        """Set the total once it is known (starting the clock again)."""
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.enabled = bool(self._wanted and total > 0 and getattr(self.stream, "isatty", lambda: False)())

    def advance(self, amount: int = 1, note: str | None = None) -> None:
        self.done += amount
        if note is not None:
            self.note_text = note
        if self.enabled:
            now = time.monotonic()
            if now - self._drawn >= self.interval or self.done >= self.total:
                self._drawn = now
                self._draw(now)

    def note(self, text: str) -> None:
        """Show ``text`` after the counts, at once (``run``: the node that started)."""
        self.note_text = text
        if self.enabled:
            self._drawn = time.monotonic()
            self._draw(self._drawn)

    def _draw(self, now: float) -> None:
        width = shutil.get_terminal_size((80, 20)).columns
        fraction = min(1.0, self.done / self.total)
        tail = f" {min(self.done, self.total)}/{self.total} {self.unit} {now - self.started:4.0f} s"
        if self.note_text:
            tail += f"  {self.note_text}"
        room = max(10, width - len(self.label) - len(tail) - 4)
        filled = int(room * fraction)
        line = f"{self.label} [{'#' * filled}{'.' * (room - filled)}]{tail}"
        self.stream.write("\r" + line[: width - 1])
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            width = shutil.get_terminal_size((80, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
