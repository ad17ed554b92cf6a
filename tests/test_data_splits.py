"""A run reads only the splits it uses: source train, dev/test of the evaluated languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from salt.config import RunConfig, build_config
from salt.data import hub, local, run_splits
from salt.data.tasks import get_task

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def _cfg(**values) -> RunConfig:
    return build_config(RunConfig(), {"task": "xnli", "data_source": "local", "data_dir": str(REAL), **values})


def test_run_splits_are_source_train_and_evaluated_dev_test():
    cfg = _cfg(target_langs=["fr", "de"])
    assert run_splits(cfg, get_task("xnli").languages()) == {
        "train": ("en",), "dev": ("en", "fr", "de"), "test": ("en", "fr", "de")}


def test_run_splits_add_the_vocabulary_text_split_for_vocab_source_task():
    cfg = _cfg(target_langs=["fr"], **{"vocab.source": "task", "vocab.text_split": "train"})
    assert run_splits(cfg, get_task("xnli").languages())["train"] == ("en", "fr")


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")
def test_a_run_reads_only_the_files_of_its_splits(monkeypatch):
    read = []
    real_read = local._read

    def counting(cand, root):
        read.append((cand.split, cand.lang, cand.path.name))
        return real_read(cand, root)

    monkeypatch.setattr(local, "_read", counting)
    cfg = _cfg(target_langs=["fr"])
    data = get_task("xnli").load(cfg).data
    assert read and all(split == "train" and lang == "en" or split in ("dev", "test") and lang in ("en", "fr", None)
                        for split, lang, _ in read), read
    assert {(s, l) for s, by in data.splits.items() for l in by} <= {("train", "en"), ("dev", "en"), ("dev", "fr"),
                                                                     ("test", "en"), ("test", "fr")}
    everything = len(read)
    read.clear()
    local.load_local("xnli", REAL)
    assert len(read) > everything  # the unfiltered load reads the other languages' files too


def test_hub_loads_no_config_and_converts_no_split_it_does_not_want(monkeypatch):
    class Split:  # a datasets.Dataset held in memory: no cache files, so no hub commit to record
        column_names = ["premise", "hypothesis", "label"]
        cache_files: list = []

    loaded, converted = [], []
    monkeypatch.setattr(hub, "_load_config", lambda hub_id, lang, cache: loaded.append(lang) or
                        {"train": Split(), "validation": Split(), "test": Split()})
    monkeypatch.setattr(hub, "_examples", lambda ds, task, lang, hub_split, where: converted.append((lang, hub_split))
                        or [])
    hub.load_hub("xnli", languages=["en", "fr", "de"], splits={"train": ["en"], "dev": ["en", "fr"]})
    assert loaded == ["en", "fr"]
    assert sorted(converted) == [("en", "train"), ("en", "validation"), ("fr", "validation")]


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="unknown split"):
        hub.load_hub("xnli", languages=["en"], splits={"validation": ["en"]})
