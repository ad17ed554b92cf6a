"""Run a command and measure its wall time and the peak memory of its whole process tree.

The demo is a parent plus spawned workers, so the figure that matters is the peak of their summed
RSS (sampled from /proc), alongside the largest single process (getrusage, exact).
"""
from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from pathlib import Path


def _tree_rss_mib(root: int) -> float:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            pages = int((d / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
        rss[int(d.name)] = pages
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(cmd: list[str], env: dict | None = None, cwd: str | None = None, interval: float = 0.5,
            log: Path | None = None) -> dict:
    """Wall seconds, return code, peak summed RSS of the tree (MiB, sampled) and peak single-process RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    peak = 0.0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            if Path("/proc").is_dir():
                peak = max(peak, _tree_rss_mib(proc.pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if log:
        out.close()
    single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return {"wall_s": wall, "returncode": code, "peak_tree_rss_mib": peak or None,
            "peak_process_rss_mib": single if single * 1024 > before else None}
