"""A live progress line per phase on stderr: no dependency, quiet when not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 24


class Progress:
    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.label = ""
        self.total = 0
        self.start = 0.0
        self._last_draw = 0.0

    def begin(self, label: str, total: int) -> None:
        self.label, self.total, self.start = label, max(total, 1), time.monotonic()
        self._last_draw = 0.0
        if self.enabled and not self.live:
            self.stream.write(f"{label} …\n")
            self.stream.flush()

    def update(self, done: int, note: str = "") -> None:
        if not self.live:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._draw(done, note)

    def _draw(self, done: int, note: str) -> None:
        frac = min(done / self.total, 1.0)
        filled = int(frac * _WIDTH)
        elapsed = time.monotonic() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        bar = "█" * filled + "░" * (_WIDTH - filled)
        line = (
            f"\r{self.label:<22} {bar} {done:>8}/{self.total:<8} {rate:>9.0f}/s "
            f"{elapsed:6.1f}s {note}"
        )
        self.stream.write(line[:160] + "\x1b[K")
        self.stream.flush()

    def end(self, summary: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        if self.live:
            self.stream.write("\r\x1b[K")
        self.stream.write(f"{self.label:<22} done in {elapsed:.1f}s  {summary}\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()
