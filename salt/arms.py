"""The arms of a SALT ablation: each is a small, named change to a RunConfig.

- baseline: plain fine-tuning on the source data (same steps per epoch, same seeds);
- salt: self-augmentation (+ mixup per the config);
- random-selection: the same augmentation, N examples per language drawn uniformly (sampling control);
- random-substitution: the same positions switched to random target-language tokens (substitution control);
- equal-steps: the baseline, trained for as many updates as the salt arm, so gains are not just more steps.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from salt.config import RunConfig


def _augment(cfg: RunConfig, **changes) -> RunConfig:
    return replace(cfg, augment=replace(cfg.augment, enabled=True, **changes))


ARMS: dict[str, Callable[[RunConfig], RunConfig]] = {
    "baseline": lambda c: replace(c, augment=replace(c.augment, enabled=False)),
    "salt": lambda c: _augment(c),
    "random-selection": lambda c: _augment(c, selection="random"),
    "random-substitution": lambda c: _augment(c, substitution="random"),
    "equal-steps": lambda c: replace(_augment(c), train=replace(c.train, equal_steps=True)),
}


def apply_arm(cfg: RunConfig, arm: str) -> RunConfig:
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; known: {', '.join(ARMS)}")
    return ARMS[arm](cfg)
