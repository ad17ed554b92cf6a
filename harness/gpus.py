"""Which GPU each local worker process trains on: `--gpus`, `--workers`, `--workers-per-gpu` -> a `WorkerPlan`.

A run trains on one device, and every process that is not told otherwise picks `cuda:0`: N workers on an
N-GPU node would all train on the first GPU. So each worker is given one GPU of its own (or shares one with
K-1 others under `--workers-per-gpu K`) through `CUDA_VISIBLE_DEVICES`, and more workers than that is refused.
This module only decides; `harness.scheduler` applies a plan (`child_environment` around each worker's start).
The one impure part is the probe, `cuda_count` (tests replace it).
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping

from salt.devices import CUDA_ENV, listed_gpus

FLAGS_HINT = "give auto (the GPUs this process sees), none (train on CPU), or GPU ids separated by commas (e.g. 0,1,3)"


class GpuError(ValueError):
    """Bad `--gpus` / `--workers` / `--workers-per-gpu`: the message names the flag and the fix."""


def cuda_count() -> int:
    """How many GPUs torch sees (it honours `CUDA_VISIBLE_DEVICES`). torch counts through NVML where it can,
    which creates no CUDA context; the workers are spawned afresh in any case, so none is inherited."""
    import torch

    return torch.cuda.device_count()


def visible_gpus(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The physical ids of the GPUs this process sees: the entries of `CUDA_VISIBLE_DEVICES` (what SLURM sets
    for a job's GPUs) that CUDA accepts, else 0..count-1, nvidia-smi's numbering."""
    count = cuda_count()
    listed = listed_gpus(environ)
    return tuple(str(i) for i in range(count)) if listed is None else tuple(listed[:count])


def _where(visible: tuple[str, ...], environ: Mapping[str, str] | None) -> str:
    listed = (os.environ if environ is None else environ).get(CUDA_ENV)
    origin = "" if listed is None else f" ({CUDA_ENV}={listed})" if listed.strip() else f" ({CUDA_ENV} is empty)"
    return (", ".join(visible) if visible else "none") + origin


def parse_gpus(spec: str, visible: tuple[str, ...], environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """`--gpus`: auto -> every visible GPU; none -> (); `0,1,3` -> those, each of which must be visible."""
    text = spec.strip()
    if text == "auto":
        return visible
    if text == "none":
        return ()
    chosen: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        gpu = str(int(token)) if token.isdigit() else token
        if not token or not (token.isdigit() or token in visible):
            raise GpuError(f"--gpus {spec!r}: {token!r} is not a GPU id: {FLAGS_HINT}")
        if gpu not in visible:
            raise GpuError(f"--gpus {spec!r}: GPU {gpu} is not visible to this process (visible: "
                           f"{_where(visible, environ)}): pick among those, or --gpus auto")
        if gpu in chosen:
            raise GpuError(f"--gpus {spec!r} names GPU {gpu} twice: to run several workers on one GPU, use "
                           "--workers-per-gpu")
        chosen.append(gpu)
    return tuple(chosen)


@dataclass(frozen=True)
class WorkerPlan:
    """Per local worker, the GPU ids it may see (() = CPU only; None = whatever this process sees, unpinned),
    and the GPUs this process sees (None: not probed)."""

    gpus: tuple[tuple[str, ...] | None, ...]
    visible: tuple[str, ...] | None = None

    @classmethod
    def unpinned(cls, workers: int) -> WorkerPlan:
        """`workers` processes that inherit this process's devices (the Python API's `run_study(workers=N)`)."""
        return cls((None,) * max(workers, 1))

    @property
    def workers(self) -> int:
        return len(self.gpus)

    def env(self, worker: int) -> dict[str, str]:
        """What worker `worker`'s environment gets: `CUDA_VISIBLE_DEVICES` naming its GPUs ("" for CPU)."""
        gpus = self.gpus[worker]
        return {} if gpus is None else {CUDA_ENV: ",".join(gpus)}

    def in_process(self) -> bool:
        """One worker that sees exactly what this process sees runs here; any other is a process of its own,
        since `CUDA_VISIBLE_DEVICES` only counts when set before CUDA starts in a process."""
        return self.workers == 1 and (self.gpus[0] is None or self.gpus[0] == self.visible)

    def describe(self) -> str | None:
        """`4 workers: w0 on GPU 0, w1 on GPU 1, ...` (None when no GPU is involved: nothing to say)."""
        if not any(self.gpus) and not self.visible:
            return None
        where = [f"w{i} on " + (f"GPU {','.join(g)}" if g else "CPU") for i, g in enumerate(self.gpus) if g is not None]
        return f"{self.workers} worker{'s' if self.workers != 1 else ''}: " + ", ".join(where) if where else None


def plan_workers(gpus: str = "auto", workers: int | None = None, per_gpu: int | None = None,
                 environ: Mapping[str, str] | None = None) -> WorkerPlan:
    """The workers and their GPUs: by default one worker per chosen GPU (1 on CPU); GPU i % G to worker i, so
    fewer workers than GPUs spread over them; refused beyond `per_gpu` (default 1) workers per GPU."""
    if workers is not None and workers < 1:
        raise GpuError(f"--workers must be at least 1, got {workers}")
    if per_gpu is not None and per_gpu < 1:
        raise GpuError(f"--workers-per-gpu must be at least 1, got {per_gpu}")
    visible = visible_gpus(environ)
    chosen = parse_gpus(gpus, visible, environ)
    if not chosen:
        if per_gpu is not None:
            why = "--gpus none" if gpus.strip() == "none" else f"no GPU is visible to this process ({_where(visible, environ)})"
            raise GpuError(f"--workers-per-gpu {per_gpu} shares GPUs, but there are none ({why}): drop it and set "
                           "the number of CPU workers with --workers")
        return WorkerPlan(((),) * (workers or 1), visible)
    share = per_gpu or 1
    limit = len(chosen) * share
    n = workers or limit
    if n > limit:
        gpu_s = f"{len(chosen)} GPU{'s' if len(chosen) > 1 else ''} ({', '.join(chosen)})"
        raise GpuError(f"--workers {n}: --gpus {gpus} gives {gpu_s}, room for {limit} at {share} worker"
                       f"{'s' if share > 1 else ''} per GPU: pass --workers {limit} or fewer, --workers-per-gpu "
                       f"{math.ceil(n / len(chosen))} to let that many workers share each GPU, or --gpus none to "
                       "train on CPU")
    return WorkerPlan(tuple((chosen[i % len(chosen)],) for i in range(n)), visible)


@contextmanager
def child_environment(env: Mapping[str, str]) -> Iterator[None]:
    """This process's environment with `env` set, restored afterwards: wrap a spawned worker's `start()` in it.

    A spawn-started process is a fresh interpreter that inherits the environment as it is at `start()`, so the
    variable is in place before the child runs a line. Setting it in the child's entry instead would come after
    unpickling the entry imports torch and transformers, and the first CUDA query of any of them
    (`torch.cuda.is_available()` calls cudaGetDeviceCount) fixes the visible GPUs for the process's life.
    """
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
