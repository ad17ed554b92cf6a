"""Batch orders, and a batch's way to the device, shared by fine-tuning, mixup and the synthetic model's
pretraining (so none imports another)."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch


def chunks(order: np.ndarray, size: int) -> Iterable[np.ndarray]:
    for start in range(0, len(order), size):
        yield order[start:start + size]


def length_grouped_batches(order: np.ndarray, lengths: np.ndarray, size: int, gen: torch.Generator,
                           window: int = 50, drop_last: bool = False) -> list[np.ndarray]:
    """Batches of similar length (`lengths` is indexed by the values of `order`): sort each window of
    `window` batches by length, then shuffle the batches, so the epoch stays random while padding
    almost vanishes."""
    batches = []
    for start in range(0, len(order), size * window):
        chunk = order[start:start + size * window]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [b for b in chunks(chunk, size) if len(b) == size or not drop_last]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


def to_device(array, device: torch.device) -> torch.Tensor:
    """A host array on `device`. To a GPU it goes from pinned memory without blocking the host (a plain copy
    waits for the device to finish its queue: a sync per batch); the copy stays ordered on the stream."""
    tensor = torch.as_tensor(array)
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)
