"""Format readers on the real released files (facts from shared/data/real/PROVENANCE.md) and on
small hand-written files for the error and convention paths."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from salt.data.formats import (
    MNLI_COLUMNS,
    XNLI10_COLUMNS,
    DataFormatError,
    read_mnli_jsonl,
    read_mnli_txt,
    read_pawsx_original,
    read_xnli10,
    read_xnli_mt,
    read_xtreme,
)
from salt.data.tasks import PAWSX, XNLI
from salt.data.types import UNLABELED, Dropped

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")

PAWSX_POSITIVE_DEV = {"en": 863, "de": 831, "es": 847, "fr": 860, "ja": 854, "ko": 840, "zh": 853}
PAWSX_ORIGINAL_DEV = {
    "ko": REAL / "pawsx/x-final/ko/dev_2k.tsv",
    "zh": REAL / "pawsx/x-final/zh/dev_2k.tsv",
    "de": REAL / "pawsx/x-final-renamed/de/dev.tsv",
}


def pairs(examples):
    return [(ex.text_a, ex.text_b, ex.label) for ex in examples]


def by_line(examples, line):
    """The example read from a physical line (uids end in ':<line>' or ':<line>#<id>')."""
    [ex] = [ex for ex in examples if ex.uid.split(":")[-1].split("#")[0] == str(line)]
    return ex


def raw_lines(path: Path) -> list[bytes]:
    return path.read_bytes().rstrip(b"\n").split(b"\n")


# --- real files ------------------------------------------------------------------------------


@real
@pytest.mark.parametrize("lang", XNLI.languages)
def test_xtreme_xnli_dev_is_complete_balanced_and_byte_exact(lang):
    path = REAL / f"xnli/xtreme/dev-{lang}.tsv"
    examples, dropped = read_xtreme(path, "xnli", lang, labelled=True)
    assert len(examples) == 2490 and not dropped
    assert Counter(ex.label for ex in examples) == {0: 830, 1: 830, 2: 830}
    assert {ex.lang for ex in examples} == {lang}
    # Every field survives exactly: rebuilding each line from the example gives the file's bytes.
    rebuilt = [f"{ex.text_a}\t{ex.text_b}\t{XNLI.labels[ex.label]}".encode() for ex in examples]
    assert rebuilt == raw_lines(path)


@real
def test_xtreme_xnli_odd_characters_survive():
    zh, _ = read_xtreme(REAL / "xnli/xtreme/dev-zh.tsv", "xnli", "zh", labelled=True)
    hi, _ = read_xtreme(REAL / "xnli/xtreme/dev-hi.tsv", "xnli", "hi", labelled=True)
    for line in (892, 893, 894):
        ex = by_line(zh, line)
        assert "\x08" in ex.text_a + ex.text_b
    for line in (2296, 2297, 2298):
        ex = by_line(hi, line)
        assert "\ufeff" in ex.text_a + ex.text_b


@real
@pytest.mark.parametrize("lang", PAWSX.languages)
def test_xtreme_pawsx_dev_counts(lang):
    examples, dropped = read_xtreme(REAL / f"pawsx/xtreme/dev-{lang}.tsv", "pawsx", lang, labelled=True)
    assert len(examples) == 2000 and not dropped
    assert sum(ex.label == 1 for ex in examples) == PAWSX_POSITIVE_DEV[lang]


@real
@pytest.mark.parametrize("lang", sorted(PAWSX_ORIGINAL_DEV))
def test_pawsx_original_dev_equals_csv_parsed_xtreme(lang):
    """XTREME's csv.writer quoting, once undone, gives the original fields exactly (same row order)."""
    original, dropped = read_pawsx_original(PAWSX_ORIGINAL_DEV[lang], lang)
    xtreme, _ = read_xtreme(REAL / f"pawsx/xtreme/dev-{lang}.tsv", "pawsx", lang, labelled=True)
    assert len(original) == 2000 and not dropped
    assert sum(ex.label == 1 for ex in original) == PAWSX_POSITIVE_DEV[lang]
    assert pairs(original) == pairs(xtreme)
    assert [ex.uid.split("#")[1] for ex in original[:5]] == ["4", "6", "7", "9", "13"]


