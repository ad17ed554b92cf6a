"""Unlabeled text per language, from the source a run's VocabConfig names: what candidate vocabularies are
counted from.

Sources: the synthetic world's monolingual corpora; `wordfreq`'s word lists (offline, most XNLI and all
PAWS-X languages); a directory of `{lang}.txt` files; a monolingual `datasets` id with one config per
language (streamed, first lines); or the task's own text of one split (the dev split is the evaluation
text: only with `allow_eval_text`, and runs are tagged contaminated).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from salt.config import RunConfig
from salt.data.tasks import get_task
from salt.data.types import TaskInputs

ALTERNATIVES = ("vocab.source files (a directory of {lang}.txt monolingual text), vocab.source hub (a monolingual "
                "`datasets` id, e.g. wikimedia/wikipedia with hub_config 20231101.{lang}), or the task's own text "
                "(vocab.source task; the dev split needs allow_eval_text and tags the runs contaminated)")


@dataclass
class UnlabeledText:
    source: str  # the resolved source (never "auto")
    texts: dict[str, list[str]]  # language -> texts (sentences, or words of a word list)
    weights: dict[str, list[float]] | None = None  # a word list's word frequencies (None: running text)

    @property
    def word_list(self) -> bool:
        return self.weights is not None


def resolve_source(cfg: RunConfig) -> str:
    if cfg.vocab.source != "auto":
        return cfg.vocab.source
    return "corpus" if get_task(cfg.task).synthetic else "wordfreq"


def wordfreq_languages() -> set[str]:
    import wordfreq

    return set(wordfreq.available_languages(wordlist="best"))


def source_problems(cfg: RunConfig, languages: list[str]) -> list[str]:
    """What would stop the source from giving text for `languages` (checked before any training)."""
    source = resolve_source(cfg)
    synthetic = get_task(cfg.task).synthetic
    if source == "corpus" and not synthetic:
        return [f"vocab.source corpus: task {cfg.task} has no monolingual corpora (only the synthetic world has); "
                f"use wordfreq or {ALTERNATIVES}"]
    if source in ("wordfreq", "hub") and synthetic:
        return [f"vocab.source {source} reads real languages; the synthetic world's languages have their own "
                "corpora: use vocab.source corpus (or auto)"]
    if source == "wordfreq":
        missing = [lang for lang in languages if lang not in wordfreq_languages()]
        if missing:
            return [f"vocab.source wordfreq has no word list for {', '.join(missing)} (it would silently fall back "
                    f"to another language's list): for them use {ALTERNATIVES}"]
    if source == "files":
        folder = Path(cfg.vocab.dir or "")
        missing = [lang for lang in languages if not (folder / f"{lang}.txt").is_file()]
        if missing:
            return [f"vocab.dir {folder}: no {', '.join(f'{lang}.txt' for lang in missing)} (one text per line)"]
    return []


def unlabeled_text(cfg: RunConfig, inputs: TaskInputs, languages: list[str]) -> UnlabeledText:
    source = resolve_source(cfg)
    problems = source_problems(cfg, languages)
    if problems:
        raise ValueError("; ".join(problems))
    v = cfg.vocab
    if source == "corpus":
        return UnlabeledText(source, {lang: inputs.corpora[lang] for lang in languages})
    if source == "task":
        return UnlabeledText(source, {lang: [t for e in inputs.data.get(v.text_split, lang) for t in (e.text_a, e.text_b)]
                                      for lang in languages})
    if source == "wordfreq":
        import wordfreq

        words = {lang: wordfreq.top_n_list(lang, v.wordfreq_words) for lang in languages}
        freqs = {lang: wordfreq.get_frequency_dict(lang) for lang in languages}
        return UnlabeledText(source, words, {lang: [freqs[lang].get(w, 0.0) for w in words[lang]] for lang in languages})
    if source == "files":
        return UnlabeledText(source, {lang: _lines(Path(v.dir) / f"{lang}.txt", v.max_texts) for lang in languages})
    if source == "hub":
        return UnlabeledText(source, {lang: _hub_lines(cfg, lang) for lang in languages})
    raise ValueError(f"unknown vocab.source {source!r}")


def text_description(cfg: RunConfig, languages: list[str]) -> dict | None:
    """Where the text of `languages` comes from, in full, for sources that are costly to read (a hub stream,
    files, word lists): the vocabulary cache is keyed by this, so a hit reads no text. None for the text a run
    holds anyway (the synthetic corpora, the task's own split): keyed by that text."""
    problems = source_problems(cfg, languages)  # refused as `unlabeled_text` would, even when the cache holds it
    if problems:
        raise ValueError("; ".join(problems))
    source, v = resolve_source(cfg), cfg.vocab
    if source == "hub":
        return {"source": source, "id": v.hub_id, "configs": [v.hub_config.format(lang=lang) for lang in languages],
                "split": v.hub_split, "column": v.hub_column, "revision": v.hub_revision, "texts": v.max_texts}
    if source == "files":
        files = [Path(v.dir) / f"{lang}.txt" for lang in languages]
        return {"source": source, "texts": v.max_texts,
                "files": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]}
    if source == "wordfreq":
        from importlib.metadata import version

        return {"source": source, "version": version("wordfreq"), "words": v.wordfreq_words, "languages": languages}
    return None


def _lines(path: Path, limit: int) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in islice(f, limit) if line.strip()]


def _hub_lines(cfg: RunConfig, lang: str) -> list[str]:
    """The first `max_texts` rows of a language's config, streamed (a full Wikipedia dump is never downloaded)."""
    import datasets

    v = cfg.vocab
    config = v.hub_config.format(lang=lang)
    try:
        stream = datasets.load_dataset(v.hub_id, config, split=v.hub_split, streaming=True, revision=v.hub_revision)
        return [row[v.hub_column] for row in islice(stream, v.max_texts) if row[v.hub_column]]
    except Exception as err:  # datasets raises many unrelated types (network, missing config, bad column)
        raise ValueError(f"vocab.source hub: cannot read {v.hub_id!r} config {config!r} split {v.hub_split!r} column "
                         f"{v.hub_column!r}: {type(err).__name__}: {err}") from err
