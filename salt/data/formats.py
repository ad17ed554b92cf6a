"""Readers for the released XNLI / MultiNLI / PAWS-X file formats, one small function per format.

Why so careful: these files hold control and format characters inside text (\\x1c, \\x1d, \\x85,
U+2028, \\x08, U+FEFF, U+200B..U+200F, U+00A0, U+00AD) and unbalanced ASCII quotes. Records are
therefore split on "\\n" only (str.splitlines() would also split on \\x1c, \\x85, U+2028, ...), and
fields are split on "\\t" by hand for the files released without quoting. Only the XTREME PAWS-X
files were written by csv.writer and are parsed with csv (strict) to undo the quoting. Nothing is
stripped or normalised except a CR before a line's LF (CRLF copies) and a BOM at byte 0 (an
encoding marker, not text); U+FEFF anywhere else is kept.

Every reader returns (examples, dropped): rows skipped by convention are counted in Dropped records
(MultiNLI gold label "-", wholly empty lines, which csv-based loaders such as the Hub scripts skip),
never silently. Anything else that does not fit the format raises DataFormatError naming file,
physical line (1-based, header included) and what was expected.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from salt.data.registry import XNLI, get_task
from salt.data.types import UNLABELED, Dropped, Example

Loaded = tuple[list[Example], list[Dropped]]
Record = tuple[int, list[str]]  # (physical line number, fields)

XNLI10_COLUMNS = tuple(
    "language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse "
    "sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 label5 sentence1_tokenized "
    "sentence2_tokenized match".split()
)
XNLI_MT_COLUMNS = ("premise", "hypo", "label")
MNLI_COLUMNS = tuple(
    "gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse sentence1 "
    "sentence2 promptID pairID genre label1 label2 label3 label4 label5".split()
)
PAWSX_COLUMNS = ("id", "sentence1", "sentence2", "label")
XTREME_COLUMNS = {"xnli": ("premise", "hypothesis", "label"), "pawsx": ("sentence1", "sentence2", "label")}

MNLI_NO_GOLD = "-"  # MultiNLI marks pairs without an annotator majority this way


class DataFormatError(ValueError):
    """A file does not match the format it was read as (message: file, line, expected vs found)."""


def read_lines(path: Path) -> list[str]:
    """Physical lines of a UTF-8 file, split on "\\n" only; a missing final newline is fine."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(
            f"{path} line {line}: not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from exc
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _check_header(path: Path, lines: list[str], columns: tuple[str, ...], fmt: str) -> None:
    expected = "\t".join(columns)
    if not lines:
        raise DataFormatError(f"{path}: file is empty; the {fmt} format starts with the header {expected!r}")
    if lines[0] != expected:
        raise DataFormatError(
            f"{path} line 1: header does not match the {fmt} format; "
            f"expected {expected!r}, found {lines[0][:300]!r}"
        )


def _csv_records(path: Path, lines: list[str], first: int) -> Iterator[Record]:
    """csv.writer-quoted records; a quoted field may span lines, so the reader tracks line numbers."""
    reader = csv.reader((line + "\n" for line in lines[first - 1 :]), delimiter="\t", strict=True)
    start = first
    try:
        for fields in reader:
            yield start, fields
            start = first + reader.line_num
    except csv.Error as exc:
        raise DataFormatError(f"{path} line {start}: malformed CSV quoting ({exc})") from exc


def _tsv_records(
    path: Path,
    columns: tuple[str, ...],
    fmt: str,
    *,
    header: bool,
    quoted: bool = False,
    min_columns: int | None = None,
) -> tuple[list[Record], list[Dropped]]:
    """Records with exactly len(columns) fields; wholly empty lines are counted, not returned.

    min_columns allows trailing optional columns to be absent (padded with ""): copies whose
    trailing whitespace was stripped lose the tabs of empty trailing fields.
    """
    least = len(columns) if min_columns is None else min_columns
    lines = read_lines(path)
    first = 1
    if header:
        _check_header(path, lines, columns, fmt)
        first = 2
    if quoted:
        records: Iterator[Record] = _csv_records(path, lines, first)
    else:
        records = ((n, line.split("\t")) for n, line in enumerate(lines[first - 1 :], first))
    kept: list[Record] = []
    empty = 0
    for n, fields in records:
        if fields in ([], [""]):
            empty += 1
            continue
        if not least <= len(fields) <= len(columns):
            count = f"{len(columns)}" if least == len(columns) else f"{least} to {len(columns)}"
            raise DataFormatError(
                f"{path} line {n}: expected {count} tab-separated columns "
                f"({', '.join(columns)}) for the {fmt} format, found {len(fields)}"
            )
        kept.append((n, fields + [""] * (len(columns) - len(fields))))
    dropped = [Dropped(str(path), "empty line (no record)", empty)] if empty else []
    return kept, dropped


def _label(path: Path, line: int, raw: str, task: str, column: str) -> int:
    table = get_task(task).raw_labels
    try:
        return table[raw]
    except KeyError:
        expected = ", ".join(repr(name) for name in table)
        raise DataFormatError(
            f"{path} line {line}: unknown label {raw!r} in column {column!r}; expected one of {expected}"
        ) from None


def _uid_base(path: Path, root: Path | None, default: str) -> str:
    """uids are relative to the scanned folder when there is one: file names alone can repeat there."""
    return path.relative_to(root).as_posix() if root is not None else default