@real
def test_pawsx_quoted_xtreme_field_is_unescaped():
    raw = [line for line in raw_lines(REAL / "pawsx/xtreme/dev-ko.tsv") if b'"""Macpelah Cemetery""' in line]
    assert raw, "expected the quoted Macpelah row in XTREME ko dev"
    xtreme, _ = read_xtreme(REAL / "pawsx/xtreme/dev-ko.tsv", "pawsx", "ko", labelled=True)
    hits = [ex for ex in xtreme if '"Macpelah Cemetery" 또는' in ex.text_a + ex.text_b]
    assert len(hits) == len(raw) and all('""' not in ex.text_a + ex.text_b for ex in hits)


@real
def test_pawsx_original_odd_characters_and_unbalanced_quote():
    ko, _ = read_pawsx_original(PAWSX_ORIGINAL_DEV["ko"], "ko")
    assert by_line(ko, 825).uid == "ko/dev_2k.tsv:825#3342"
    assert "\x1c" in by_line(ko, 825).text_a + by_line(ko, 825).text_b
    assert by_line(ko, 1763).uid == "ko/dev_2k.tsv:1763#7031"
    assert "\x08" in by_line(ko, 1763).text_a + by_line(ko, 1763).text_b
    de, _ = read_pawsx_original(PAWSX_ORIGINAL_DEV["de"], "de")
    [row_472] = [ex for ex in de if ex.uid.endswith("#472")]
    assert 'auf dem Album ", weil er so rein' in row_472.text_a
    de_xtreme, _ = read_xtreme(REAL / "pawsx/xtreme/dev-de.tsv", "pawsx", "de", labelled=True)
    assert row_472.text_a in {ex.text_a for ex in de_xtreme}


@real
def test_pawsx_original_files_byte_exact():
    path = PAWSX_ORIGINAL_DEV["ko"]
    examples, _ = read_pawsx_original(path, "ko")
    rebuilt = [f"{ex.uid.split('#')[1]}\t{ex.text_a}\t{ex.text_b}\t{ex.label}".encode() for ex in examples]
    assert rebuilt == raw_lines(path)[1:]


@real
def test_pawsx_hf_dummy_extracts_without_final_newline():
    for path in sorted((REAL / "pawsx/hf_dummy/x-final").glob("*/*.tsv")):
        assert not path.read_bytes().endswith(b"\n")
        examples, dropped = read_pawsx_original(path, path.parent.name)
        assert len(examples) == 4 and not dropped, path


@real
def test_xnli10_extracts_one_row_per_language():
    for split in ("dev", "test"):
        examples, dropped = read_xnli10(REAL / f"xnli/original_format/hf_dummy/XNLI-1.0/xnli.{split}.tsv")
        assert [ex.lang for ex in examples] == sorted(XNLI.languages) and not dropped
        assert [ex.uid for ex in examples][:2] == [f"xnli.{split}.tsv:2", f"xnli.{split}.tsv:3"]
    fixture, _ = read_xnli10(REAL / "xnli/original_format/hf_fixture/XNLI-1.0/xnli.dev.tsv")
    assert [(ex.lang, XNLI.labels[ex.label]) for ex in fixture] == [
        ("ar", "neutral"),
        ("ar", "contradiction"),
    ]


@real
def test_xnli10_rows_match_first_xtreme_rows():
    """Cross-format check: the extract holds the first dev row of each language (XTREME strips spaces)."""
    extract, _ = read_xnli10(REAL / "xnli/original_format/hf_dummy/XNLI-1.0/xnli.dev.tsv")
    for ex in extract:
        first = read_xtreme(REAL / f"xnli/xtreme/dev-{ex.lang}.tsv", "xnli", ex.lang, labelled=True)[0][0]
        assert (ex.text_a.strip(), ex.text_b.strip(), ex.label) == (first.text_a, first.text_b, first.label)


@real
def test_mnli_jsonl_and_txt_give_the_same_pairs():
    folder = REAL / "mnli/hf_dummy/multinli_1.0"
    jsonl, dropped_j = read_mnli_jsonl(folder / "multinli_1.0_train.jsonl")
    txt, dropped_t = read_mnli_txt(folder / "multinli_1.0_train.txt")
    # The .txt extract has 4 rows and its last line lost its empty trailing label columns; the .jsonl
    # extract has one row more (PROVENANCE says 4: it counts newlines, and the last line has none).
    assert len(txt) == 4 and len(jsonl) == 5 and not dropped_j and not dropped_t
    assert pairs(jsonl[:4]) == pairs(txt)
    assert [XNLI.labels[ex.label] for ex in txt] == ["neutral", "entailment", "entailment", "entailment"]
    assert {ex.lang for ex in jsonl + txt} == {"en"}


