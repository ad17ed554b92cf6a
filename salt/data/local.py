"""Load XNLI / PAWS-X from released files found anywhere under a directory.

Files are recognised by name (the layouts of the official releases and of XTREME), then read with the
matching reader in salt.data.formats. When several files supply the same (split, language) the one
with the most rows wins (ties: original release > MultiNLI release > XTREME > path order), so a
folder holding both complete files and small extracts just works; every file not used is listed in
LocalTaskData.ignored, with the reason, for `describe`.

XTREME's XNLI and PAWS-X files share names (dev-de.tsv), so which task such a file belongs to is
decided, first hit wins, by:
  1. its labels (labelled files): XNLI label words vs PAWS-X 0/1 in the last column of the first
     lines; this is the content itself and settles every labelled file;
  2. its language, when only one task has it (ar, bg, el, hi, ru, sw, th, tr, ur, vi: XNLI;
     ja, ko: PAWS-X);
  3. the labelled XTREME files in the same folder, when they agree (XTREME keeps one folder per task);
  4. the nearest enclosing folder, up to data_dir itself, whose name mentions exactly one of "xnli" /
     "paws".
An unlabelled file still undecided (e.g. test-de.tsv alone in a neutral folder) is not guessed: it is
listed as ignored with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from salt.data import formats
from salt.data.formats import Loaded
from salt.data.registry import PAWSX, XNLI, check_languages, get_task, released_tasks
from salt.data.types import Dropped, Example, TaskData

SPLITS = ("train", "dev", "test")
SNIFF_LINES = 20

# Lower rank wins a tie on row count.
RANK = {"xnli-1.0": 0, "xnli-mt": 0, "pawsx-original": 0, "mnli": 1, "xtreme-xnli": 2, "xtreme-pawsx": 2}

XNLI10_NAME = re.compile(r"xnli\.(dev|test)\.tsv")
XNLI_MT_NAME = re.compile(r"multinli\.train\.([a-z]{2})\.tsv")
MNLI_NAME = re.compile(r"multinli_1\.0_train\.(jsonl|txt)")
XTREME_NAME = re.compile(r"(train|dev|test)-([a-z]{2})\.tsv")
PAWSX_SPLIT = {
    "train": "train",
    "translated_train": "train",
    "dev_2k": "dev",
    "test_2k": "test",
    "dev": "dev",
    "test": "test",
}
PAWSX_GENERIC = {
    "train",
    "dev",
    "test",
}  # names other data sets use too: accepted only with the PAWS-X header

LOOKED_FOR = {
    "xnli": "xnli.{dev,test}.tsv (XNLI-1.0), multinli.train.{lang}.tsv (XNLI-MT-1.0), "
    "multinli_1.0_train.{jsonl,txt} (MultiNLI), {train,dev,test}-{lang}.tsv (XTREME, XNLI-shaped)",
    "pawsx": "{lang}/{train,translated_train,dev_2k,test_2k}.tsv or {lang}/{dev,test}.tsv with header "
    "'id sentence1 sentence2 label' (PAWS-X x-final), {train,dev,test}-{lang}.tsv (XTREME, PAWS-X-shaped)",
}


@dataclass(frozen=True)
class Candidate:
    """A file recognised as holding one split of the task; lang None = several languages inside."""

    path: Path
    fmt: str
    split: str
    lang: str | None
    labelled: bool = True


@dataclass(frozen=True)
class IgnoredFile:
    """A recognised file whose rows were not used, and why (superseded, ambiguous, duplicate)."""

    file: str
    split: str | None
    lang: str | None
    rows: int | None
    reason: str


@dataclass
class LocalTaskData(TaskData):
    """TaskData plus the files that were found but not used, so reports can show the choice made."""

    ignored: list[IgnoredFile] = field(default_factory=list)


Options = dict[
    tuple[str, str], list[tuple[Candidate, list[Example]]]
]  # (split, lang) -> files and their rows


def load_local(task: str, data_dir: Path, languages: Iterable[str] | None = None,
               splits: Mapping[str, Iterable[str]] | None = None) -> LocalTaskData:
    """Load every split/language of `task` found under data_dir (recursively), or only `splits`
    (split -> languages): a file is read only if it may hold a wanted (split, language)."""
    spec = get_task(task).spec
    if task not in LOOKED_FOR:
        raise ValueError(f"task {task!r} has no reader for released files (known formats: {', '.join(LOOKED_FOR)}); "
                         "load it from its own source")
    langs = check_languages(spec, None if languages is None else list(languages))
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data directory {data_dir} does not exist (looking for {task}: {LOOKED_FOR[task]})"
        )
    candidates, ignored = find_local_files(task, data_dir)
    if not candidates:
        aside = "".join(f"\n  set aside: {i.file}: {i.reason}" for i in ignored)
        raise FileNotFoundError(
            f"no {task} data files under {data_dir}; looked for {LOOKED_FOR[task]}{aside}"
        )
    wanted = _wanted(langs, splits)
    options, dropped = _read_all(candidates, data_dir, wanted)
    if not options:
        raise FileNotFoundError(
            f"no {task} rows for languages {list(langs)} in the files found under {data_dir}"
        )
    data = LocalTaskData(
        spec=spec, splits={}, ignored=[i for i in ignored if i.lang is None or i.lang in langs]
    )
    _choose(data, options)
    used = {Path(path) for by_lang in data.sources.values() for path in by_lang.values()}
    data.dropped = [d for path in sorted(used) for d in dropped[path]]
    return data


def _wanted(langs: tuple[str, ...], splits: Mapping[str, Iterable[str]] | None) -> dict[str, tuple[str, ...]]:
    """split -> the languages to read, within `langs`."""
    if splits is None:
        return {split: langs for split in SPLITS}
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; expected some of {list(SPLITS)}")
    return {split: tuple(l for l in langs if l in set(split_langs)) for split, split_langs in splits.items()}


def _read_all(
    candidates: list[Candidate], root: Path, wanted: Mapping[str, tuple[str, ...]]
) -> tuple[Options, dict[Path, list[Dropped]]]:
    """Read every candidate that may hold a wanted (split, language); a multi-language file offers one
    block per language."""
    options: Options = {}
    dropped: dict[Path, list[Dropped]] = {}
    for cand in candidates:
        langs = wanted.get(cand.split, ())
        if not langs or (cand.lang is not None and cand.lang not in langs):
            continue
        examples, dropped[cand.path] = _read(cand, root)
        by_lang: dict[str, list[Example]] = {}
        for ex in examples:
            by_lang.setdefault(ex.lang, []).append(ex)
        for lang in langs:
            if lang in by_lang:
                options.setdefault((cand.split, lang), []).append((cand, by_lang[lang]))
    return options, dropped


def _choose(data: LocalTaskData, options: Options) -> None:
    """Most rows wins, then RANK, then path order; the losers are recorded as ignored."""
    for split in SPLITS:
        for lang in data.spec.languages:
            if (split, lang) not in options:
                continue
            ranked = sorted(
                options[split, lang], key=lambda opt: (-len(opt[1]), RANK[opt[0].fmt], str(opt[0].path))
            )
            (best, rows), rest = ranked[0], ranked[1:]
            data.splits.setdefault(split, {})[lang] = rows
            data.sources.setdefault(split, {})[lang] = str(best.path)
            reason = f"superseded by {best.path} ({len(rows)} rows, {best.fmt})"
            data.ignored += [IgnoredFile(str(c.path), split, lang, len(r), reason) for c, r in rest]


def _read(cand: Candidate, root: Path) -> Loaded:
    path, lang = cand.path, cand.lang or ""
    match cand.fmt:
        case "xnli-1.0":
            return formats.read_xnli10(path, root)
        case "xnli-mt":
            return formats.read_xnli_mt(path, lang, root)
        case "mnli":
            reader = formats.read_mnli_jsonl if path.suffix == ".jsonl" else formats.read_mnli_txt
            return reader(path, root)
        case "pawsx-original":
            return formats.read_pawsx_original(path, lang, root)
        case "xtreme-xnli" | "xtreme-pawsx":
            return formats.read_xtreme(path, cand.fmt.removeprefix("xtreme-"), lang, cand.labelled, root)
    raise AssertionError(f"no reader for format {cand.fmt!r}")


def find_local_files(task: str, data_dir: Path) -> tuple[list[Candidate], list[IgnoredFile]]:
    """Files under data_dir that hold `task` data, plus recognised files set aside before reading."""
    files = sorted(p for p in Path(data_dir).rglob("*") if p.is_file())
    finders = {"xnli": _xnli_files, "pawsx": _pawsx_files}
    candidates, ignored = finders[task](files)
    xtreme, unresolved = _xtreme_files(task, files, Path(data_dir))
    return candidates + xtreme, ignored + unresolved


def _xnli_files(files: list[Path]) -> tuple[list[Candidate], list[IgnoredFile]]:
    found: list[Candidate] = []
    ignored: list[IgnoredFile] = []
    for path in files:
        if m := XNLI10_NAME.fullmatch(path.name):
            found.append(Candidate(path, "xnli-1.0", m[1], None))
        elif (m := XNLI_MT_NAME.fullmatch(path.name)) and m[1] in XNLI.languages:
            found.append(Candidate(path, "xnli-mt", "train", m[1]))
        elif m := MNLI_NAME.fullmatch(path.name):
            twin = path.with_suffix(".jsonl")
            if m[1] == "txt" and twin.is_file():
                reason = f"MultiNLI .txt next to {twin.name} of the same release (the .jsonl is preferred)"
                ignored.append(IgnoredFile(str(path), "train", "en", None, reason))
            else:
                found.append(Candidate(path, "mnli", "train", "en"))
    return found, ignored


def _pawsx_files(files: list[Path]) -> tuple[list[Candidate], list[IgnoredFile]]:
    """x-final/{lang}/*.tsv; generic names (dev.tsv ...) only when the header is PAWS-X's own."""
    found = []
    for path in files:
        lang, stem = path.parent.name, path.name.removesuffix(".tsv")
        if path.suffix != ".tsv" or lang not in PAWSX.languages or stem not in PAWSX_SPLIT:
            continue
        if stem in PAWSX_GENERIC and _head(path, 1) != ["\t".join(formats.PAWSX_COLUMNS)]:
            continue
        found.append(Candidate(path, "pawsx-original", PAWSX_SPLIT[stem], lang))
    return found, []


def _xtreme_files(task: str, files: list[Path], data_dir: Path) -> tuple[list[Candidate], list[IgnoredFile]]:
    """XTREME {split}-{lang}.tsv files that belong to `task` (resolution order: module docstring)."""
    named = [(path, m[1], m[2]) for path in files if (m := XTREME_NAME.fullmatch(path.name))]
    by_labels = {path: _task_by_labels(path) for path, split, _ in named if split != "test"}
    found, ignored = [], []
    for path, split, lang in named:
        owner, why = _xtreme_owner(path, lang, by_labels, data_dir)
        if owner is None:
            if _has(task, lang):
                ignored.append(
                    IgnoredFile(str(path), split, lang, None, f"cannot tell XNLI from PAWS-X: {why}")
                )
        elif owner == task and _has(task, lang):
            found.append(Candidate(path, f"xtreme-{task}", split, lang, labelled=split != "test"))
    return found, ignored


def _has(task: str, lang: str) -> bool:
    return lang in get_task(task).languages()


def _xtreme_owner(
    path: Path, lang: str, by_labels: dict[Path, str | None], data_dir: Path
) -> tuple[str | None, str]:
    """(task, evidence) for one XTREME file, or (None, what was tried)."""
    if owner := by_labels.get(path):
        return owner, "labels"
    owners = [t.name for t in released_tasks() if _has(t.name, lang)]
    if len(owners) == 1:
        return owners[0], f"only {owners[0]} has language {lang}"
    if not owners:
        return None, f"no task has language {lang}"
    siblings = {owner for other, owner in by_labels.items() if other.parent == path.parent and owner}
    if len(siblings) == 1:
        return siblings.pop(), "labelled XTREME files in the same folder"
    # Folders from the file up to data_dir itself, innermost first; never above data_dir, where names
    # (a project called xnli-experiments) say nothing about the files.
    for folder in [*reversed(path.relative_to(data_dir).parent.parts), data_dir.resolve().name]:
        named = [name for name, word in (("xnli", "xnli"), ("pawsx", "paws")) if word in folder.lower()]
        if len(named) == 1:
            return named[0], f"folder name {folder!r}"
    return (
        None,
        "no labels, language in both tasks, no labelled XTREME sibling, no folder name mentioning xnli/paws",
    )


def _task_by_labels(path: Path) -> str | None:
    """Which task's label strings end the first lines (None if neither or both)."""
    last = {line.rsplit("\t", 1)[-1] for line in _head(path, SNIFF_LINES)}
    hits = [t.name for t in released_tasks() if last & t.raw_labels.keys()]
    return hits[0] if len(hits) == 1 else None


def _head(path: Path, n: int) -> list[str]:
    """First n physical lines ("\\n"-split, as the readers count them), for sniffing without a full read."""
    with path.open("rb") as f:
        head = b"".join(islice(f, n)).decode("utf-8-sig", errors="replace")
    lines = head.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
