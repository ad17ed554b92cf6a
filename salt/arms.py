"""The arms of a SALT ablation: each is a named change to a RunConfig plus what a report needs to know.

Adding an arm is one `register_arm` call: the study validator, the cell expansion, the report's default
comparisons, tables and plot colours all read this registry.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from salt.config import AugmentConfig, MixupConfig, PerLanguage, RunConfig, VocabConfig, identity

AUGMENTATION_SECTIONS = ("augment", "mixup", "vocab")
DRAW_KEY = "augment.draw_seed"  # the augmentation's draws (study key `draws: k`)
DATA_KEY = "train.data_seed"  # the data order (study key `data_seeds: k`)
REPLICATE_KEYS = (DRAW_KEY, DATA_KEY)  # seeds crossed with the training seed: averaged per seed in reports


@dataclass(frozen=True)
class Arm:
    name: str
    apply: Callable[[RunConfig], RunConfig]
    label: str  # how tables and plots name it
    color: str
    description: str
    augments: bool = True  # trains on code-switched examples
    # Config sections that cannot change this arm's result: a study gives it one cell for all their values,
    # and a cell's identity leaves them out.
    ignores: tuple[str, ...] = ()
    reference: bool = False  # plain fine-tuning: every other arm is compared with a reference
    step_matched: bool = False  # a reference trained for as many updates as the augmented arms
    controls: str | None = None  # the arm this one is a control for: reports compare the two
    draws: bool = False  # its augmentation makes random draws (selection, substitutes): `draws: k` repeats them

    def uses(self, key: str) -> bool:
        """Whether the dotted setting `key` can change this arm's result."""
        if key == DRAW_KEY:
            return self.draws
        return key.split(".", 1)[0] not in self.ignores


ARMS: dict[str, Arm] = {}


def register_arm(arm: Arm, *, replace_existing: bool = False) -> Arm:
    if arm.name in ARMS and not replace_existing:
        raise ValueError(f"arm {arm.name!r} is already registered")
    if arm.controls is not None and arm.controls not in ARMS:
        raise ValueError(f"arm {arm.name!r} controls {arm.controls!r}, which is not registered")
    ARMS[arm.name] = arm
    return arm


def get_arm(name: str) -> Arm:
    if name not in ARMS:
        raise ValueError(f"unknown arm {name!r}; known: {', '.join(ARMS)}")
    return ARMS[name]


def apply_arm(cfg: RunConfig, name: str) -> RunConfig:
    return get_arm(name).apply(cfg)


def _augment(cfg: RunConfig, **changes) -> RunConfig:
    return replace(cfg, augment=replace(cfg.augment, enabled=True, **changes))


register_arm(Arm(
    "baseline", lambda c: replace(c, augment=replace(c.augment, enabled=False)), "Baseline", "#555555",
    "plain fine-tuning on the source data", augments=False, ignores=AUGMENTATION_SECTIONS, reference=True))
register_arm(Arm("salt", _augment, "SALT", "#1b6ca8", "self-augmentation (+ mixup per the config)"))
register_arm(Arm(
    "equal-steps", lambda c: replace(_augment(c), train=replace(c.train, equal_steps=True)),
    "Baseline (equal steps)", "#66a182",
    "the baseline trained on source data for as many updates as the augmented arms take, so a gain is not "
    "just more updates", augments=False, ignores=("mixup",), reference=True, step_matched=True))
register_arm(Arm(
    "random-selection", lambda c: _augment(c, selection="random"), "Random selection", "#d1495b",
    "the same augmentation, N examples per language drawn uniformly (sampling control)", controls="salt",
    draws=True))
register_arm(Arm(
    "random-substitution", lambda c: _augment(c, substitution="random"), "Random substitution", "#edae49",
    "the same positions switched to random target-language tokens drawn uniformly (substitution control)",
    controls="salt", draws=True))
register_arm(Arm(
    "random-frequency", lambda c: _augment(c, substitution="random-frequency"), "Random substitution (frequency)",
    "#8d6a9f", "the same positions switched to target-language tokens drawn by their frequency in the target text "
    "(a substitution control closer to real text)", controls="salt", draws=True))


def as_trained(cfg: RunConfig) -> RunConfig:
    """`cfg` with every setting that cannot act on what is trained reset, so configs that train alike by
    construction compare equal: an augmenting cell asked for no example (N = 0, a budget of 0) trains on the
    source alone for the baseline's updates, whatever its arm; a step-matched cell trains on no code-switched
    text, so its mixup cannot act; selecting every candidate (N = all) selects the same pool at random as by
    confidence, in the same order (salt.augment.switch.select)."""
    aug = cfg.augment
    counts = aug.samples_per_lang.as_dict().values() if isinstance(aug.samples_per_lang, PerLanguage) else [
        aug.samples_per_lang]
    asks_none = aug.budget.total == 0 if aug.budget.total is not None else all(n == 0 for n in counts)
    if not aug.enabled or asks_none:
        return replace(cfg, augment=AugmentConfig(enabled=False), vocab=VocabConfig(), mixup=MixupConfig(),
                       train=replace(cfg.train, equal_steps=False))
    if cfg.train.equal_steps:
        cfg = replace(cfg, mixup=MixupConfig())
    if aug.selection == "random" and aug.samples_per_lang is None and aug.budget.total is None:
        cfg = replace(cfg, augment=replace(aug, selection="confidence"))
    return cfg


def trains_alike(a: RunConfig, b: RunConfig, drawn: bool = False) -> bool:
    """Whether two cells' runs are the same training by construction (what a report shows as such and never
    tests). `drawn`: a side ran several augmentation draws, which only the no-augmentation case makes moot."""
    ta, tb = as_trained(replace(a, seed=0)), as_trained(replace(b, seed=0))
    if drawn and (ta.augment.enabled or tb.augment.enabled):
        return False
    return identity(ta) == identity(tb)
