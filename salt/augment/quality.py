"""Statistics of an augmentation: how much was switched, how confidently, and how well (gold lexicon)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from salt.encode import Encoded
from salt.augment.propose import Proposals
from salt.augment.switch import Augmented, Pool, source_index


def augmentation_stats(selected: Sequence[Augmented], pool: Sequence[Augmented], src: Encoded, props: Proposals,
                       lang: str, words: list[str], lexicon: dict[str, str] | None = None) -> dict[str, float]:
    """`words[id]` is the token's surface form (piece markers stripped), used to look up the lexicon.

    Precision and coverage are over positions whose source word has a gold translation that differs
    from it (a shared word cannot be "switched"): coverage is the share of them substituted, precision
    the share of substitutions that equal the gold translation.
    """
    eligible = int(props.eligible()[source_index(selected)].sum())
    if isinstance(selected, Pool):  # its columns, in the order the objects would give them
        synonym, probs = selected.synonym, selected.probs[~selected.synonym]
    else:
        synonym = np.concatenate([a.synonym for a in selected]) if selected else np.zeros(0, bool)
        probs = np.concatenate([a.probs for a in selected])[~synonym] if selected else np.zeros(0)
    n_synonyms = int(synonym.sum())
    n_subs = len(synonym) - n_synonyms
    stats = {
        "n_source": float(len(src)),
        "n_pool": float(len(pool)),
        "n_selected": float(len(selected)),
        "substitution_rate": n_subs / eligible if eligible else 0.0,
        "synonym_rate": n_synonyms / eligible if eligible else 0.0,
        "mean_confidence": float(probs.mean()) if len(probs) else 0.0,
    }
    if lexicon:
        stats.update(_gold(selected, pool, src, props, lang, words, lexicon))
    return stats


def _gold(selected, pool, src, props, lang, words, lexicon) -> dict[str, float]:
    """Over the flat arrays: each token id's word and its gold translation as integer codes (-1: no gold)."""
    code: dict[str, int] = {}
    word = np.array([code.setdefault(w, len(code)) for w in words], np.int64)
    gold = np.full(len(words), -1, np.int64)
    for t, w in enumerate(words):
        tgt = lexicon.get(w)
        if tgt is not None and tgt != w:
            gold[t] = code.get(tgt, -2)  # -2: a translation no token spells, never a hit
    lengths = np.array([len(x) for x in src.input_ids], np.int64)
    tokens = np.concatenate(src.input_ids) if len(src) else np.zeros(0, np.int64)
    token_start = np.cumsum(lengths) - lengths

    def source_gold(source, positions):
        return gold[tokens[token_start[source] + positions]] if len(positions) else np.zeros(0, np.int64)

    g = source_gold(props.example_of_row, props.positions)
    ids = props.ids[lang]
    top1_n = int((g != -1).sum()) if ids.shape[1] else 0
    top1_hit = int(((word[ids[:, 0]] == g) & (g != -1)).sum()) if ids.shape[1] else 0

    def prec(source, positions, subs, synonym):
        want = source_gold(source, positions)
        counted = (want != -1) & ~synonym
        return int((counted & (word[subs] == want)).sum()), int(counted.sum())

    if isinstance(pool, Pool):  # copy 0 of the pool, straight from its columns
        per_sub = np.repeat(np.arange(len(pool)), np.diff(pool.starts))
        zero = pool.copy[per_sub] == 0
        hit, n = prec(pool.source[per_sub][zero], pool.positions[zero], pool.ids[zero], pool.synonym[zero])
    else:
        hit, n = prec(*_flat([a for a in pool if a.uid.endswith("|0")]))
    s_hit, s_n = prec(*(_columns(selected) if isinstance(selected, Pool) else _flat(selected)))
    return {
        "top1_precision": top1_hit / top1_n if top1_n else 0.0,
        "precision": hit / n if n else 0.0,
        "coverage": n / top1_n if top1_n else 0.0,
        "selected_precision": s_hit / s_n if s_n else 0.0,
    }


def _columns(pool: Pool):
    """`_flat` of a Pool, from its columns (a copy's substitute at a position is its id there)."""
    return np.repeat(pool.source, np.diff(pool.starts)), pool.positions, pool.ids, pool.synonym


def _flat(examples: list[Augmented]):
    """Per substitution: source example, position, substituted id, synonym flag."""
    if not examples:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    source = np.concatenate([np.full(len(a.positions), a.source_index, np.int64) for a in examples])
    positions = np.concatenate([a.positions for a in examples]).astype(np.int64)
    subs = np.concatenate([a.aug_ids[a.positions] for a in examples]).astype(np.int64)
    return source, positions, subs, np.concatenate([a.synonym for a in examples]).astype(bool)
