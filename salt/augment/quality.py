"""Statistics of an augmentation: how much was switched, how confidently, and how well (gold lexicon)."""
from __future__ import annotations

import numpy as np

from salt.encode import Encoded
from salt.augment.propose import Proposals
from salt.augment.switch import Augmented


def augmentation_stats(selected: list[Augmented], pool: list[Augmented], src: Encoded, props: Proposals,
                       lang: str, words: list[str], lexicon: dict[str, str] | None = None) -> dict[str, float]:
    """`words[id]` is the token's surface form (piece markers stripped), used to look up the lexicon.

    Precision and coverage are over positions whose source word has a gold translation that differs
    from it (a shared word cannot be "switched"): coverage is the share of them substituted, precision
    the share of substitutions that equal the gold translation.
    """
    eligible = sum(len(props.positions[a.source_index]) for a in selected)
    n_subs = sum(int((~a.synonym).sum()) for a in selected)
    probs = np.concatenate([a.probs[~a.synonym] for a in selected]) if selected else np.zeros(0)
    stats = {
        "n_source": float(len(src)),
        "n_pool": float(len(pool)),
        "n_selected": float(len(selected)),
        "substitution_rate": n_subs / eligible if eligible else 0.0,
        "synonym_rate": sum(int(a.synonym.sum()) for a in selected) / eligible if eligible else 0.0,
        "mean_confidence": float(probs.mean()) if len(probs) else 0.0,
    }
    if lexicon:
        stats.update(_gold(selected, pool, src, props, lang, words, lexicon))
    return stats


def _gold(selected, pool, src, props, lang, words, lexicon) -> dict[str, float]:
    def gold_of(token_id: int) -> str | None:
        word = words[token_id]
        tgt = lexicon.get(word)
        return tgt if tgt is not None and tgt != word else None

    top1_hit = top1_n = 0
    for i, pos in enumerate(props.positions):
        for row, p in enumerate(pos):
            tgt = gold_of(int(src.input_ids[i][p]))
            if tgt is not None and props.ids[lang][i].shape[1]:
                top1_n += 1
                top1_hit += words[int(props.ids[lang][i][row, 0])] == tgt

    def prec(examples):
        hit = n = 0
        for a in examples:
            for p, syn in zip(a.positions, a.synonym):
                tgt = gold_of(int(src.input_ids[a.source_index][p]))
                if tgt is not None and not syn:
                    n += 1
                    hit += words[int(a.aug_ids[p])] == tgt
        return hit, n

    first = [a for a in pool if a.uid.endswith("|0")]
    hit, n = prec(first)
    s_hit, s_n = prec(selected)
    return {
        "top1_precision": top1_hit / top1_n if top1_n else 0.0,
        "precision": hit / n if n else 0.0,
        "coverage": n / top1_n if top1_n else 0.0,
        "selected_precision": s_hit / s_n if s_n else 0.0,
    }