def read_xnli10(path: Path, root: Path | None = None) -> Loaded:
    """XNLI-1.0 `xnli.{dev,test}.tsv`: all 15 languages in one file, language in a column."""
    path = Path(path)
    records, dropped = _tsv_records(path, XNLI10_COLUMNS, "XNLI-1.0", header=True)
    base = _uid_base(path, root, path.name)
    examples = []
    for n, fields in records:
        row = dict(zip(XNLI10_COLUMNS, fields, strict=True))
        if row["language"] not in XNLI.languages:
            raise DataFormatError(
                f"{path} line {n}: unknown language {row['language']!r}; "
                f"expected one of {', '.join(XNLI.languages)}"
            )
        label = _label(path, n, row["gold_label"], "xnli", "gold_label")
        examples.append(Example(row["sentence1"], row["sentence2"], label, row["language"], f"{base}:{n}"))
    return examples, dropped


def read_xnli_mt(path: Path, lang: str, root: Path | None = None) -> Loaded:
    """XNLI-MT-1.0 `multinli/multinli.train.{lang}.tsv` (machine-translated MultiNLI train)."""
    path = Path(path)
    records, dropped = _tsv_records(path, XNLI_MT_COLUMNS, "XNLI-MT-1.0", header=True)
    base = _uid_base(path, root, path.name)
    examples = [
        Example(premise, hypo, _label(path, n, label, "xnli", "label"), lang, f"{base}:{n}")
        for n, (premise, hypo, label) in records
    ]
    return examples, dropped


def _mnli_examples(path: Path, rows: list[tuple[int, dict[str, str]]], base: str) -> Loaded:
    """Shared by .txt and .jsonl so both give the same examples and the same '-' convention."""
    examples, no_gold = [], 0
    for n, row in rows:
        if row["gold_label"] == MNLI_NO_GOLD:
            no_gold += 1
            continue
        label = _label(path, n, row["gold_label"], "xnli", "gold_label")
        examples.append(Example(row["sentence1"], row["sentence2"], label, "en", f"{base}:{n}"))
    reason = "gold_label '-' (no annotator majority; dropped by MultiNLI convention)"
    return examples, [Dropped(str(path), reason, no_gold)] if no_gold else []


def read_mnli_txt(path: Path, root: Path | None = None) -> Loaded:
    """MultiNLI 1.0 `multinli_1.0_*.txt` (15 columns, header); English.

    label2..label5 are empty for single-annotator rows; a copy with trailing tabs stripped (the HF
    dummy file's last line) lacks them, so rows of 11 to 15 columns are accepted.
    """
    path = Path(path)
    records, dropped = _tsv_records(
        path, MNLI_COLUMNS, "MultiNLI 1.0 .txt", header=True, min_columns=MNLI_COLUMNS.index("label1") + 1
    )
    rows = [(n, dict(zip(MNLI_COLUMNS, fields, strict=True))) for n, fields in records]
    examples, no_gold = _mnli_examples(path, rows, _uid_base(path, root, path.name))
    return examples, dropped + no_gold


def read_mnli_jsonl(path: Path, root: Path | None = None) -> Loaded:
    """MultiNLI 1.0 `multinli_1.0_*.jsonl`: one JSON object per line; English."""
    path = Path(path)
    rows: list[tuple[int, dict[str, str]]] = []
    for n, line in enumerate(read_lines(path), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path} line {n}: expected one JSON object per line ({exc.msg})") from exc
        missing = [
            key
            for key in ("gold_label", "sentence1", "sentence2")
            if not isinstance(obj, dict) or key not in obj
        ]
        if missing:
            raise DataFormatError(
                f"{path} line {n}: JSON record lacks {missing}; expected gold_label, sentence1, sentence2"
            )
        rows.append((n, obj))
    return _mnli_examples(path, rows, _uid_base(path, root, path.name))


def read_pawsx_original(path: Path, lang: str, root: Path | None = None) -> Loaded:
    """PAWS-X `x-final/{lang}/{train,translated_train,dev_2k,test_2k}.tsv` (or dev/test renames).

    The uid also carries the id column, which is shared across languages (same pair, translated).
    """
    path = Path(path)
    records, dropped = _tsv_records(path, PAWSX_COLUMNS, "PAWS-X", header=True)
    base = _uid_base(path, root, f"{lang}/{path.name}")
    examples = [
        Example(s1, s2, _label(path, n, label, "pawsx", "label"), lang, f"{base}:{n}#{pair_id}")
        for n, (pair_id, s1, s2, label) in records
    ]
    return examples, dropped


def read_xtreme(path: Path, task: str, lang: str, labelled: bool, root: Path | None = None) -> Loaded:
    """XTREME `{train,dev}-{lang}.tsv` (3 columns) and unlabelled `test-{lang}.tsv` (2 columns), no header.

    PAWS-X files were written by csv.writer (quoted); XNLI files were not.
    """
    path = Path(path)
    columns = XTREME_COLUMNS[task][: 3 if labelled else 2]
    fmt = f"XTREME {'XNLI' if task == 'xnli' else 'PAWS-X'}{'' if labelled else ' test (unlabelled)'}"
    records, dropped = _tsv_records(path, columns, fmt, header=False, quoted=task == "pawsx")
    base = _uid_base(path, root, path.name)
    examples = [
        Example(
            fields[0],
            fields[1],
            _label(path, n, fields[2], task, "label") if labelled else UNLABELED,
            lang,
            f"{base}:{n}",
        )
        for n, fields in records
    ]
    return examples, dropped
