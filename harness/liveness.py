"""Is the process that owns a trial or a run still alive? One rule for Optuna trials and MLflow runs.

Every trial and run records its owner (host, pid, and the pid's start time, which tells a live owner
from a later process that reused the pid). An owner on another host counts as alive: only heartbeats
(RDB storage) can tell about those.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from harness.provenance import hostname


def ownerless_grace() -> float:
    """Seconds an ownerless RUNNING trial is given (SALT_OWNERLESS_GRACE; tests shorten it)."""
    return float(os.environ.get("SALT_OWNERLESS_GRACE", 60))


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first); None where unavailable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _proc_start(pid: int) -> str | None:
    """Start time in clock ticks since boot."""
    stat = _proc_stat(pid)
    return stat[19] if stat and len(stat) > 19 else None


@dataclass(frozen=True)
class Owner:
    host: str | None
    pid: int | None
    pid_start: str | None = None

    @classmethod
    def current(cls) -> Owner:
        return cls(hostname(), os.getpid(), _proc_start(os.getpid()))

    def as_strings(self) -> dict[str, str]:
        """{"host", "pid", "pid_start"} as strings (absent ones left out): for tags and user attrs."""
        return {k: str(v) for k, v in (("host", self.host), ("pid", self.pid), ("pid_start", self.pid_start))
                if v is not None}

    @classmethod
    def from_strings(cls, values: Mapping[str, object]) -> Owner:
        pid = values.get("pid")
        pid = int(pid) if isinstance(pid, int) or (isinstance(pid, str) and pid.isdigit()) else None
        start = values.get("pid_start")
        return cls(values.get("host"), pid, None if start is None else str(start))

    def alive(self, started: datetime | None = None) -> bool:
        """Same host and the pid runs (not a zombie, not reused); other hosts count as alive.

        An owner that never recorded itself (`started`: when its trial began) counts as alive for
        `ownerless_grace()` seconds: a worker records itself within milliseconds of taking a trial, so an
        older ownerless trial was taken by a process that died first (e.g. its write hit a full disk).
        """
        if self.pid is None:
            if started is None:
                return True
            age = (datetime.now(timezone.utc) - started.astimezone(timezone.utc)).total_seconds()
            return age < ownerless_grace()
        if self.host != hostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        stat = _proc_stat(self.pid)
        if stat and stat[0] in ("Z", "X"):
            return False
        current = _proc_start(self.pid)
        return not (self.pid_start and current and self.pid_start != current)
