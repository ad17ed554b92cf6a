"""The task registry: every task's labels, languages, data sources, hub id, loader and smoke stand-in.

Adding a task is one `register_task` call (plus its tests), made by the package that owns its loader
(`salt.data` registers the released tasks, `salt.synthetic` the synthetic ones), so that no loader
imports the registry back; `salt.data.tasks` is the full registry the rest of the code reads. Label order is part of the contract: it
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
