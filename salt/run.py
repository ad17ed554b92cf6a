"""One SALT run from a plain RunConfig: data -> vocabularies -> self-augmentation -> training -> metrics.

The same path serves mBERT on XNLI and the tiny model on the synthetic world; only the config differs.
"""
from __future__ import annotations

import functools
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from transformers import set_seed

from salt.augment import AugmentationResult, augment
from salt.augment.budget import check_languages
from salt.augment.switch import Chain
from salt.config import RunConfig, check_config
from salt.data.tasks import get_task
from salt.data.types import TaskInputs
from salt.encode import Encoded, encode
from salt.metrics import AVG, AVG_TARGETS, accuracy_metric, describe_shortfall
from salt.models import load_classifier, load_tokenizer, model_revision, pick_device
from salt.train import Callback, EvalSet, TrainResult, deterministic_mode, train_and_evaluate
from salt.vocab import language_vocabularies
from salt.vocab_text import text_description, unlabeled_text

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    config: RunConfig
    train: TrainResult
    augmentation: AugmentationResult | None
    metrics: dict[str, float]
    seconds: float
    # Languages whose augmentation selected nothing, or fewer examples than asked for: lang -> counts
    degenerate: dict[str, dict] = field(default_factory=dict)
    # The step-matched control: per language, the augmented examples whose updates it trains for on source rows
    # instead (its `augmentation` is None: it trained on none of them, and logs no sample of its own)
    matched: dict[str, int] = field(default_factory=dict)
    model_revision: str | None = None  # the hub commit of a hub model (salt.models.model_revision)
    data_revisions: dict[str, str] = field(default_factory=dict)  # hub config -> commit (TaskData.revisions)


def cache_root(cfg: RunConfig) -> Path:
    return Path(cfg.cache_dir or os.environ.get("SALT_CACHE") or Path.home() / ".cache" / "salt")


def load_data(cfg: RunConfig) -> TaskInputs:
    """The task's data (and, for the synthetic world, its corpora and gold lexicon), from its registry loader."""
    return get_task(cfg.task).load(cfg)


def target_languages(cfg: RunConfig, languages: Sequence[str]) -> list[str]:
    """The languages a run evaluates zero-shot: `target_langs`, else every language of the data but the source."""
    if cfg.target_langs is None:
        return [l for l in languages if l != cfg.source_lang]
    return list(cfg.target_langs)


def source_rows(cfg: RunConfig) -> slice:
    """The source training rows a run trains on (`train.max_train_examples`: the first M)."""
    return slice(cfg.train.max_train_examples)


def pool_rows(cfg: RunConfig) -> slice:
    """The source rows the augmentation proposes for, of those trained on (`augment.max_source_examples`)."""
    return slice(cfg.augment.max_source_examples)


def _cap(examples, n):
    return examples[:n] if n is not None else examples


@contextmanager
def torch_threads(n: int | None):
    """torch's CPU threads for one run, restored afterwards (the caller's process keeps its setting)."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def metric_names(cfg: RunConfig) -> list[str]:
    """The accuracy metrics a run of `cfg` reports when every split is labelled (what an objective can name)."""
    langs = [cfg.source_lang, *(cfg.target_langs or get_task(cfg.task).languages(cfg.world))]
    langs = list(dict.fromkeys(langs))
    return list(summarize({split: {lang: 0.0 for lang in langs} for split in ("dev", "test")}, cfg.source_lang))


def run(cfg: RunConfig, callbacks: Iterable[Callback] = (), progress: bool = False) -> RunResult:
    check_config(cfg)
    with torch_threads(cfg.train.threads), deterministic_mode(cfg.train.deterministic):  # before any CUDA work
        return _run(cfg, callbacks, progress)


def _run(cfg: RunConfig, callbacks: Iterable[Callback], progress: bool) -> RunResult:
    start = time.perf_counter()
    device = pick_device(cfg.train.device)
    cache = cache_root(cfg)
    inputs = load_data(cfg)
    data = inputs.data
    targets = target_languages(cfg, data.spec.languages)
    missing = [l for l in [cfg.source_lang, *targets] if l not in data.spec.languages]
    if missing:
        raise ValueError(f"language(s) {missing} not in task {cfg.task!r}; known: {', '.join(data.spec.languages)}")
    check_languages(cfg.augment, targets)
    train_examples = data.get("train", cfg.source_lang)[source_rows(cfg)]
    if not train_examples:
        raise ValueError(f"task {cfg.task!r} has no '{cfg.source_lang}' training data in this source")

    tokenizer = load_tokenizer(cfg.model, str(cache))
    source = encode(tokenizer, train_examples, cfg.train.max_seq_len, cache)
    callbacks = list(callbacks)
    aug = self_augment(cfg, tokenizer, source, inputs, targets, device, progress) if needs_proposals(cfg) else None
    for cb in callbacks if aug is not None else ():
        cb.on_augmented(aug)
    short = aug.shortfalls() if aug is not None else {}
    if short:
        log.warning("degenerate augmentation: %s", describe_shortfalls(short))
    if aug is not None and cfg.augment.budget.total and not any(st["n_pool"] for st in aug.stats.values()):
        raise ValueError("augment.budget.total: every target language's pool of code-switched candidates is empty ("
                         + ", ".join(f"{l} 0" for l in aug.stats) + "), so the cell would train as the baseline; lower "
                         "augment.threshold or check the candidate vocabularies (vocab.source)")

    # The step-matched control trains on source rows in place of the augmented ones (`matched` of them)
    step_matched = aug is not None and cfg.train.equal_steps
    augmented = Chain([] if aug is None or step_matched else [aug.examples[l] for l in targets])
    matched_by = {l: len(aug.examples[l]) for l in targets} if step_matched else {}
    matched = sum(matched_by.values())

    def eval_set(split: str, lang: str) -> EvalSet:
        return EvalSet(split, lang, encode(tokenizer, _cap(data.get(split, lang), cfg.train.max_eval_examples),
                                           cfg.train.max_seq_len, cache))

    eval_sets = [eval_set(s, l) for s in ("dev", "test") for l in [cfg.source_lang, *targets] if data.get(s, l)]
    by_key = {(e.split, e.lang): e for e in eval_sets}
    sel_langs = [cfg.source_lang] if cfg.train.model_selection == "source-dev" else targets
    selection = [by_key[("dev", l)] for l in sel_langs if ("dev", l) in by_key]
    if not selection:
        raise ValueError(f"model selection {cfg.train.model_selection!r} needs dev data for {sel_langs}")

    set_seed(cfg.seed)  # the classifier head is initialised here: without it, each process drew its own
    model = load_classifier(cfg.model, len(data.spec.labels), str(cache))
    cbs = list(callbacks)  # a copy: the progress bar is this run's own
    if progress:
        from salt.train import ProgressBar
        cbs.append(ProgressBar())
    result = train_and_evaluate(model, tokenizer.pad_token_id, source, augmented, selection, eval_sets, cfg.train,
                                cfg.mixup, data_seed(cfg), matched,
                                device, cbs)
    return RunResult(cfg, result, None if step_matched else aug, summarize(result.accuracy, cfg.source_lang),
                     time.perf_counter() - start, short, matched_by, model_revision(cfg.model), data.revisions)


def needs_proposals(cfg: RunConfig) -> bool:
    """Whether the run makes (or opens) MLM proposals: it augments, or trains as many updates as augmenting would
    (equal-steps counts what the proposals would select). A scheduler gives the other cells to idle workers while
    one makes the study's proposals."""
    return cfg.augment.enabled