@real
def test_xnli_mt_train_extract():
    examples, dropped = read_xnli_mt(REAL / "mnli/hf_dummy/XNLI-MT-1.0/multinli/multinli.train.en.tsv", "en")
    assert len(examples) == 4 and not dropped
    assert examples[0].text_b == "Product and geography are what make cream skimming work ."


# --- conventions and errors on small files ----------------------------------------------------

XNLI_MT_HEADER = "premise\thypo\tlabel\n"
MNLI_HEADER = "\t".join(MNLI_COLUMNS)
XNLI10_HEADER = "\t".join(XNLI10_COLUMNS)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def mnli_row(gold: str, s1: str = "a", s2: str = "b") -> str:
    return "\t".join([gold, "", "", "", "", s1, s2, "1", "1e", "fiction", gold, "", "", "", ""])


def test_records_split_on_newline_only_and_fields_kept_verbatim(tmp_path):
    odd = "x\x1cy\x1dz\x85w\u2028v\u2029\x0bu\x0c\x08\u00a0\u00ad\u200b\ufeff "
    path = write(tmp_path, "multinli.train.de.tsv", XNLI_MT_HEADER + f'{odd}\t"unbalanced\tcontradictory')
    examples, _ = read_xnli_mt(path, "de")
    assert len(examples) == 1
    assert (examples[0].text_a, examples[0].text_b, examples[0].label) == (odd, '"unbalanced', 2)
    assert examples[0].uid == "multinli.train.de.tsv:2"


def test_crlf_and_leading_bom_are_encoding_not_text(tmp_path):
    path = write(tmp_path, "dev-en.tsv", "\ufeffa\tb\tneutral\r\nc\ufeff\td\tentailment\r\n")
    examples, _ = read_xtreme(path, "xnli", "en", labelled=True)
    assert pairs(examples) == [("a", "b", 1), ("c\ufeff", "d", 0)]


def test_wrong_column_count_names_file_line_and_expectation(tmp_path):
    good = "\t".join(["de", "neutral"] + [""] * 4 + ["p", "h"] + [""] * 11)
    short = good.rsplit("\t", 1)[0]
    path = write(tmp_path, "xnli.dev.tsv", f"{XNLI10_HEADER}\n{good}\n{good}\n{short}\n")
    with pytest.raises(DataFormatError) as err:
        read_xnli10(path)
    message = str(err.value)
    assert str(path) in message and "line 4" in message
    assert "expected 19 tab-separated columns" in message and "found 18" in message


def test_unknown_label_names_file_line_and_choices(tmp_path):
    path = write(tmp_path, "multinli.train.fr.tsv", XNLI_MT_HEADER + "a\tb\tneutral\nc\td\tmaybe\n")
    with pytest.raises(DataFormatError) as err:
        read_xnli_mt(path, "fr")
    message = str(err.value)
    assert str(path) in message and "line 3" in message and "'maybe'" in message
    assert "'entailment', 'neutral', 'contradiction'" in message


def test_pawsx_label_must_be_0_or_1(tmp_path):
    path = write(tmp_path, "dev-ja.tsv", "a\tb\t1\nc\td\t2\n")
    with pytest.raises(DataFormatError, match=r"dev-ja\.tsv line 2: unknown label '2'.*'0', '1'"):
        read_xtreme(path, "pawsx", "ja", labelled=True)


def test_bad_header_names_file_and_expected_header(tmp_path):
    path = write(tmp_path, "dev_2k.tsv", "id\ts1\ts2\tlabel\n1\ta\tb\t0\n")
    with pytest.raises(DataFormatError) as err:
        read_pawsx_original(path, "de")
    assert str(path) in str(err.value) and "line 1" in str(err.value)
    assert "'id\\tsentence1\\tsentence2\\tlabel'" in str(err.value)
    with pytest.raises(DataFormatError, match="file is empty"):
        read_pawsx_original(write(tmp_path, "test_2k.tsv", ""), "de")


