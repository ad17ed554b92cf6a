"""The offline synthetic multilingual world: four languages from one abstract grammar, a gold
lexicon, NLI and paraphrase tasks as ordinary `TaskData`, and a tiny BERT pretrained on it.

It exists so that SALT's mechanism can be tested where the answer is known: alignment emerges from
monolingual pretraining alone, and every substitution can be checked against the gold lexicon.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from salt.data.registry import SYNTHETIC_NLI, SYNTHETIC_PARAPHRASE, Smoke, Task, register_task
from salt.data.types import TaskInputs

from salt.synthetic.world import (
    NLI_LABELS,
    NLI_TASK,
    PARAPHRASE_LABELS,
    PARAPHRASE_TASK,
    STYLES,
    WORLD_PRESETS,
    World,
    WorldConfig,
    generate_world,
)

if TYPE_CHECKING:
    from salt.config import RunConfig


def load_world(preset_or_cfg: str | WorldConfig = "default") -> World:
    """The world for a preset name or config, generated once per process (treat it as read-only)."""
    cfg = WORLD_PRESETS[preset_or_cfg] if isinstance(preset_or_cfg, str) else preset_or_cfg
    return _cached_world(cfg)


@lru_cache(maxsize=4)
def _cached_world(cfg: WorldConfig) -> World:
    return generate_world(cfg)


def load_synthetic(cfg: RunConfig) -> TaskInputs:
    """A task of the synthetic world, with its monolingual corpora and gold lexicon."""
    world = load_world(cfg.world)
    return TaskInputs(world.task(cfg.task), world.corpora, world.lexicon)


def world_languages(world: str) -> tuple[str, ...]:
    return WORLD_PRESETS[world].languages


register_task(Task(SYNTHETIC_NLI, load_synthetic, ("synthetic",), Smoke("synthetic-nli"),
                   "NLI over the synthetic world's languages", languages_of=world_languages))
register_task(Task(SYNTHETIC_PARAPHRASE, load_synthetic, ("synthetic",), Smoke("synthetic-paraphrase"),
                   "paraphrase identification over the synthetic world's languages", languages_of=world_languages))

# Pretraining needs torch and transformers (seconds to import): loaded on first use, so that reading the
# world's presets (every CLI's choices, a report) does not pay for it.
_PRETRAIN = ("PRETRAIN_PRESETS", "PretrainConfig", "build_tokenizer", "default_cache_dir", "pretrain_mlm",
             "read_model_info", "world_model_dir")


def __getattr__(name: str):
    if name in _PRETRAIN:
        from salt.synthetic import pretrain

        return getattr(pretrain, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "NLI_LABELS", "NLI_TASK", "PARAPHRASE_LABELS", "PARAPHRASE_TASK", "PRETRAIN_PRESETS", "STYLES",
    "WORLD_PRESETS", "PretrainConfig", "World", "WorldConfig", "build_tokenizer", "default_cache_dir",
    "generate_world", "load_world", "pretrain_mlm", "read_model_info", "world_model_dir",
]
