"""Which device a run trains on, described for its records, and the GPU ids this process can see.

A number from a GPU run is only comparable with another when both say which card, which torch and which CUDA
produced it, and a worker pinned to one GPU of a node is only traceable by that GPU's physical id: the entry of
`CUDA_VISIBLE_DEVICES` behind the process's `cuda:N`, not `N`.
"""
from __future__ import annotations

import os
from typing import Mapping

import torch

CUDA_ENV = "CUDA_VISIBLE_DEVICES"


def listed_gpus(environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The entries of `CUDA_VISIBLE_DEVICES` in order (`cuda:N` is entry N), or None when it is not set.

    An empty value hides every GPU; ids may be indices, `GPU-<uuid>` or `MIG-<uuid>`.
    """
    listed = (os.environ if environ is None else environ).get(CUDA_ENV)
    if listed is None:
        return None
    return [part.strip() for part in listed.split(",")] if listed.strip() else []


def physical_id(ordinal: int, environ: Mapping[str, str] | None = None) -> str:
    """The id a process's `cuda:<ordinal>` has on its machine (as nvidia-smi and `CUDA_VISIBLE_DEVICES` name it)."""
    listed = listed_gpus(environ)
    return listed[ordinal] if listed is not None and ordinal < len(listed) else str(ordinal)


def describe_device(device: torch.device | str) -> dict[str, str]:
    """What a run on `device` trains on: {"device": "cpu" | "cuda", and on a GPU "gpu" (its model), "gpu_index"
    (its physical id), "gpu_memory_gib", "gpu_uuid"}, plus torch's version and the CUDA it was built with ("none"
    for a CPU build). Never raises: a GPU that cannot be read is described as unavailable (the run itself then
    fails with torch's own error)."""
    device = torch.device(device)
    out = {"device": device.type, "torch": torch.__version__, "cuda": torch.version.cuda or "none"}
    if device.type != "cuda":
        return out
    try:
        ordinal = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(ordinal)
    except (RuntimeError, AssertionError, ValueError) as err:  # no driver, no GPU, an ordinal out of range
        out["gpu"] = f"unavailable ({type(err).__name__}: {str(err).strip()[:200]})"
        return out
    out.update(gpu=str(props.name), gpu_index=physical_id(ordinal), gpu_memory_gib=f"{props.total_memory / 2**30:.1f}")
    uuid = getattr(props, "uuid", None)
    if uuid:
        out["gpu_uuid"] = str(uuid)
    return out
