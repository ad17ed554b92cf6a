"""Load XNLI / PAWS-X from the Hugging Face Hub (or its local cache) through `datasets`.

`datasets` is imported lazily: it is slow to import and only this source needs it. Offline use is
left entirely to `datasets` (HF_HUB_OFFLINE=1 / HF_DATASETS_OFFLINE=1 plus HF_HOME,
HF_DATASETS_CACHE or cache_dir): this module adds no caching or network logic of its own, so the
same call works online, offline from a warm cache, and on a local dataset directory given as hub_id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from salt.data.registry import check_languages, get_task
from salt.data.types import UNLABELED, Example, TaskData

SPLITS = {"train": "train", "validation": "dev", "test": "test"}  # Hub split -> ours


class HubLoadError(RuntimeError):
    """The Hub dataset could not be loaded or does not have the expected shape."""


def load_hub(
    task: str,
    languages: Iterable[str] | None = None,
    hub_id: str | None = None,
    cache_dir: str | Path | None = None,
    splits: Mapping[str, Iterable[str]] | None = None,
) -> TaskData:
    """One Hub config per language (facebook/xnli and paws-x name their configs by language code).

    `splits` (ours: split -> languages; None = all) limits the rows turned into Examples, and a
    language none of whose splits is wanted is not loaded at all."""
    entry = get_task(task)
    if entry.hub_id is None or entry.hub_columns is None:
        raise HubLoadError(f"task {task!r} has no Hugging Face dataset (its sources: {', '.join(entry.sources)})")
    spec = entry.spec
    langs = check_languages(spec, None if languages is None else list(languages))
    hub_id = hub_id or entry.hub_id
    if splits is not None and (unknown := sorted(set(splits) - set(SPLITS.values()))):
        raise ValueError(f"unknown split(s) {unknown}; expected some of {list(SPLITS.values())}")
    wanted = {(split, lang) for split in SPLITS.values() for lang in langs
              if splits is None or lang in set(splits.get(split, ()))}
    data = TaskData(spec=spec, splits={})
    for lang in langs:
        if not any((split, lang) in wanted for split in SPLITS.values()):
            continue
        dataset_dict = _load_config(hub_id, lang, cache_dir)
        if (commit := hub_revision(hub_id, dataset_dict)) is not None:
            data.revisions[lang] = commit
        for hub_split, split in SPLITS.items():
            if hub_split in dataset_dict and (split, lang) in wanted:
                where = f"{hub_id} config {lang!r} split {hub_split!r}"
                data.splits.setdefault(split, {})[lang] = _examples(
                    dataset_dict[hub_split], task, lang, hub_split, where
                )
                data.sources.setdefault(split, {})[lang] = f"{hub_id} ({lang}/{hub_split})"
    return data


def hub_revision(hub_id: str, dataset_dict: Any) -> str | None:
    """The hub commit a config's rows came from, so a run records which rows `main` meant that day. `datasets`
    prepares a hub dataset into a folder named by the commit it resolved (online) or last resolved (offline,
    from the cache); a local repository's folder is named by a hash of its files instead, so it gets None."""
    if Path(hub_id).expanduser().is_dir():
        return None
    files = [f["filename"] for ds in dataset_dict.values() for f in ds.cache_files]
    return Path(files[0]).parent.name if files else None


def _load_config(hub_id: str, config: str, cache_dir: str | Path | None) -> Any:
    import datasets

    try:
        return datasets.load_dataset(hub_id, config, cache_dir=None if cache_dir is None else str(cache_dir))
    except Exception as exc:  # datasets raises many unrelated types (network, missing config, bad repo id)
        mode = " in offline mode (HF_HUB_OFFLINE set)" if datasets.config.HF_HUB_OFFLINE else ""
        raise HubLoadError(
            f"could not load Hugging Face dataset {hub_id!r}, config {config!r}{mode}: "
            f"{type(exc).__name__}: {exc}\n"
            "To fix: check the id and config name; if they are right, run once with network access so the "
            "dataset lands in the Hugging Face cache (HF_HOME or HF_DATASETS_CACHE, or pass cache_dir), "
            "then set HF_HUB_OFFLINE=1 to reuse it; or load the released files instead with --data-dir "
            "(source='local')."
        ) from exc


def _examples(dataset: Any, task: str, lang: str, hub_split: str, where: str) -> list[Example]:
    text_a, text_b = get_task(task).hub_columns
    missing = [c for c in (text_a, text_b, "label") if c not in dataset.column_names]
    if missing:
        raise HubLoadError(f"{where}: missing column(s) {missing}; found {dataset.column_names}")
    to_label = _label_mapper(dataset.features["label"], task, where)
    cols = dataset.select_columns([text_a, text_b, "label"]).to_dict()
    return [
        Example(a, b, to_label(raw, idx), lang, f"{lang}/{hub_split}/{idx}")
        for idx, (a, b, raw) in enumerate(zip(cols[text_a], cols[text_b], cols["label"], strict=True))
    ]


def _label_mapper(feature: Any, task: str, where: str) -> Callable[[Any, int], int]:
    """Map Hub labels to our indices by *name* where the Hub gives names, so a reordered ClassLabel
    cannot silently flip labels; -1 (the Hub's 'no label') becomes UNLABELED."""
    table = get_task(task).raw_labels
    n_labels = len(get_task(task).labels)
    names = getattr(feature, "names", None)
    if names is not None:
        unknown = [name for name in names if name not in table]
        if unknown:
            raise HubLoadError(
                f"{where}: label names {names} include {unknown}; expected names from {list(table)}"
            )
        by_position = [table[name] for name in names]

    def to_label(raw: Any, idx: int) -> int:
        if raw is None or raw == -1:
            return UNLABELED
        if isinstance(raw, str) and raw in table:
            return table[raw]
        if isinstance(raw, int) and names is not None and 0 <= raw < len(by_position):
            return by_position[raw]
        if isinstance(raw, int) and names is None and 0 <= raw < n_labels:
            return raw
        raise HubLoadError(
            f"{where} row {idx}: unknown label {raw!r}; expected one of {list(table)} or 0..{n_labels - 1}"
        )

    return to_label
