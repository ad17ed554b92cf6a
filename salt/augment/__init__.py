"""Offline self-augmentation: propose (MLM), code-switch, select N per language, measure.

The expensive part (MLM proposals) is cached on disk by (model, source data, proposal parameters);
switching, selection and the controls are cheap and recomputed for every run and seed.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from transformers import PreTrainedTokenizerBase

from salt.augment.propose import Proposals, propose
from salt.augment.quality import augmentation_stats
from salt.augment.switch import Augmented, code_switch, random_substitution, select
from salt.config import AugmentConfig
from salt.encode import Encoded
from salt.models import load_mlm, model_fingerprint
from salt.vocab import LanguageVocab, TokenTable

__all__ = ["Augmented", "AugmentationResult", "augment", "Proposals", "propose"]
PROPOSALS_VERSION = 2  # 2: the candidates' share of the full softmax (threshold_on: full)


@dataclass
class AugmentationResult:
    examples: dict[str, list[Augmented]]  # per target language: what enters training
    stats: dict[str, dict[str, float]]
    forward_rows: int  # sequences the MLM ran over (0 when the proposals came from the cache)
    seconds: float
    cached: bool

    def shortfalls(self, requested: int | None) -> dict[str, dict[str, int | None]]:
        """Languages that got no augmented example, or fewer than `requested` (None: all of the pool):
        a cell that is silently a baseline, or plotted at an N it never had."""
        out = {}
        for lang, st in self.stats.items():
            selected, pool = int(st["n_selected"]), int(st["n_pool"])
            if selected == 0 or (requested is not None and selected < requested):
                out[lang] = {"requested": requested, "selected": selected, "pool": pool}
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
    for k, lang in enumerate(targets):
        rng = np.random.default_rng([draw, k])
        pool = code_switch(src, props, lang, source_lang, cfg, rng)
        chosen = select(pool, cfg.samples_per_lang, cfg.selection, rng)
        if cfg.substitution in ("random", "random-frequency"):
            chosen = random_substitution(chosen, src, vocabs, source_lang, table, rng,
                                         by_frequency=cfg.substitution == "random-frequency")
        elif cfg.substitution != "mlm":
            raise ValueError(f"augment.substitution must be mlm, random or random-frequency, got {cfg.substitution!r}")
        examples[lang] = chosen
        stats[lang] = augmentation_stats(chosen, pool, src, props, lang, words, (lexicons or {}).get(lang))
    return AugmentationResult(examples, stats, 0 if cached else props.forward_rows,
                              time.perf_counter() - start, cached)


def _cached_proposals(model_name, tokenizer, src, vocabs, table, cfg, neutral, cache_dir, device, progress):
    def compute() -> Proposals:
        model = load_mlm(model_name, None if cache_dir is None else str(cache_dir)).to(device or torch.device("cpu"))
        return propose(model, tokenizer, src, vocabs, table, cfg.mode, cfg.unit, neutral, cfg.top_k,
                       cfg.batch_size, progress)

    if cache_dir is None:
        return compute(), False
    h = hashlib.sha256(json.dumps([PROPOSALS_VERSION, model_fingerprint(model_name, str(cache_dir)), cfg.mode,
                                   cfg.unit, neutral, cfg.top_k]).encode())
    for ids in src.input_ids:
        h.update(ids.tobytes())
        h.update(b"\0")
    for lang in sorted(vocabs):
        h.update(lang.encode() + vocabs[lang].word_ids.tobytes() + b"|" + vocabs[lang].cont_ids.tobytes())
    path = Path(cache_dir) / "proposals" / f"{h.hexdigest()[:24]}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):  # parallel workers wait for one computation
        if path.exists():
            with path.open("rb") as f:
                return pickle.load(f), True
        props = compute()
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(props, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        return props, False