def test_unlabelled_xtreme_test_file(tmp_path):
    path = write(tmp_path, "test-ko.tsv", '"""quoted"" start"\tb\nc\td')
    examples, _ = read_xtreme(path, "pawsx", "ko", labelled=False)
    assert pairs(examples) == [('"quoted" start', "b", UNLABELED), ("c", "d", UNLABELED)]
    with pytest.raises(DataFormatError, match=r"test-ko\.tsv line 1: expected 2 tab-separated columns"):
        read_xtreme(write(tmp_path, "test-ko.tsv", "a\tb\t1\n"), "pawsx", "ko", labelled=False)


def test_csv_quoted_field_spanning_lines_keeps_newline_and_line_numbers(tmp_path):
    path = write(tmp_path, "dev-fr.tsv", 'a\t"two\nlines"\t0\nc\td\t1\n')
    examples, _ = read_xtreme(path, "pawsx", "fr", labelled=True)
    assert pairs(examples) == [("a", "two\nlines", 0), ("c", "d", 1)]
    assert [ex.uid for ex in examples] == ["dev-fr.tsv:1", "dev-fr.tsv:3"]
    with pytest.raises(DataFormatError, match=r"dev-fr\.tsv line 2: malformed CSV quoting"):
        read_xtreme(write(tmp_path, "dev-fr.tsv", 'a\tb\t0\n"x"y\tb\t1\n'), "pawsx", "fr", labelled=True)


def test_mnli_no_gold_rows_are_dropped_and_counted(tmp_path):
    path = write(
        tmp_path,
        "multinli_1.0_train.txt",
        "\n".join([MNLI_HEADER, mnli_row("-"), mnli_row("neutral"), mnli_row("-")]),
    )
    examples, dropped = read_mnli_txt(path)
    assert [ex.uid for ex in examples] == ["multinli_1.0_train.txt:3"]
    assert dropped == [
        Dropped(str(path), "gold_label '-' (no annotator majority; dropped by MultiNLI convention)", 2)
    ]
    line = '{"gold_label": "%s", "sentence1": "a", "sentence2": "b"}'
    jsonl = write(
        tmp_path, "multinli_1.0_train.jsonl", "\n".join(line % g for g in ["-", "contradiction"]) + "\n"
    )
    examples, dropped = read_mnli_jsonl(jsonl)
    assert pairs(examples) == [("a", "b", 2)] and dropped[0].count == 1


def test_mnli_errors(tmp_path):
    bad_json = write(
        tmp_path,
        "multinli_1.0_train.jsonl",
        '{"gold_label": "neutral", "sentence1": "a", "sentence2": "b"}\n{oops\n',
    )
    with pytest.raises(DataFormatError, match=r"multinli_1\.0_train\.jsonl line 2: expected one JSON object"):
        read_mnli_jsonl(bad_json)
    short = write(tmp_path, "multinli_1.0_train.txt", MNLI_HEADER + "\nneutral\ta\tb\n")
    with pytest.raises(DataFormatError, match=r"line 2: expected 11 to 15 tab-separated columns.*found 3"):
        read_mnli_txt(short)


def test_empty_lines_are_counted_not_rows(tmp_path):
    path = write(tmp_path, "dev-sw.tsv", "a\tb\tneutral\n\nc\td\tneutral\n")
    examples, dropped = read_xtreme(path, "xnli", "sw", labelled=True)
    assert [ex.uid for ex in examples] == ["dev-sw.tsv:1", "dev-sw.tsv:3"]
    assert dropped == [Dropped(str(path), "empty line (no record)", 1)]


def test_xnli10_unknown_language_is_an_error(tmp_path):
    row = "\t".join(["xx", "neutral"] + [""] * 4 + ["p", "h"] + [""] * 11)
    with pytest.raises(DataFormatError, match=r"xnli\.test\.tsv line 2: unknown language 'xx'"):
        read_xnli10(write(tmp_path, "xnli.test.tsv", f"{XNLI10_HEADER}\n{row}\n"))


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "dev-en.tsv"
    path.write_bytes(b"a\tb\tneutral\nc\xff\td\tneutral\n")
    with pytest.raises(DataFormatError, match=r"dev-en\.tsv line 2: not valid UTF-8"):
        read_xtreme(path, "xnli", "en", labelled=True)
