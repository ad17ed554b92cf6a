"""What every benchmark shares: a Figure (a measured ratio or amount against its target), timing and the machine.

Each figure is measured in one run against its reference, so machine noise mostly cancels.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class Figure:
    """One measured figure. `target` is an upper bound unless `higher_is_better`."""

    name: str  # stable key, e.g. "augment.visible_vs_forward"
    title: str
    value: float | None  # None: not measured (see `note`)
    unit: str  # "x", "s", "MiB", "examples/s", ...
    target: float | None = None
    higher_is_better: bool = False
    detail: dict = field(default_factory=dict)  # the raw measurements behind the value
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def to_dict(self) -> dict:
        return asdict(self) | {"met": self.met}


def timed(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> dict:
    """Median (and all) wall times of `fn`; the median resists the odd descheduled run."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "times_s": [round(t, 5) for t in times]}


def interleaved(fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1) -> dict[str, dict]:
    """Time several functions in alternation (a, b, a, b, ...), so drift in machine speed hits all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {k: {"median_s": statistics.median(v), "times_s": [round(t, 5) for t in v]} for k, v in times.items()}


def machine() -> dict:
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cpu": _cpu_model()}
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(run: Callable[[dict], list[Figure]]) -> None:
    """Entry point of one benchmark module: `python -m benchmarks.NAME --out FILE [--quick]`."""
    import argparse
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a check, not a figure)")
    args = parser.parse_args()
    figures = run({"quick": args.quick})
    with open(args.out, "w") as f:
        json.dump([fig.to_dict() for fig in figures], f, indent=2)
