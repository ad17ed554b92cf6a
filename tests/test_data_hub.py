"""load_hub without network: a local dataset repository (parquet per config + README `configs:`),
built from rows of the real files, is passed as hub_id; that is the code path of a real Hub id."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from salt.data import load_task
from salt.data.formats import read_pawsx_original, read_xnli10, read_xtreme
from salt.data.hub import HubLoadError, load_hub
from salt.data.tasks import XNLI
from salt.data.types import UNLABELED

datasets = pytest.importorskip("datasets")
pd = pytest.importorskip("pandas")

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
if not REAL.is_dir():
    pytest.skip(f"real data folder {REAL} not present", allow_module_level=True)

HUB_SPLITS = ("train", "validation", "test")


def write_repo(root: Path, splits_by_config: dict[str, dict[str, pd.DataFrame]], features=None) -> Path:
    """A dataset repo as on the Hub: {config}/{split}-00000-of-00001.parquet and README configs."""
    yaml = ["---", "configs:"]
    for config, splits in splits_by_config.items():
        yaml += [f"- config_name: {config}", "  data_files:"]
        for split, frame in splits.items():
            path = root / config / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            if features is None:  # plain pandas parquet: labels stay int64
                frame.to_parquet(path, index=False)
            else:  # as the Hub stores them: HF features (ClassLabel) in the parquet metadata
                datasets.Dataset.from_pandas(frame, features=features, preserve_index=False).to_parquet(
                    str(path)
                )
            yaml += [f"  - split: {split}", f"    path: {config}/{split}-*.parquet"]
    (root / "README.md").write_text(
        "\n".join(yaml + ["---", "Test fixture built from real files.", ""]), encoding="utf-8"
    )
    return root


def xnli_frame(examples) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "premise": [e.text_a for e in examples],
            "hypothesis": [e.text_b for e in examples],
            "label": [e.label for e in examples],
        }
    )


@pytest.fixture(scope="module")
def xnli_repo(tmp_path_factory) -> Path:
    test_rows, _ = read_xnli10(REAL / "xnli/original_format/hf_dummy/XNLI-1.0/xnli.test.tsv")
    configs = {}
    for lang in ("de", "sw"):
        dev, _ = read_xtreme(REAL / f"xnli/xtreme/dev-{lang}.tsv", "xnli", lang, labelled=True)
        test = [e for e in test_rows if e.lang == lang]
        configs[lang] = {
            "train": xnli_frame(dev[:10]),
            "validation": xnli_frame(dev),
            "test": xnli_frame(test),
        }
    features = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=list(XNLI.labels)),
        }
    )
    return write_repo(tmp_path_factory.mktemp("hub") / "xnli", configs, features)


@pytest.fixture(scope="module")
def pawsx_repo(tmp_path_factory) -> Path:
    ko, _ = read_pawsx_original(REAL / "pawsx/x-final/ko/dev_2k.tsv", "ko")
    frame = pd.DataFrame(
        {
            "id": [int(e.uid.split("#")[1]) for e in ko],
            "sentence1": [e.text_a for e in ko],
            "sentence2": [e.text_b for e in ko],
            "label": [e.label for e in ko],
        }
    )
    unlabelled = frame.head(3).assign(label=-1)
    return write_repo(
        tmp_path_factory.mktemp("hub") / "paws-x", {"ko": {"validation": frame, "test": unlabelled}}
    )


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "hf-cache"


def test_xnli_from_hub_layout_matches_the_files(xnli_repo, cache):
    data = load_hub("xnli", languages=["de", "sw"], hub_id=str(xnli_repo), cache_dir=cache)
    assert data.spec.name == "xnli" and data.languages("dev") == ["de", "sw"]
    for lang in ("de", "sw"):
        dev = data.get("dev", lang)
        expected, _ = read_xtreme(REAL / f"xnli/xtreme/dev-{lang}.tsv", "xnli", lang, labelled=True)
        assert len(dev) == 2490 and Counter(e.label for e in dev) == {0: 830, 1: 830, 2: 830}
        assert [(e.text_a, e.text_b, e.label) for e in dev] == [
            (e.text_a, e.text_b, e.label) for e in expected
        ]
        assert len(data.get("train", lang)) == 10 and len(data.get("test", lang)) == 1
        assert data.sources["dev"][lang] == f"{xnli_repo} ({lang}/validation)"
    assert data.get("dev", "sw")[5].uid == "sw/validation/5" and data.get("dev", "sw")[5].lang == "sw"


def test_pawsx_int_labels_and_unlabelled_rows(pawsx_repo, cache):
    data = load_hub("pawsx", languages=["ko"], hub_id=str(pawsx_repo), cache_dir=cache)
    dev = data.get("dev", "ko")
    assert len(dev) == 2000 and sum(e.label == 1 for e in dev) == 840
    assert "\x1c" in dev[823].text_a + dev[823].text_b  # ko dev_2k line 825, id 3342
    assert [e.label for e in data.get("test", "ko")] == [UNLABELED] * 3
    assert data.languages("train") == []  # this repo has no train split


def test_load_task_hub_dispatch(pawsx_repo, cache):
    data = load_task("pawsx", source="hub", languages=["ko"], hub_id=str(pawsx_repo), cache_dir=cache)
    assert len(data.get("dev", "ko")) == 2000
    with pytest.raises(ValueError, match="only used with source='local'"):
        load_task("pawsx", source="hub", data_dir=REAL)


def test_missing_config_error_names_id_config_and_fix(xnli_repo, cache):
    with pytest.raises(HubLoadError) as err:
        load_hub("xnli", languages=["ar"], hub_id=str(xnli_repo), cache_dir=cache)
    message = str(err.value)
    assert repr(str(xnli_repo)) in message and "config 'ar'" in message
    assert "HF_HUB_OFFLINE" in message and "--data-dir" in message


def test_offline_mode_is_left_to_datasets(xnli_repo, cache, monkeypatch):
    """Offline: a local repo still loads; an uncached Hub id fails at once with a clear message."""
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert (
        len(load_hub("xnli", languages=["de"], hub_id=str(xnli_repo), cache_dir=cache).get("dev", "de"))
        == 2490
    )
    with pytest.raises(HubLoadError, match=r"'no-such-org/no-such-dataset', config 'de' in offline mode"):
        load_hub("pawsx", languages=["de"], hub_id="no-such-org/no-such-dataset", cache_dir=cache)


def test_unknown_language_rejected_before_any_download():
    with pytest.raises(ValueError, match="xnli has no language"):
        load_hub("xnli", languages=["ja"])


def test_classlabel_mapped_by_name_not_position():
    from salt.data.hub import _label_mapper

    reordered = datasets.ClassLabel(names=["contradiction", "entailment", "neutral"])
    to_label = _label_mapper(reordered, "xnli", "repo")
    assert [to_label(i, i) for i in (0, 1, 2, -1)] == [2, 0, 1, UNLABELED]
    assert _label_mapper(datasets.ClassLabel(names=["0", "1"]), "pawsx", "repo")(1, 0) == 1
    with pytest.raises(HubLoadError, match="label names"):
        _label_mapper(datasets.ClassLabel(names=["yes", "no"]), "pawsx", "repo")
    with pytest.raises(HubLoadError, match="repo row 7: unknown label 5"):
        _label_mapper(datasets.Value("int64"), "pawsx", "repo")(5, 7)


def test_a_hub_dataset_records_the_commit_its_rows_came_from(xnli_repo, cache, tmp_path, monkeypatch):
    """`facebook/xnli` offline from a Hugging Face cache laid out as a Hub download leaves it (the prepared
    files in a folder named by the commit): the commit is what a run records (salt.data.revision); a local
    repository directory records none (its folder is named by a hash of its files)."""
    import shutil

    import huggingface_hub.constants

    local = load_hub("xnli", languages=["de", "sw"], hub_id=str(xnli_repo), cache_dir=cache)
    assert local.revisions == {}
    hub_cache, commit = tmp_path / "hub-cache", "0123456789abcdef0123456789abcdef01234567"
    for lang in ("de", "sw"):
        prepared = Path(datasets.load_dataset(str(xnli_repo), lang, cache_dir=str(cache))["validation"]
                        .cache_files[0]["filename"]).parent
        shutil.copytree(prepared, hub_cache / "facebook___xnli" / lang / prepared.parent.name / commit)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    data = load_hub("xnli", languages=["de", "sw"], cache_dir=hub_cache)
    assert len(data.get("dev", "de")) == 2490 and data.revisions == {"de": commit, "sw": commit}
