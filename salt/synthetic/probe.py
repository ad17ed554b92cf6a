"""How well the MLM head's target-language proposals match the world's gold lexicon.

This is the quantity SALT relies on: if restricted top-1 proposals are wrong, self-augmentation is
noise. Measuring it on the synthetic world tells whether an effect (or its absence) comes from the
alignment or from the training recipe.
"""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Literal

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from salt.synthetic.world import World


def lexicon_precision(world: World, model_dir: str | Path, lang: str, *,
                      mode: Literal["visible", "masked"] = "visible", sentences: int = 500,
                      threshold: float = 0.3, seed: int = 0, batch_size: int = 64) -> dict[str, float]:
    """Top-1 precision of source-token substitutes restricted to `lang`'s vocabulary, over source
    corpus token occurrences; broken down by word category, plus coverage/precision of proposals
    whose renormalised probability reaches `threshold` (SALT's confidence filter)."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForMaskedLM.from_pretrained(model_dir).eval()
    gold = world.lexicon[lang]
    categories = world.categories
    target_ids = torch.tensor(sorted(set(tok.convert_tokens_to_ids(world.vocabulary(lang)))))
    texts = random.Random(seed).sample(world.corpora[world.source_lang], sentences)

    hits: dict[str, list[int]] = defaultdict(list)
    confident: list[int] = []
    for words, probs in _restricted_probs(model, tok, texts, target_ids, mode, batch_size):
        top_p, top = probs.max(-1)
        for word, p, guess in zip(words, top_p.tolist(), target_ids[top].tolist()):
            ok = int(tok.convert_ids_to_tokens(guess) == gold[word])
            hits["all"].append(ok)
            hits[categories[word]].append(ok)
            if p >= threshold:
                confident.append(ok)
    out = {k: sum(v) / len(v) for k, v in sorted(hits.items())}
    out["coverage@threshold"] = len(confident) / len(hits["all"])
    out["precision@threshold"] = sum(confident) / max(1, len(confident))
    return out


@torch.no_grad()
def _restricted_probs(model, tok, texts: list[str], target_ids: torch.Tensor, mode: str, batch_size: int):
    """Yield (words, probs over target_ids per word) for each sentence."""
    if mode == "visible":  # one pass predicts every position
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            enc = tok(chunk, return_tensors="pt", padding=True)
            logits = model(**enc).logits[:, :, target_ids]
            for row, text in enumerate(chunk):
                words = text.split()
                yield words, logits[row, 1:1 + len(words)].softmax(-1)
        return
    for text in texts:  # masked: one copy per position, predicted together
        words = text.split()
        enc = tok([text] * len(words), return_tensors="pt")
        positions = torch.arange(len(words))
        enc["input_ids"][positions, positions + 1] = tok.mask_token_id
        logits = model(**enc).logits[positions, positions + 1][:, target_ids]
        yield words, logits.softmax(-1)
