"""One progress line on a terminal (bytes, rate, ETA per phase); nothing off a TTY or with MREG_SILENT=true."""

import os
import sys
import threading
import time
from typing import Dict, List, Optional, TextIO

REFRESH_SECONDS = 0.1


def format_bytes(value: float) -> str:
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    value = max(0.0, float(value))
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{int(value)} {units[unit]}" if unit == 0 else f"{value:.0f} {units[unit]}" if value >= 100 else f"{value:.1f} {units[unit]}"


def silenced(env=os.environ) -> bool:
    return env.get("MREG_SILENT", "").lower() in ("1", "true", "yes")


class Progress:
    """Thread-safe; phases (hashing, uploading, downloading) share the line while they overlap."""

    def __init__(self, stream: Optional[TextIO] = None, enabled: Optional[bool] = None):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = not silenced() and bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self._lock = threading.Lock()
        self._phases: Dict[str, List[float]] = {}  # name → [total, done, started]
        self._order: List[str] = []
        self._drawn = 0.0
        self._width = 0

    def start(self, phase: str, total: int) -> None:
        with self._lock:
            state = self._phases.get(phase)
            if state is None:
                if total <= 0:
                    return
                self._phases[phase] = [float(total), 0.0, time.monotonic()]
                self._order.append(phase)
            else:
                state[0] = max(0.0, state[0] + total)
        self._draw()

    def advance(self, phase: str, delta: int) -> None:
        with self._lock:
            state = self._phases.get(phase)
            if state is None:
                return
            state[1] += delta
        self._draw()

    def end(self, phase: str) -> None:
        with self._lock:
            if phase not in self._phases:
                return
        self._draw(force=True)
        with self._lock:
            self._phases.pop(phase, None)
            self._order.remove(phase)
            done = not self._phases
        if done:
            self.close()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def line(self) -> str:
        now = time.monotonic()
        pieces = []
        for phase in self._order:
            total, done, started = self._phases[phase]
            done = max(0.0, min(done, total))
            elapsed = now - started
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = f"{(total - done) / rate:.0f}s" if rate > 0 else "?"
            percent = 100 * done / total if total else 100
            pieces.append(f"{phase} {percent:3.0f}% {format_bytes(done)}/{format_bytes(total)} {format_bytes(rate)}/s ETA {eta}")
        return " | ".join(pieces)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            if not force and now - self._drawn < REFRESH_SECONDS:
                return
            self._drawn = now
            text = self.line()
            padding = max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + " " * padding)
            self.stream.flush()


class Silent(Progress):
    def __init__(self):
        super().__init__(enabled=False)
