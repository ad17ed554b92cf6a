"""Online embedding mixup of aligned original / code-switched tokens: h = r*h_src + (1-r)*h_tgt.

`r` is drawn afresh at every step for every instance, per token or per embedding dimension, from
Uniform(0,1) or Beta(a,b). Positions that were not substituted mix a token with itself, i.e. stay as they are.
"""
from __future__ import annotations

import numpy as np
import torch

from salt.config import MixupConfig


def sample_ratio(cfg: MixupConfig, shape: tuple[int, int, int], generator: torch.Generator,
                 device: torch.device | None = None) -> torch.Tensor:
    """r with shape (batch, seq, 1) per token or (batch, seq, hidden) per dimension."""
    batch, seq, hidden = shape
    size = (batch, seq, 1 if cfg.granularity == "token" else hidden)
    if cfg.granularity not in ("token", "dim"):
        raise ValueError(f"mixup.granularity must be 'token' or 'dim', got {cfg.granularity!r}")
    if cfg.distribution == "uniform":
        r = torch.rand(size, generator=generator)
    elif cfg.distribution == "beta":
        # torch has no seeded Beta sampler; numpy's, seeded from our generator, keeps runs reproducible.
        seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator))
        r = torch.from_numpy(np.random.default_rng(seed).beta(cfg.alpha, cfg.beta, size).astype(np.float32))
    else:
        raise ValueError(f"mixup.distribution must be 'uniform' or 'beta', got {cfg.distribution!r}")
    return r.to(device) if device is not None else r


def mix_embeddings(embed: torch.nn.Embedding, src_ids: torch.Tensor, tgt_ids: torch.Tensor,
                   r: torch.Tensor) -> torch.Tensor:
    # One lookup for both: two would each build a full-size gradient of the embedding table in
    # backward (measured 365 vs 183 ms for mBERT's 119547x768 table at 32x128 on CPU).
    both = embed(torch.stack([src_ids, tgt_ids]))
    return r * both[0] + (1 - r) * both[1]
