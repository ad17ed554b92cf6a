"""Task data: XNLI, PAWS-X (hub or released file formats) and the synthetic world's tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from salt.data.describe import describe, format_describe
from salt.data.formats import DataFormatError
from salt.data.hub import HubLoadError, load_hub
from salt.data.local import IgnoredFile, LocalTaskData, load_local
from salt.data.registry import PAWSX, TASKS, XNLI, Smoke, Task, register_task
from salt.data.types import UNLABELED, Dropped, Example, TaskData, TaskInputs, TaskSpec

if TYPE_CHECKING:
    from salt.config import RunConfig

__all__ = [
    "UNLABELED",
    "Dropped",
    "Example",
    "TaskData",
    "TaskSpec",
    "TASKS",
    "XNLI",
    "PAWSX",
    "DataFormatError",
    "HubLoadError",
    "IgnoredFile",
    "LocalTaskData",
    "describe",
    "format_describe",
    "load_hub",
    "load_local",
    "load_task",
    "run_splits",
]


def load_task(
    task: str,
    source: str = "hub",
    data_dir: str | Path | None = None,
    languages: Iterable[str] | None = None,
    hub_id: str | None = None,
    cache_dir: str | Path | None = None,
    splits: Mapping[str, Iterable[str]] | None = None,
) -> TaskData:
    """Load a real task from the Hub ("hub") or from released files under data_dir ("local").

    `splits` (split -> languages; None = every split of every language) limits what is read, so a
    run does not build millions of rows it never uses. Arguments that only the other source uses are
    rejected rather than ignored, so a run never silently reads from a place other than the one its
    config names.
    """
    if source == "hub":
        if data_dir is not None:
            raise ValueError("data_dir is only used with source='local'")
        return load_hub(task, languages=languages, hub_id=hub_id, cache_dir=cache_dir, splits=splits)
    if source == "local":
        if data_dir is None:
            raise ValueError("source='local' needs data_dir (the folder holding the released files)")
        if hub_id is not None or cache_dir is not None:
            raise ValueError("hub_id and cache_dir are only used with source='hub'")
        return load_local(task, Path(data_dir), languages=languages, splits=splits)
    raise ValueError(f"unknown data source {source!r}; expected 'hub' or 'local'")


def run_splits(cfg: RunConfig, languages: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The (split -> languages) a run of `cfg` reads (salt.run): the source language's train, dev and test
    of the source and every target (evaluation, model selection), and, with `vocab.source: task`, the
    vocabulary's text split of each language. Released tasks never resolve `vocab.source: auto` to task."""
    source = cfg.source_lang
    targets = [l for l in languages if l != source] if cfg.target_langs is None else list(cfg.target_langs)
    evaluated = tuple(dict.fromkeys([source, *targets]))
    wanted: dict[str, tuple[str, ...]] = {"train": (source,), "dev": evaluated, "test": evaluated}
    if cfg.augment.enabled and cfg.vocab.source == "task":
        wanted[cfg.vocab.text_split] = tuple(dict.fromkeys([*wanted[cfg.vocab.text_split], *evaluated]))
    return wanted


def load_released(cfg: RunConfig) -> TaskInputs:
    """A real task from the hub or from released files; only the splits and languages the run reads."""
    if cfg.data_source == "synthetic":
        raise ValueError(f"task {cfg.task!r} is not synthetic: set data_source to 'hub' or 'local'")
    langs = None if cfg.target_langs is None else [cfg.source_lang, *cfg.target_langs]
    splits = run_splits(cfg, TASKS[cfg.task].languages())
    return TaskInputs(load_task(cfg.task, cfg.data_source, data_dir=cfg.data_dir, hub_id=cfg.hub_id,
                                languages=langs, splits=splits))


register_task(Task(
    XNLI, load_released, ("hub", "local"), Smoke("synthetic-nli"), "cross-lingual NLI, 15 languages",
    hub_id="facebook/xnli", hub_columns=("premise", "hypothesis"),
    # 'contradictory' is how some XNLI-MT copies spell contradiction
    raw_labels={"entailment": 0, "neutral": 1, "contradiction": 2, "contradictory": 2}))
register_task(Task(
    PAWSX, load_released, ("hub", "local"), Smoke("synthetic-paraphrase"),
    "cross-lingual paraphrase identification, 7 languages", hub_id="google-research-datasets/paws-x",
    hub_columns=("sentence1", "sentence2"), raw_labels={"0": 0, "1": 1}))
