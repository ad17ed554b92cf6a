"""load_local: discovery, XTREME task disambiguation, source choice, and describe, on the real folder
and on small synthetic layouts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from salt.data import describe, format_describe, load_task
from salt.data.formats import MNLI_COLUMNS
from salt.data.local import LocalTaskData, load_local
from salt.data.tasks import PAWSX, XNLI

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")

PAWSX_POSITIVE_DEV = {"en": 863, "de": 831, "es": 847, "fr": 860, "ja": 854, "ko": 840, "zh": 853}


@pytest.fixture(scope="module")
def real_xnli() -> LocalTaskData:
    if not REAL.is_dir():
        pytest.skip(f"real data folder {REAL} not present")
    return load_local("xnli", REAL)


@pytest.fixture(scope="module")
def real_pawsx() -> LocalTaskData:
    if not REAL.is_dir():
        pytest.skip(f"real data folder {REAL} not present")
    return load_local("pawsx", REAL)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- the real folder --------------------------------------------------------------------------


@real
def test_real_xnli_dev_is_complete_for_all_languages(real_xnli):
    assert real_xnli.languages("dev") == sorted(XNLI.languages)
    for lang in XNLI.languages:
        dev = real_xnli.get("dev", lang)
        assert len(dev) == 2490
        assert Counter(ex.label for ex in dev) == {0: 830, 1: 830, 2: 830}
        assert real_xnli.sources["dev"][lang] == str(REAL / f"xnli/xtreme/dev-{lang}.tsv")


@real
def test_real_xnli_records_the_superseded_extracts(real_xnli):
    ignored = {(i.split, i.lang, Path(i.file).relative_to(REAL).as_posix()) for i in real_xnli.ignored}
    assert ("dev", "ar", "xnli/original_format/hf_dummy/XNLI-1.0/xnli.dev.tsv") in ignored
    assert ("dev", "ar", "xnli/original_format/hf_fixture/XNLI-1.0/xnli.dev.tsv") in ignored
    assert ("train", "en", "mnli/hf_dummy/multinli_1.0/multinli_1.0_train.txt") in ignored  # .jsonl preferred
    # Test: ar has a 2-row extract (fixture), every other language a 1-row one (hf dummy).
    assert len(real_xnli.get("test", "ar")) == 2
    assert {len(real_xnli.get("test", lang)) for lang in XNLI.languages if lang != "ar"} == {1}
    assert real_xnli.sources["train"]["en"].endswith("multinli_1.0_train.jsonl")
    assert real_xnli.dropped == []


@real
def test_real_pawsx_dev_is_complete_and_prefers_originals(real_pawsx):
    for lang in PAWSX.languages:
        dev = real_pawsx.get("dev", lang)
        assert len(dev) == 2000
        assert sum(ex.label == 1 for ex in dev) == PAWSX_POSITIVE_DEV[lang]
    sources = {
        lang: Path(src).relative_to(REAL).as_posix() for lang, src in real_pawsx.sources["dev"].items()
    }
    assert sources["ko"] == "pawsx/x-final/ko/dev_2k.tsv"  # tie with XTREME (2000 rows): original wins
    assert sources["de"] == "pawsx/x-final-renamed/de/dev.tsv"  # renamed dev.tsv recognised by its header
    assert sources["en"] == "pawsx/xtreme/dev-en.tsv"  # 2000 rows beat the 4-row original extract
    # XNLI's XTREME files share names with PAWS-X's (dev-de.tsv) but never leak in.
    assert not any("xnli" in src for split in real_pawsx.sources.values() for src in split.values())


@real
def test_real_uids_are_unique_per_split(real_xnli, real_pawsx):
    for data in (real_xnli, real_pawsx):
        for split, by_lang in data.splits.items():
            uids = [ex.uid for rows in by_lang.values() for ex in rows]
            assert len(uids) == len(set(uids)), split


@real
def test_real_language_filter():
    data = load_local("xnli", REAL, languages=["sw", "de"])
    assert data.languages("dev") == ["de", "sw"]
    assert data.languages("train") == []  # only English train exists
    with pytest.raises(ValueError, match="no language"):
        load_local("pawsx", REAL, languages=["th"])


@real
def test_describe_real(real_pawsx):
    df = describe(real_pawsx)
    assert list(df.columns) == ["split", "lang", "rows", "different", "paraphrase", "unlabelled", "source"]
    dev = df[df.split == "dev"].set_index("lang")
    assert dev["rows"].to_dict() == {lang: 2000 for lang in PAWSX.languages}
    assert dev["paraphrase"].to_dict() == PAWSX_POSITIVE_DEV
    text = format_describe(df, real_pawsx)
    assert "task pawsx" in text and "files not used:" in text
    assert "pawsx/xtreme/dev-ko.tsv (2000 rows): superseded by" in text


@real
def test_load_task_local_dispatch():
    data = load_task("pawsx", source="local", data_dir=REAL, languages=["ko"])
    assert len(data.get("dev", "ko")) == 2000
    with pytest.raises(ValueError, match="needs data_dir"):
        load_task("pawsx", source="local")
    with pytest.raises(ValueError, match="only used with source='hub'"):
        load_task("pawsx", source="local", data_dir=REAL, hub_id="x/y")
    with pytest.raises(ValueError, match="unknown data source"):
        load_task("pawsx", source="s3")


# --- synthetic layouts ------------------------------------------------------------------------

XNLI_ROWS = "p1\th1\tentailment\np2\th2\tneutral\n"
PAWSX_ROWS = "s1\tt1\t0\ns2\tt2\t1\n"


def test_shared_xtreme_names_resolved_by_labels_and_siblings(tmp_path):
    write(tmp_path / "a" / "dev-de.tsv", XNLI_ROWS)
    write(tmp_path / "a" / "test-de.tsv", "p\th\n")
    write(tmp_path / "b" / "dev-de.tsv", PAWSX_ROWS)
    write(tmp_path / "b" / "test-de.tsv", "s\tt\n" * 3)
    xnli, pawsx = load_local("xnli", tmp_path), load_local("pawsx", tmp_path)
    assert xnli.sources == {
        "dev": {"de": str(tmp_path / "a/dev-de.tsv")},
        "test": {"de": str(tmp_path / "a/test-de.tsv")},
    }
    assert pawsx.sources == {
        "dev": {"de": str(tmp_path / "b/dev-de.tsv")},
        "test": {"de": str(tmp_path / "b/test-de.tsv")},
    }
    assert [ex.label for ex in pawsx.get("test", "de")] == [-1, -1, -1]
    assert [ex.uid for ex in xnli.get("dev", "de")] == ["a/dev-de.tsv:1", "a/dev-de.tsv:2"]


def test_unlabelled_xtreme_resolved_by_language_then_folder_name(tmp_path):
    write(tmp_path / "x" / "test-th.tsv", "p\th\n")  # only XNLI has th
    write(tmp_path / "x" / "test-ko.tsv", "s\tt\n")  # only PAWS-X has ko
    write(tmp_path / "paws-x-xtreme" / "test-fr.tsv", "s\tt\n")
    write(tmp_path / "XNLI" / "v1" / "test-fr.tsv", "p\th\n")
    assert load_local("xnli", tmp_path).sources["test"] == {
        "fr": str(tmp_path / "XNLI/v1/test-fr.tsv"),
        "th": str(tmp_path / "x/test-th.tsv"),
    }
    assert load_local("pawsx", tmp_path).sources["test"] == {
        "fr": str(tmp_path / "paws-x-xtreme/test-fr.tsv"),
        "ko": str(tmp_path / "x/test-ko.tsv"),
    }


def test_undecidable_xtreme_file_is_listed_not_guessed(tmp_path):
    data_dir = tmp_path / "data"
    write(data_dir / "lone" / "test-de.tsv", "a\tb\n")
    write(data_dir / "ok" / "dev-en.tsv", XNLI_ROWS)
    write(data_dir / "ok" / "test-en.tsv", "a\tb\n")  # placed by its labelled sibling
    data = load_local("xnli", data_dir)
    assert data.sources["test"] == {"en": str(data_dir / "ok/test-en.tsv")}
    [ignored] = data.ignored
    assert (
        ignored.file == str(data_dir / "lone/test-de.tsv")
        and "cannot tell XNLI from PAWS-X" in ignored.reason
    )
    assert "lone/test-de.tsv: cannot tell XNLI from PAWS-X" in format_describe(describe(data), data)
    with pytest.raises(FileNotFoundError, match="set aside.*lone/test-de.tsv"):
        load_local("pawsx", data_dir)


def test_ties_prefer_original_then_xtreme_and_all_choices_are_recorded(tmp_path):
    header = "id\tsentence1\tsentence2\tlabel\n"
    write(tmp_path / "x-final" / "ja" / "dev_2k.tsv", header + "1\ts1\tt1\t0\n2\ts2\tt2\t1\n")
    write(tmp_path / "xtreme" / "dev-ja.tsv", PAWSX_ROWS)
    write(tmp_path / "small" / "ja" / "dev_2k.tsv", header + "1\ts1\tt1\t0\n")
    write(tmp_path / "xtreme" / "dev-en.tsv", PAWSX_ROWS * 2)
    write(tmp_path / "x-final" / "en" / "dev.tsv", header + "1\ts\tt\t0\n")
    write(tmp_path / "other" / "en" / "dev.tsv", "text_a\ttext_b\tlabel\n")  # not PAWS-X: skipped
    data = load_local("pawsx", tmp_path)
    assert data.sources["dev"] == {
        "en": str(tmp_path / "xtreme/dev-en.tsv"),
        "ja": str(tmp_path / "x-final/ja/dev_2k.tsv"),
    }
    assert sorted((i.lang, Path(i.file).relative_to(tmp_path).as_posix(), i.rows) for i in data.ignored) == [
        ("en", "x-final/en/dev.tsv", 1),
        ("ja", "small/ja/dev_2k.tsv", 1),
        ("ja", "xtreme/dev-ja.tsv", 2),
    ]
    assert [ex.uid for ex in data.get("dev", "ja")] == [
        "x-final/ja/dev_2k.tsv:2#1",
        "x-final/ja/dev_2k.tsv:3#2",
    ]


def test_xnli_train_sources_and_dropped_rows(tmp_path):
    mnli_header = "\t".join(MNLI_COLUMNS)

    def row(gold: str) -> str:
        return "\t".join([gold, "", "", "", "", "a", "b", "1", "1e", "fiction", gold, "", "", "", ""])

    write(
        tmp_path / "multinli_1.0" / "multinli_1.0_train.txt",
        "\n".join([mnli_header, row("-"), row("neutral"), row("neutral")]),
    )
    write(
        tmp_path / "XNLI-MT-1.0" / "multinli" / "multinli.train.en.tsv",
        "premise\thypo\tlabel\na .\tb .\tneutral\n",
    )
    write(
        tmp_path / "XNLI-MT-1.0" / "multinli" / "multinli.train.de.tsv",
        "premise\thypo\tlabel\na\tb\tcontradictory\n",
    )
    data = load_local("xnli", tmp_path)
    assert data.sources["train"]["en"].endswith("multinli_1.0_train.txt")  # 2 rows beat 1
    assert [ex.label for ex in data.get("train", "de")] == [2]
    assert [(Path(d.file).name, d.count) for d in data.dropped] == [("multinli_1.0_train.txt", 1)]
    text = format_describe(describe(data), data)
    assert "dropped rows:" in text and "1 in" in text and "gold_label '-'" in text


def test_malformed_recognised_file_is_an_error_not_skipped(tmp_path):
    write(tmp_path / "XNLI-1.0" / "xnli.dev.tsv", "language\tgold_label\n")
    with pytest.raises(ValueError, match=r"xnli\.dev\.tsv line 1: header does not match the XNLI-1.0 format"):
        load_local("xnli", tmp_path)


def test_no_matching_files_names_directory_and_patterns(tmp_path):
    write(tmp_path / "readme.txt", "nothing here")
    with pytest.raises(FileNotFoundError) as err:
        load_local("pawsx", tmp_path)
    assert str(tmp_path) in str(err.value) and "dev_2k" in str(err.value)
    assert "{train,dev,test}-{lang}.tsv" in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_local("xnli", tmp_path / "missing")
