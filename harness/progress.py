"""Progress: a study line when a cell starts (cells done, running, ETA) and a line per worker (trial, cell,
step, ETA), prefixed `[wN]`. One worker on a terminal redraws its line in place; several workers, or a log
file, get one line per update, so workers never overwrite each other.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone

from optuna.trial import TrialState

from salt.train import Callback


def study_line(study, spec, worker: int) -> None:
    """`[study] cell 7/15 on w1: 5 complete, 2 running, ETA 3 min`, from the revision's Optuna trials: ETA is
    the mean time of the cells trained so far times the cells left, shared by the cells running."""
    trials = [t for t in study.get_trials(deepcopy=False) if "cell" in t.user_attrs]
    complete = {t.user_attrs["cell"] for t in trials if t.state == TrialState.COMPLETE}
    running = sum(t.state == TrialState.RUNNING for t in trials)
    total = len(spec.cells()) if spec.sampler.type == "grid" else spec.sampler.n_trials
    trained = [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials
               if t.state == TrialState.COMPLETE and "reused_run" not in t.user_attrs and t.datetime_start]
    left = max(total - len(complete), 0)
    eta = f", ETA {_duration(sum(trained) / len(trained) * left / max(running, 1))}" if trained else ""
    sys.stderr.write(f"[study] cell {min(len(complete) + running, total)}/{total} on w{worker}: {len(complete)} "
                     f"complete, {running} running{eta} ({datetime.now(timezone.utc):%H:%M:%S} UTC)\n")
    sys.stderr.flush()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class ProgressLine(Callback):
    def __init__(self, worker: int, trial: int, label: str, enabled: bool = True, every: float | None = None,
                 redraw: bool = True):
        self.prefix = f"[w{worker}] trial {trial} {label}"
        # seconds between lines in a log file (not a terminal); SALT_PROGRESS_EVERY=0 prints every update
        self.enabled, self.every = enabled, float(os.environ.get("SALT_PROGRESS_EVERY", 10) if every is None else every)
        self.tty = redraw and sys.stderr.isatty()  # redraw in place: one worker on a terminal
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

    def fail(self, reason: str) -> None:
        """The trial failed: said whether or not progress lines are (a quiet run's log must say why cells failed)."""
        self.enabled = True
        self.close(f"FAILED: {reason}")

    def close(self, outcome: str) -> None:
        self._emit(f"done in {time.perf_counter() - self.start:.0f}s: {outcome}", force=True)
