"""The task registry: every task's labels, languages, data sources, hub id, loader and smoke stand-in.

Adding a task is one `register_task` call (plus its tests): the study validator, the CLI's choices,
`--smoke`, the trainer and the report read this registry. Label order is part of the contract: it
equals the ClassLabel order of the Hub datasets (facebook/xnli: entailment, neutral, contradiction;
paws-x: 0, 1), so a label index means the same thing whether the rows came from the Hub or from
released files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from salt.data.types import TaskInputs, TaskSpec

if TYPE_CHECKING:
    from salt.config import RunConfig

XNLI = TaskSpec(
    name="xnli",
    labels=("entailment", "neutral", "contradiction"),
    languages=("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"),
)
PAWSX = TaskSpec(name="pawsx", labels=("different", "paraphrase"), languages=("de", "en", "es", "fr", "ja", "ko", "zh"))
SYNTHETIC_NLI = TaskSpec("synthetic-nli", ("entailment", "neutral", "contradiction"), ("en", "fr", "de", "es"))
SYNTHETIC_PARAPHRASE = TaskSpec("synthetic-paraphrase", ("different", "paraphrase"), ("en", "fr", "de", "es"))

# What `--smoke` changes besides the task and model: sizes for minutes on one CPU core.
SMOKE_SETTINGS = {"train.epochs": 3, "train.max_train_examples": 300, "train.max_eval_examples": 100,
                  "train.max_seq_len": 64, "train.batch_size": 32, "train.learning_rate": 1e-3,
                  "train.precision": "fp32", "train.device": "cpu", "train.threads": 1, "train.grad_accum": 1,
                  "augment.batch_size": 64, "vocab.source": "auto"}


@dataclass(frozen=True)
class Smoke:
    """The small stand-in `--smoke` runs for a task: a synthetic task on a world preset, at these sizes."""

    task: str
    world: str = "tiny"
    settings: Mapping[str, Any] = field(default_factory=lambda: dict(SMOKE_SETTINGS))


@dataclass(frozen=True)
class Task:
    spec: TaskSpec  # name, labels, languages (of the default world, for synthetic tasks), source language
    load: Callable[["RunConfig"], TaskInputs]
    sources: tuple[str, ...]  # data sources it can load from; the first is the default
    smoke: Smoke
    description: str = ""
    hub_id: str | None = None  # default `datasets` id (one config per language)
    hub_columns: tuple[str, str] | None = None  # the two text columns of the hub dataset
    # Raw label strings as they appear in released files (and as Hub ClassLabel names) -> index.
    raw_labels: Mapping[str, int] = field(default_factory=dict)
    languages_of: Callable[[str], tuple[str, ...]] | None = None  # world preset -> languages (synthetic)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    @property
    def synthetic(self) -> bool:
        return "synthetic" in self.sources

    def languages(self, world: str | None = None) -> tuple[str, ...]:
        if self.languages_of is not None and world is not None:
            return self.languages_of(world)
        return self.spec.languages


TASKS: dict[str, Task] = {}


def register_task(task: Task, *, replace_existing: bool = False) -> Task:
    if task.name in TASKS and not replace_existing:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    """Look a task up by name, with an error that lists the choices instead of a bare KeyError."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}") from None


def released_tasks() -> list[Task]:
    """Tasks read from released files (`salt.data.local` knows their formats)."""
    return [t for t in TASKS.values() if "local" in t.sources]


def check_languages(spec: TaskSpec, languages: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Resolve a language filter (None = all), rejecting codes the task does not have.

    A typo like 'ch' for 'zh' would otherwise silently load nothing for that language.
    """
    if languages is None:
        return spec.languages
    unknown = [lang for lang in languages if lang not in spec.languages]
    if unknown:
        raise ValueError(f"{spec.name} has no language(s) {unknown}; expected some of {list(spec.languages)}")
    return tuple(languages)


# --------------------------------------------------------------------------------------------- loaders

def load_released(cfg: RunConfig) -> TaskInputs:
    """A real task from the hub or from released files; only the languages the run needs."""
    from salt.data import load_task

    if cfg.data_source == "synthetic":
        raise ValueError(f"task {cfg.task!r} is not synthetic: set data_source to 'hub' or 'local'")
    langs = None if cfg.target_langs is None else [cfg.source_lang, *cfg.target_langs]
    return TaskInputs(load_task(cfg.task, cfg.data_source, data_dir=cfg.data_dir, hub_id=cfg.hub_id,
                                languages=langs))


def load_synthetic(cfg: RunConfig) -> TaskInputs:
    """A task of the synthetic world, with its monolingual corpora and gold lexicon."""
    from salt.synthetic import load_world

    world = load_world(cfg.world)
    return TaskInputs(world.task(cfg.task), world.corpora, world.lexicon)


def world_languages(world: str) -> tuple[str, ...]:
    from salt.synthetic.world import WORLD_PRESETS

    return WORLD_PRESETS[world].languages


register_task(Task(
    XNLI, load_released, ("hub", "local"), Smoke("synthetic-nli"), "cross-lingual NLI, 15 languages",
    hub_id="facebook/xnli", hub_columns=("premise", "hypothesis"),
    # 'contradictory' is how some XNLI-MT copies spell contradiction
    raw_labels={"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}))
register_task(Task(
    PAWSX, load_released, ("hub", "local"), Smoke("synthetic-paraphrase"),
    "cross-lingual paraphrase identification, 7 languages", hub_id="google-research-datasets/paws-x",
    hub_columns=("sentence1", "sentence2"), raw_labels={"0": 0, "1": 1}))
register_task(Task(SYNTHETIC_NLI, load_synthetic, ("synthetic",), Smoke("synthetic-nli"),
                   "NLI over the synthetic world's languages", languages_of=world_languages))
register_task(Task(SYNTHETIC_PARAPHRASE, load_synthetic, ("synthetic",), Smoke("synthetic-paraphrase"),
                   "paraphrase identification over the synthetic world's languages", languages_of=world_languages))
