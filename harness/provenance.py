"""Where a result came from: the code's git commit and the versions of the packages that ran it.

A number in an ablation table is only as trustworthy as our ability to say which code and which
library versions produced it, so every study's parent run (and every trial) carries these as tags.
Nothing here may fail a study: a missing git, a tarball checkout or an absent package gives "unknown".
"""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

UNKNOWN = "unknown"
PACKAGES = ("torch", "transformers", "datasets", "mlflow", "optuna", "scipy", "pandas", "numpy", "salt-harness")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _git(path: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit(path: Path | str = REPO_ROOT) -> str:
    """HEAD's full sha of the repository holding `path`, or "unknown" (no git, not a repository)."""
    p = Path(path)
    return _git(p if p.is_dir() else p.parent, "rev-parse", "HEAD") or UNKNOWN


def git_dirty(path: Path | str = REPO_ROOT) -> bool | None:
    """Whether tracked files differ from HEAD (the commit alone then does not pin the code); None if unknown.

    Untracked files are ignored: outputs (mlruns/, caches) must not mark every run dirty.
    """
    p = Path(path)
    out = _git(p if p.is_dir() else p.parent, "status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out)


def git_info(path: Path | str = REPO_ROOT) -> dict[str, str]:
    """Tag-ready strings: {"git_commit": sha|"unknown", "git_dirty": "true"|"false"|"unknown"}."""
    dirty = git_dirty(path)
    return {"git_commit": git_commit(path), "git_dirty": UNKNOWN if dirty is None else str(dirty).lower()}


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour can change a result, plus Python itself."""
    return dict(_versions())  # a copy: callers may add to it


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = UNKNOWN
    out["python"] = platform.python_version()
    return out


def hostname() -> str:
    """This machine's name as workers record it; SALT_HOSTNAME overrides it (tests simulate other machines)."""
    import os
    import socket

    return os.environ.get("SALT_HOSTNAME") or socket.gethostname()
