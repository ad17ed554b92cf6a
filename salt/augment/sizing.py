"""How many sentences one MLM forward pass of `propose` takes when `augment.batch_size` is auto.

A batch must fit the free memory of its device: the encoder's activations grow with the sentences' length,
and the vocabulary logits of every position read grow with the vocabulary (mBERT 119,547, XLM-R 250,002
entries), which is what a fixed batch size gets wrong by a factor of ten between models. On CPU the batch is
capped at the old fixed default, so CPU results stay what they were.
"""
from __future__ import annotations

import os

import torch

CPU_CAP = 64  # the fixed default before auto: padding differs with the batch, so CPU results stay unchanged
ACCELERATOR_CAP = 1024  # past this, a bigger batch buys no throughput and only delays the progress bar
MEMORY_SHARE = 0.5  # of the free memory: headroom for the allocator's fragmentation and the other tensors
ACTIVATION_FLOATS = 16  # fp32 values live per token and hidden unit in one encoder layer (FFN 4x, attention, residual)
LOGIT_COPIES = 2  # the logits and the full-softmax normaliser's temporary


def proposal_batch_size(free_bytes: int, vocab_size: int, hidden_size: int, seq_len: int,
                        positions_per_row: float, cap: int) -> int:
    """Sentences per forward pass: the share of `free_bytes` that one row's activations (`seq_len` tokens of
    `hidden_size`) and vocabulary logits (`positions_per_row` positions of `vocab_size` fp32 values) fill,
    between 1 and `cap`."""
    per_row = (seq_len * hidden_size * ACTIVATION_FLOATS + positions_per_row * vocab_size * LOGIT_COPIES) * 4
    return int(max(1, min(cap, MEMORY_SHARE * free_bytes // max(per_row, 1))))


def free_memory(device: torch.device) -> int:
    """Bytes free on `device`: CUDA's own count for a GPU, the host's available memory otherwise."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:  # MemAvailable counts the reclaimable page cache, as `free` does
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def cap_for(device: torch.device) -> int:
    return CPU_CAP if device.type == "cpu" else ACCELERATOR_CAP