def data_seed(cfg: RunConfig) -> int:
    """The seed of the data order, dropout and mixup draws: `train.data_seed`, else the run's seed."""
    return cfg.seed if cfg.train.data_seed is None else cfg.train.data_seed


def describe_shortfalls(short: dict[str, dict]) -> str:
    """`fr selected 0 of 800 (pool 0); de selected 412 of all (pool 412)`."""
    return "; ".join(describe_shortfall(lang, c) for lang, c in short.items())


def vocabularies(cfg: RunConfig, tokenizer, inputs: TaskInputs, targets: list[str]) -> dict:
    """Each target language's candidate vocabulary (with synonyms, the source's too), through the vocabulary cache."""
    cache, languages = cache_root(cfg), [cfg.source_lang, *targets]

    @functools.cache
    def text():  # read only on a cache miss when the source can be described (a hub stream, files, word lists)
        loaded = unlabeled_text(cfg, inputs, languages)
        return loaded.texts, loaded.weights

    described = text_description(cfg, languages)
    texts, weights = (text, None) if described is not None else text()
    vocabs = language_vocabularies(tokenizer, texts, cfg.source_lang, targets, cfg.vocab, cfg.augment.unit, cache,
                                   weights, described)
    if cfg.augment.synonyms:  # the source's own vocabulary, shared tokens kept, proposes synonyms
        vocabs.update(language_vocabularies(tokenizer, texts, cfg.source_lang, [cfg.source_lang],
                                            replace(cfg.vocab, shared="keep"), cfg.augment.unit, cache, weights,
                                            described))
    return vocabs


def self_augment(cfg: RunConfig, tokenizer, source: Encoded, inputs: TaskInputs, targets: list[str],
                 device: torch.device, progress: bool = False) -> AugmentationResult:
    """Vocabularies from each language's unlabeled text, then augmentation of the source examples into every
    target language."""
    cache = cache_root(cfg)
    vocabs = vocabularies(cfg, tokenizer, inputs, targets)
    src = source
    if cfg.augment.max_source_examples is not None:
        src = Encoded(*(f[pool_rows(cfg)] for f in
                        (source.input_ids, source.token_type_ids, source.labels, source.uids, source.langs)))
    return augment(cfg.model, tokenizer, src, vocabs, cfg.augment, cfg.source_lang, cfg.seed, inputs.lexicon,
                   cache, device, cfg.vocab.neutral, progress)


def summarize(accuracy: dict[str, dict[str, float]], source_lang: str) -> dict[str, float]:
    """Flat metrics: per language, the average, and the average without the source language."""
    out = {}
    for split, per_lang in accuracy.items():
        for lang, acc in per_lang.items():
            out[accuracy_metric(split, lang)] = acc
        out[accuracy_metric(split, AVG)] = float(np.mean(list(per_lang.values())))
        targets = [a for l, a in per_lang.items() if l != source_lang]
        if targets:
            out[accuracy_metric(split, AVG_TARGETS)] = float(np.mean(targets))
    return out
