"""SIGTERM takes Ctrl-C's path: both raise `Stopped` (a KeyboardInterrupt), so a cell that is training ends
its MLflow run KILLED and its Optuna trial FAIL (and is queued again), whichever signal a scheduler sends.

The first signal raises; later ones are ignored while that exception unwinds, so the records it writes
(MLflow run KILLED, trial FAIL) are not cut short by a second Ctrl-C or a SIGTERM sent to the whole process
group. While Optuna hands a trial over (`holding`), a stop waits for the objective, so no trial is left
RUNNING without an owner. SIGKILL still ends a process at once; the next `run` reconciles what it left
(harness.liveness).
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """A stop asked for by a signal; `signum` says which."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


_held: list[int] | None = None  # while stops are held (`holding`): the signals that came, raised by `release`


def _raise(signum, frame) -> None:
    for s in HANDLED:
        if signal.getsignal(s) is _raise:
            signal.signal(s, signal.SIG_IGN)
    if _held is not None:
        _held.append(signum)
        return
    raise Stopped(signum)


def holding(ask):
    """`ask` that holds a stop until `release`, which the objective calls first. Optuna marks a trial RUNNING
    inside `ask`, before the objective records its owner and before the `try` that ends a stopped trial FAIL:
    a stop raised there would leave a RUNNING trial that no process owns."""
    def held_ask(*args, **kwargs):
        global _held
        _held = [] if _held is None else _held
        try:
            return ask(*args, **kwargs)
        except BaseException:
            release()  # a held stop, if any, instead
            raise
    return held_ask


def release() -> None:
    """End a hold; a stop that came during it is raised now (where the objective can end its trial)."""
    global _held
    held, _held = _held, None
    if held:
        raise Stopped(held[0])


@contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM raise `Stopped` in this process for the span (main thread only), then the earlier
    handlers return. A signal the process inherited as ignored stays ignored (a shell's background job
    ignores SIGINT)."""
    before = {s: signal.getsignal(s) for s in HANDLED}
    for s, handler in before.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def exit_status(stop: BaseException) -> int:
    """128 + the signal number, as a shell reports a process ended by that signal (130 for Ctrl-C)."""
    return 128 + getattr(stop, "signum", signal.SIGINT)
