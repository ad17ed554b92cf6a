"""Fine-tuning settings that suit the synthetic world's tiny model (mBERT-scale defaults live in TrainConfig)."""
from __future__ import annotations

from dataclasses import replace

from salt.config import RunConfig, TrainConfig

# A 0.6M-parameter model wants a far larger learning rate than mBERT's 2e-5..5e-5; 5 epochs over
# 6000 pairs is what DESIGN.md measured as big enough for English accuracy > 0.9.
SYNTHETIC_TRAIN = {
    "default": TrainConfig(learning_rate=5e-4, epochs=5, batch_size=32, max_seq_len=64, evals_per_epoch=1,
                           threads=1),
    "tiny": TrainConfig(learning_rate=1e-3, epochs=2, batch_size=32, max_seq_len=64, threads=1),
}


def synthetic_defaults(cfg: RunConfig) -> RunConfig:
    """The training preset matching the world preset, for runs that didn't set their own."""
    return replace(cfg, train=SYNTHETIC_TRAIN.get(cfg.world, SYNTHETIC_TRAIN["default"]))
