"""Each language's candidate vocabulary: the token ids its unlabeled text uses.

Choices (all configurable in VocabConfig, documented in the README):
- Pieces. With `unit="word"` we substitute whole words that are a single piece, by target tokens seen
  as whole single-piece words; multi-piece words are left alone, so original and substituted
  sequences stay aligned one-to-one (mixup needs that). With `unit="piece"`, any piece may be
  replaced by a target piece of the same kind (word-initial by word-initial, continuation by
  continuation). WordPiece marks continuations with "##", SentencePiece marks word starts with "▁",
  a word-level tokenizer has no pieces.
- Language-neutral tokens (no letter: digits, punctuation) are never candidates and never replaced.
- Shared tokens (frequent in the source language too) are excluded by default, so that every
  substitution really switches language.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from transformers import PreTrainedTokenizerBase

from salt.config import VocabConfig
from salt.encode import tokenizer_fingerprint


@dataclass(frozen=True)
class PieceScheme:
    """How a tokenizer marks subword pieces."""

    continuation_prefix: str | None = None  # WordPiece: "##"
    word_start_marker: str | None = None  # SentencePiece: "▁"

    def is_word_start(self, token: str) -> bool:
        if self.continuation_prefix:
            return not token.startswith(self.continuation_prefix)
        if self.word_start_marker:
            return token.startswith(self.word_start_marker)
        return True

    def strip(self, token: str) -> str:
        for mark in (self.continuation_prefix, self.word_start_marker):
            if mark and token.startswith(mark):
                return token[len(mark):]
        return token


def piece_scheme(tokenizer: PreTrainedTokenizerBase) -> PieceScheme:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer; SALT needs one to tell pieces apart")
    model = backend.model
    kind = type(model).__name__
    if kind == "WordPiece":
        return PieceScheme(continuation_prefix=model.continuing_subword_prefix)
    if kind == "WordLevel":
        return PieceScheme()
    # Unigram / BPE: SentencePiece-style "▁" (XLM-R) or byte-level "Ġ" word-start markers.
    vocab = tokenizer.get_vocab()
    for marker in ("▁", "Ġ"):
        if sum(tok.startswith(marker) for tok in vocab) > len(vocab) // 10:
            return PieceScheme(word_start_marker=marker)
    raise TypeError(f"cannot tell word-initial from continuation pieces for a {kind} tokenizer")


@dataclass(frozen=True)
class TokenTable:
    """Per-vocabulary-id facts, computed once per tokenizer."""

    scheme: PieceScheme
    special: np.ndarray  # bool[V]
    word_start: np.ndarray  # bool[V]
    neutral: np.ndarray  # bool[V]: no letter once markers are stripped

    @classmethod
    def build(cls, tokenizer: PreTrainedTokenizerBase) -> "TokenTable":
        scheme = piece_scheme(tokenizer)
        size = len(tokenizer)
        tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        special = np.zeros(size, bool)
        special[[i for i in tokenizer.all_special_ids if i < size]] = True
        word_start = np.array([scheme.is_word_start(t or "") for t in tokens])
        neutral = np.array([not any(c.isalpha() for c in scheme.strip(t or "")) for t in tokens])
        return cls(scheme, special, word_start, neutral)

    def eligible(self, ids: list[int], unit: str, neutral_policy: str = "exclude") -> np.ndarray:
        """Positions of a tokenized sequence that may be substituted."""
        arr = np.asarray(ids)
        ok = ~self.special[arr]
        if neutral_policy == "exclude":
            ok &= ~self.neutral[arr]
        if unit == "word":
            # A single-piece word: the next token starts anew. A punctuation piece glued to the word
            # (SentencePiece's "▁dog" ",") ends it too: it carries no letter of the word.
            ends = self.word_start[arr] | self.special[arr] | self.neutral[arr]
            next_starts = np.append(ends[1:], True)
            ok &= self.word_start[arr] & next_starts
        return ok


@dataclass
class LanguageVocab:
    lang: str
    word_ids: np.ndarray  # candidates replacing word-initial tokens (whole words in unit="word")
    cont_ids: np.ndarray  # candidates replacing continuation pieces (unit="piece" only)
    word_counts: np.ndarray | None = None  # how often each candidate occurs in the language's text
    cont_counts: np.ndarray | None = None

    def candidates(self, word_start: bool) -> np.ndarray:
        return self.word_ids if word_start else self.cont_ids

    def frequencies(self, word_start: bool) -> np.ndarray:
        """Each candidate's share of its kind in the language's text (uniform when counts are unknown)."""
        counts = self.word_counts if word_start else self.cont_counts
        ids = self.candidates(word_start)
        if counts is None or len(counts) != len(ids) or not counts.sum():
            return np.full(len(ids), 1 / max(1, len(ids)))
        return counts / counts.sum()


def count_tokens(tokenizer: PreTrainedTokenizerBase, table: TokenTable, texts: Iterable[str],
                 unit: str, weights: Iterable[float] | None = None) -> Counter:
    """Token counts; with unit="word", only tokens standing as whole single-piece words count. With `weights`
    (a word list's word frequencies) each text counts its weight instead of 1."""
    counts: Counter = Counter()
    texts = list(texts)
    weights = list(weights) if weights is not None else None
    for start in range(0, len(texts), 1000):
        batch = tokenizer(texts[start:start + 1000], add_special_tokens=False)["input_ids"]
        for j, ids in enumerate(batch):
            w = 1 if weights is None else weights[start + j]
            if unit == "word":
                keep = table.eligible(ids, "word", "keep") if ids else []
                ids = [i for i, k in zip(ids, keep) if k]
            for i in ids:
                counts[i] += w
    return counts


def build_vocab(lang: str, target: Counter, source: Counter, table: TokenTable, cfg: VocabConfig,
                relative: bool = False) -> LanguageVocab:
    """Running text: candidates are seen `min_count` times, and (shared: exclude) seen fewer than `min_count`
    times in the source. Word lists (`relative`, weighted by frequency): every listed token is a candidate,
    and shared ones are those more frequent in the source than in the target (a top-50k English list holds
    "les" and "dans" too, but rarely)."""
    if relative:
        total_t, total_s = sum(target.values()) or 1, sum(source.values()) or 1
        ids = np.array(sorted(i for i, c in target.items() if c > 0), dtype=np.int64)
    else:
        ids = np.array(sorted(i for i, c in target.items() if c >= cfg.min_count), dtype=np.int64)
    keep = ~table.special[ids] if len(ids) else np.zeros(0, bool)
    if cfg.neutral == "exclude" and len(ids):
        keep &= ~table.neutral[ids]
    if cfg.shared == "exclude" and len(ids):
        if relative:
            keep &= np.array([source.get(int(i), 0) / total_s < target[int(i)] / total_t for i in ids])
        else:
            keep &= np.array([source.get(int(i), 0) < cfg.min_count for i in ids])
    ids = ids[keep]
    starts = table.word_start[ids] if len(ids) else np.zeros(0, bool)
    counts = np.array([target[int(i)] for i in ids], dtype=np.float64)
    return LanguageVocab(lang, ids[starts], ids[~starts], counts[starts], counts[~starts])


def language_vocabularies(
    tokenizer: PreTrainedTokenizerBase,
    texts: dict[str, list[str]] | Callable[[], tuple[dict[str, list[str]], dict[str, list[float]] | None]],
    source_lang: str,
    targets: Iterable[str],
    cfg: VocabConfig,
    unit: str = "word",
    cache_dir: Path | None = None,
    weights: dict[str, list[float]] | None = None,
    description: dict | None = None,
) -> dict[str, LanguageVocab]:
    """Candidate vocabularies for the target languages, cached on disk by (tokenizer, text, config).

    `weights`: the texts are word lists with these word frequencies (see `build_vocab`). `description`: where
    the text comes from (salt.vocab_text.text_description); the cache is then keyed by it instead of the text,
    and `texts` may be a loader of (texts, weights) that a cache hit never calls (a hub stream is not opened).
    """
    targets = list(targets)
    if description is None:
        key = _cache_key(tokenizer, texts, source_lang, targets, cfg, unit, weights)
    else:
        key = _described_key(tokenizer, description, source_lang, targets, cfg, unit)
    path = cache_dir / "vocab" / f"{key}.json" if cache_dir else None
    if path and path.exists():
        raw = json.loads(path.read_text())
        return {lang: LanguageVocab(lang, *(np.array(v[k], np.int64 if k.endswith("ids") else np.float64)
                                            for k in FIELDS)) for lang, v in raw.items()}
    if callable(texts):
        texts, weights = texts()
    table = TokenTable.build(tokenizer)
    w = weights or {}
    source = count_tokens(tokenizer, table, texts[source_lang], unit, w.get(source_lang))
    vocabs = {lang: build_vocab(lang, count_tokens(tokenizer, table, texts[lang], unit, w.get(lang)), source, table, cfg,
                                relative=weights is not None)
              for lang in targets}
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({lang: {k: getattr(v, k).tolist() for k in FIELDS} for lang, v in vocabs.items()}))
        tmp.replace(path)
    return vocabs


FIELDS = ("word_ids", "cont_ids", "word_counts", "cont_counts")
CACHE_VERSION = 3  # 2: counts kept, a punctuation piece ends a word; 3: weighted word lists


def _described_key(tokenizer, description: dict, source_lang, targets, cfg, unit) -> str:
    return hashlib.sha256(json.dumps([CACHE_VERSION, "described", tokenizer_fingerprint(tokenizer), source_lang,
                                      targets, asdict(cfg), unit, description]).encode()).hexdigest()[:24]


def _cache_key(tokenizer, texts, source_lang, targets, cfg, unit, weights=None) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, tokenizer.name_or_path, len(tokenizer), source_lang, targets, asdict(cfg),
                         unit]).encode())
    if weights is not None:
        h.update(json.dumps({lang: weights[lang] for lang in sorted(weights)}).encode())
    h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    for lang in [source_lang, *targets]:
        h.update(lang.encode())
        for text in texts[lang]:
            h.update(text.encode())
            h.update(b"\0")
    return h.hexdigest()[:24]
