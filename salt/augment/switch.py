"""Turn proposals into code-switched copies of the source examples, and the random-substitution control."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salt.config import AugmentConfig
from salt.encode import Encoded
from salt.vocab import LanguageVocab, TokenTable

from salt.augment.propose import Proposals


@dataclass
class Augmented:
    """One code-switched example, aligned position by position with its source."""

    uid: str
    source_index: int  # row in the source Encoded
    lang: str
    label: int
    aug_ids: np.ndarray  # same length as the source input_ids
    positions: np.ndarray  # substituted positions
    probs: np.ndarray  # proposal probability of each substitute (target or synonym)
    synonym: np.ndarray  # bool per substituted position: a source-language synonym, not a target word

    @property
    def confidence(self) -> float:
        return float(self.probs.mean()) if len(self.probs) else 0.0


def _cap(n_eligible: int, max_ratio: float) -> int:
    return max(1, int(n_eligible * max_ratio)) if n_eligible and max_ratio > 0 else 0


def code_switch(src: Encoded, props: Proposals, lang: str, source_lang: str, cfg: AugmentConfig,
                rng: np.random.Generator) -> list[Augmented]:
    """Copy 0 takes the most confident top-1 substitutes; later copies sample positions and substitutes.

    Only proposals at or above the threshold are used; at most `max_ratio` of the eligible tokens
    switch. Synonyms (source-language proposals other than the token itself, above their own
    threshold) may fill the remaining budget. Identical copies and copies with no substitution are dropped.
    """
    out: list[Augmented] = []
    threshold = effective_threshold(props, lang, cfg)
    for i, ids in enumerate(src.input_ids):
        pos, t_ids, t_probs = props.positions[i], props.ids[lang][i], substitute_probs(props, lang, i, cfg)
        cap = _cap(len(pos), cfg.max_ratio)
        if not cap:
            continue
        seen: set[bytes] = set()
        for copy in range(cfg.copies):
            chosen = _choose(t_ids, t_probs, threshold, cap, copy, rng)
            syn = {}
            if cfg.synonyms and source_lang in props.ids:
                syn = _synonyms(ids, pos, props.ids[source_lang][i], props.probs[source_lang][i],
                                cfg.synonym_threshold, cap - len(chosen), set(chosen), copy, rng)
            if not chosen and not syn:
                continue
            rows = sorted(chosen | syn.keys())
            aug = ids.copy()
            picks = {**chosen, **syn}
            aug[pos[rows]] = [picks[r][0] for r in rows]
            key = aug.tobytes()
            if key in seen:
                continue
            seen.add(key)
            out.append(Augmented(
                uid=f"{src.uids[i]}|{lang}|{copy}", source_index=i, lang=lang, label=int(src.labels[i]),
                aug_ids=aug, positions=pos[rows], probs=np.array([picks[r][1] for r in rows], np.float32),
                synonym=np.array([r in syn for r in rows])))
    return out


def substitute_probs(props: Proposals, lang: str, i: int, cfg: AugmentConfig) -> np.ndarray:
    """Example i's proposal probabilities as the threshold reads them: restricted, or under the full softmax."""
    if cfg.threshold_on == "full":
        return props.probs[lang][i] * props.mass[lang][i][:, None]
    return props.probs[lang][i]


def effective_threshold(props: Proposals, lang: str, cfg: AugmentConfig) -> float:
    """`threshold` itself, or (quantile) that quantile of the language's top-1 restricted probabilities."""
    if cfg.threshold_on != "quantile":
        return cfg.threshold
    top1 = [p[:, 0] for p in props.probs[lang] if p.size]
    return float(np.quantile(np.concatenate(top1), cfg.threshold)) if top1 else 1.0


def _choose(ids: np.ndarray, probs: np.ndarray, threshold: float, cap: int, copy: int,
            rng: np.random.Generator) -> dict[int, tuple[int, float]]:
    """row -> (substitute id, its probability)."""
    ok = probs[:, 0] >= threshold if probs.size else np.zeros(0, bool)
    rows = np.flatnonzero(ok)
    if copy == 0:
        rows = rows[np.argsort(-probs[rows, 0], kind="stable")][:cap]
        return {int(r): (int(ids[r, 0]), float(probs[r, 0])) for r in rows}
    rows = rng.permutation(rows)[:cap]
    picks = {}
    for r in rows:
        good = np.flatnonzero(probs[r] >= threshold)
        j = rng.choice(good, p=probs[r, good] / probs[r, good].sum())
        picks[int(r)] = (int(ids[r, j]), float(probs[r, j]))
    return picks


def _synonyms(ids, pos, s_ids, s_probs, threshold, budget, taken, copy, rng) -> dict[int, tuple[int, float]]:
    if budget <= 0:
        return {}
    picks = {}
    for r in range(len(pos)):
        if r in taken:
            continue
        good = [j for j in range(s_ids.shape[1]) if s_probs[r, j] >= threshold and s_ids[r, j] != ids[pos[r]]]
        if good:
            j = good[0] if copy == 0 else rng.choice(good)
            picks[r] = (int(s_ids[r, j]), float(s_probs[r, j]))
    keys = sorted(picks, key=lambda r: -picks[r][1]) if copy == 0 else list(rng.permutation(list(picks)))
    return {int(r): picks[r] for r in keys[:budget]}


def random_substitution(examples: list[Augmented], src: Encoded, vocabs: dict[str, LanguageVocab],
                        source_lang: str, table: TokenTable, rng: np.random.Generator,
                        by_frequency: bool = False) -> list[Augmented]:
    """The control: the very same positions, filled with random tokens of the same language and kind, drawn
    uniformly or (`by_frequency`) as often as they occur in the language's text, as real substitutes would."""
    out = []
    for ex in examples:
        orig = src.input_ids[ex.source_index]
        aug = orig.copy()
        for p, is_syn in zip(ex.positions, ex.synonym):
            vocab = vocabs[source_lang if is_syn else ex.lang]
            start = bool(table.word_start[orig[p]])
            cand, weight = vocab.candidates(start), vocab.frequencies(start)
            other = cand != orig[p]
            cand, weight = cand[other], weight[other]
            if len(cand):
                aug[p] = rng.choice(cand, p=weight / weight.sum()) if by_frequency else rng.choice(cand)
        out.append(Augmented(ex.uid, ex.source_index, ex.lang, ex.label, aug, ex.positions,
                             np.zeros(len(ex.positions), np.float32), ex.synonym))
    return out


def select(examples: list[Augmented], n: int | None, how: str, rng: np.random.Generator) -> list[Augmented]:
    """N per language: the most confident, or uniformly at random (the random-sampling control)."""
    if n is None or n >= len(examples):
        return list(examples)
    if how == "confidence":
        order = sorted(range(len(examples)), key=lambda j: (-examples[j].confidence, examples[j].uid))
        return [examples[j] for j in order[:n]]
    if how == "random":
        return [examples[j] for j in sorted(rng.choice(len(examples), size=n, replace=False))]
    raise ValueError(f"selection must be 'confidence' or 'random', got {how!r}")
