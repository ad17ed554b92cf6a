"""Task-agnostic records shared by every loader (hub, local files, synthetic world).

One representation for all sources is what lets the trainer run the same code path on mBERT/XNLI
and on the synthetic world.
"""
from __future__ import annotations

from dataclasses import dataclass, field

UNLABELED = -1  # label of rows whose release ships no gold label (e.g. XTREME test files)


@dataclass(frozen=True)
class Example:
    text_a: str
    text_b: str
    label: int  # index into TaskSpec.labels, or UNLABELED
    lang: str
    uid: str  # stable within a task: "<file name>:<line>" for files, "<config>/<split>/<idx>" for the hub


@dataclass(frozen=True)
class TaskSpec:
    name: str  # a registered task (salt.data.tasks)
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    source_lang: str = "en"


@dataclass(frozen=True)
class Dropped:
    """Rows skipped by a documented convention (e.g. MultiNLI gold label '-'): counted, never silent."""

    file: str
    reason: str
    count: int


@dataclass
class TaskData:
    spec: TaskSpec
    # split ("train" | "dev" | "test") -> language -> examples
    splits: dict[str, dict[str, list[Example]]]
    dropped: list[Dropped] = field(default_factory=list)
    # split -> language -> where the rows came from (file path or hub id), for reports
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    # hub config (language) -> the hub commit its rows came from (salt.data.hub.hub_revision); empty for files
    revisions: dict[str, str] = field(default_factory=dict)

    def get(self, split: str, lang: str) -> list[Example]:
        return self.splits.get(split, {}).get(lang, [])

    def languages(self, split: str) -> list[str]:
        return sorted(self.splits.get(split, {}))


@dataclass
class TaskInputs:
    """What a task's loader gives a run: the labelled data, unlabeled text per language (for candidate
    vocabularies; empty when the task has none of its own) and a gold lexicon where one exists."""

    data: TaskData
    corpora: dict[str, list[str]] = field(default_factory=dict)
    lexicon: dict[str, dict[str, str]] | None = None
