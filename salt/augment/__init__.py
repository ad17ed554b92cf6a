"""Offline self-augmentation: propose (MLM), code-switch, select N per language, measure.

The expensive part (MLM proposals) is cached on disk by (model, source data, proposal parameters);
switching, selection and the controls are cheap and recomputed for every run and seed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from filelock import FileLock
from transformers import PreTrainedTokenizerBase

from salt.augment.budget import requested
from salt.augment.propose import OFFSETS, POSITIONS, Proposals, propose
from salt.augment.quality import augmentation_stats
from salt.augment.switch import Augmented, code_switch, random_substitution, select
from salt.config import AugmentConfig
from salt.encode import Encoded
from salt.models import load_mlm, model_fingerprint
from salt.vocab import LanguageVocab, TokenTable

__all__ = ["Augmented", "AugmentationResult", "augment", "Proposals", "propose"]
PROPOSALS_VERSION = 3  # 2: the candidates' share of the full softmax (threshold_on: full); 3: columnar .npy files


@dataclass
class AugmentationResult:
    examples: dict[str, Sequence[Augmented]]  # per target language: what enters training (a Pool: columnar)
    stats: dict[str, dict[str, float]]
    forward_rows: int  # sequences the MLM ran over (0 when the proposals came from the cache)
    seconds: float
    cached: bool
    requested: dict[str, int | None] = field(default_factory=dict)  # per language asked for (None: all)
    budget: int | None = None  # augment.budget.total, when one total was shared among the languages

    def shortfalls(self) -> dict[str, dict[str, int | None]]:
        """Languages that got no augmented example though some were asked for, or fewer than asked for:
        a cell that is silently a baseline, or plotted at an N it never had. Under a budget, a language with
        an empty pool is one (its fair share is 0 only because it has nothing to give)."""
        out = {}
        for lang, st in self.stats.items():
            selected, pool, asked = int(st["n_selected"]), int(st["n_pool"]), self.requested.get(lang)
            if self.budget and pool == 0:
                out[lang] = {"requested": asked, "selected": 0, "pool": 0, "budget": self.budget}
            elif (selected == 0 and asked != 0) or (asked is not None and selected < asked):
                out[lang] = {"requested": asked, "selected": selected, "pool": pool}
        return out



def augment(model_name: str, tokenizer: PreTrainedTokenizerBase, src: Encoded, vocabs: dict[str, LanguageVocab],
            cfg: AugmentConfig, source_lang: str, seed: int, lexicons: dict[str, dict[str, str]] | None = None,
            cache_dir: Path | None = None, device: torch.device | None = None, neutral: str = "exclude",
            progress: bool = True) -> AugmentationResult:
    """`vocabs` holds every target language, plus the source language when synonyms are on."""
    start = time.perf_counter()
    table = TokenTable.build(tokenizer)
    targets = [lang for lang in vocabs if lang != source_lang]
    props, cached = _cached_proposals(model_name, tokenizer, src, vocabs, table, cfg, neutral, cache_dir, device, progress)
    words = [table.scheme.strip(t or "") for t in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))]
    examples, stats = {}, {}
    draw = seed if cfg.draw_seed is None else cfg.draw_seed
    rngs = {lang: np.random.default_rng([draw, k]) for k, lang in enumerate(targets)}
    pools = {lang: code_switch(src, props, lang, source_lang, cfg, rngs[lang]) for lang in targets}
    counts, asked = requested(cfg, {lang: len(pool) for lang, pool in pools.items()})
    for lang in targets:
        rng, pool = rngs[lang], pools[lang]
        chosen = select(pool, counts[lang], cfg.selection, rng)
        if cfg.substitution in ("random", "random-frequency"):
            chosen = random_substitution(chosen, src, vocabs, source_lang, table, rng,
                                         by_frequency=cfg.substitution == "random-frequency")
        elif cfg.substitution != "mlm":
            raise ValueError(f"augment.substitution must be mlm, random or random-frequency, got {cfg.substitution!r}")
        examples[lang] = chosen
        stats[lang] = augmentation_stats(chosen, pool, src, props, lang, words, (lexicons or {}).get(lang))
    return AugmentationResult(examples, stats, 0 if cached else props.forward_rows,
                              time.perf_counter() - start, cached, asked, cfg.budget.total)


def _cached_proposals(model_name, tokenizer, src, vocabs, table, cfg, neutral, cache_dir, device, progress):
    def compute(wanted, folder=None) -> Proposals:
        model = load_mlm(model_name, None if cache_dir is None else str(cache_dir)).to(device or torch.device("cpu"))
        return propose(model, tokenizer, src, wanted, table, cfg.mode, cfg.unit, neutral, cfg.top_k,
                       cfg.batch_size, progress, folder)

    if cache_dir is None:
        return compute(vocabs), False
    return proposal_cache(proposals_folder(model_name, src, cfg, neutral, cache_dir), vocabs,
                          lambda wanted, tmp: compute(wanted, tmp).forward_rows)


def proposals_folder(model_name: str, src: Encoded, cfg: AugmentConfig, neutral: str, cache_dir: Path) -> Path:
    """The cache folder of (model, source data, proposal settings); languages are subfolders within."""
    h = hashlib.sha256(json.dumps([PROPOSALS_VERSION, model_fingerprint(model_name, str(cache_dir)), cfg.mode,
                                   cfg.unit, neutral, cfg.top_k]).encode())
    for ids in src.input_ids:
        h.update(ids.tobytes())
        h.update(b"\0")
    return Path(cache_dir) / "proposals" / h.hexdigest()[:24]


def proposal_cache(folder: Path, vocabs: dict[str, LanguageVocab],
                   compute: Callable[[dict[str, LanguageVocab], Path], int]) -> tuple[Proposals, bool]:
    """Proposals of every language in `vocabs`, memory-mapped from `folder`; `compute(missing, tmp)` writes
    those not there yet into `tmp` (as `propose(..., folder=tmp)` does) and returns its forward rows.

    `folder` holds the eligible positions, and a subfolder per (language, its vocabulary) that language's
    arrays: a trial opens only the languages it asks for, and a new language costs a forward pass over the
    source data, not a recomputation of the rest. Files and folders appear by atomic renames, under a lock
    that parallel workers wait on.
    """
    subs = {lang: f"{lang}-{_vocab_hash(vocab)}" for lang, vocab in vocabs.items()}
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        whole = (folder / OFFSETS).is_file()
        missing = {lang: v for lang, v in vocabs.items() if not whole or not (folder / subs[lang]).is_dir()}
        if not missing:
            return Proposals.open(folder, subs), True
        for stale in folder.parent.glob(f"{folder.name}.*.tmp"):  # left by a killed writer (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = folder.parent / f"{folder.name}.{os.getpid()}.tmp"
        forward_rows = compute(missing, tmp)
        folder.mkdir(exist_ok=True)
        if not (folder / OFFSETS).is_file():  # positions first: the presence of offsets says both are whole
            for name in (POSITIONS, OFFSETS):
                (tmp / name).replace(folder / name)
        for lang in missing:
            shutil.rmtree(folder / subs[lang], ignore_errors=True)
            (tmp / lang).replace(folder / subs[lang])
        shutil.rmtree(tmp, ignore_errors=True)
        out = Proposals.open(folder, subs)
        out.forward_rows = forward_rows
        return out, False


def _vocab_hash(vocab: LanguageVocab) -> str:
    return hashlib.sha256(vocab.word_ids.tobytes() + b"|" + vocab.cont_ids.tobytes()).hexdigest()[:16]
