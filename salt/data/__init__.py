"""Task data: XNLI, PAWS-X (hub or released file formats) and the synthetic world's tasks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from salt.data.describe import describe, format_describe
from salt.data.formats import DataFormatError
from salt.data.hub import HubLoadError, load_hub
from salt.data.local import IgnoredFile, LocalTaskData, load_local
from salt.data.tasks import PAWSX, TASKS, XNLI
from salt.data.types import UNLABELED, Dropped, Example, TaskData, TaskSpec

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
]


def load_task(
    task: str,
    source: str = "hub",
    data_dir: str | Path | None = None,
    languages: Iterable[str] | None = None,
    hub_id: str | None = None,
    cache_dir: str | Path | None = None,
) -> TaskData:
    """Load a real task from the Hub ("hub") or from released files under data_dir ("local").

    Arguments that only the other source uses are rejected rather than ignored, so a run never
    silently reads from a place other than the one its config names.
    """
    if source == "hub":
        if data_dir is not None:
            raise ValueError("data_dir is only used with source='local'")
        return load_hub(task, languages=languages, hub_id=hub_id, cache_dir=cache_dir)
    if source == "local":
        if data_dir is None:
            raise ValueError("source='local' needs data_dir (the folder holding the released files)")
        if hub_id is not None or cache_dir is not None:
            raise ValueError("hub_id and cache_dir are only used with source='hub'")
        return load_local(task, Path(data_dir), languages=languages)
    raise ValueError(f"unknown data source {source!r}; expected 'hub' or 'local'")
