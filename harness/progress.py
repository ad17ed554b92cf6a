"""A live line per worker: trial, arm, cell, step and ETA; one line per update when not on a terminal."""
from __future__ import annotations

import os
import sys
import time

from salt.train import Callback


class ProgressLine(Callback):
    def __init__(self, worker: int, trial: int, label: str, enabled: bool = True, every: float | None = None):
        self.prefix = f"[w{worker}] trial {trial} {label}"
        # seconds between lines in a log file (not a terminal); SALT_PROGRESS_EVERY=0 prints every update
        self.enabled, self.every = enabled, float(os.environ.get("SALT_PROGRESS_EVERY", 10) if every is None else every)
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()
        self.total, self.step, self.last = 0, 0, 0.0
        self._emit("preparing (data, augmentation)")

    def _emit(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and not self.tty and now - self.last < self.every:
            return
        self.last = now
        end = "\r" if self.tty and not force else "\n"
        sys.stderr.write(f"{self.prefix} {text}".ljust(100 if self.tty else 0) + end)
        sys.stderr.flush()

    def on_train_begin(self, total_steps, info):
        self.total, self.train_start = total_steps, time.perf_counter()
        self._emit(f"training {total_steps} steps on {info['examples']} examples")

    def on_log(self, step, logs):
        self.step = step
        elapsed = time.perf_counter() - self.train_start
        eta = elapsed / step * (self.total - step) if step else 0
        self._emit(f"step {step}/{self.total} loss {logs['loss']:.3f} ETA {eta:4.0f}s")

    def warn(self, text: str) -> None:
        """A warning line, printed whether or not progress lines are (it changes how results read)."""
        sys.stderr.write(f"{self.prefix} warning: {text}\n")
        sys.stderr.flush()

    def close(self, outcome: str) -> None:
        self._emit(f"done in {time.perf_counter() - self.start:.0f}s: {outcome}", force=True)
