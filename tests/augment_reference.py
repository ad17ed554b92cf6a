"""The augmentation as it was before issue 15 (per-example arrays, a Python loop per example), kept only as the
reference the columnar implementation must reproduce exactly (tests/test_augment_columnar.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from salt.augment.sizing import CPU_CAP
from salt.augment.switch import Augmented, random_substitution
from salt.encode import Encoded, pad
from salt.vocab import TokenTable

@dataclass
class Proposals:
    """Per source example: eligible positions and, per language, top-k proposals at each of them."""

    positions: list[np.ndarray]  # eligible positions per example
    ids: dict[str, list[np.ndarray]] = field(default_factory=dict)  # lang -> per example int32[P, k]
    probs: dict[str, list[np.ndarray]] = field(default_factory=dict)  # lang -> per example float32[P, k]
    # lang -> per example float32[P]: the share of the whole vocabulary's probability the language's
    # candidates hold at the position (restricted probability x mass = probability under the full softmax)
    mass: dict[str, list[np.ndarray]] = field(default_factory=dict)
    forward_rows: int = 0  # sequences run through the model (the cost driver of masked mode)


def mlm_head(model: PreTrainedModel):
    """The module mapping hidden states to vocabulary logits, so logits are computed only where needed."""
    for name in ("cls", "lm_head"):
        if hasattr(model, name):
            return getattr(model, name)
    raise TypeError(f"{type(model).__name__}: no known MLM head (expected .cls or .lm_head)")


def _restricted_topk(logits: torch.Tensor, cand: np.ndarray, k: int,
                     log_total: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k of the softmax over the candidates, and the candidates' share of the full softmax's mass."""
    if len(cand) == 0:
        return (np.zeros((len(logits), 0), np.int32), np.zeros((len(logits), 0), np.float32),
                np.zeros(len(logits), np.float32))
    idx = torch.as_tensor(cand, device=logits.device)
    sub = logits.index_select(-1, idx).float()
    probs = torch.softmax(sub, dim=-1)
    top = probs.topk(min(k, len(cand)), dim=-1)
    mass = torch.exp(torch.logsumexp(sub, dim=-1) - log_total)
    return (idx[top.indices].to(torch.int32).cpu().numpy(), top.values.cpu().numpy(), mass.cpu().numpy())


def _lang_topk(logits: torch.Tensor, word_start: np.ndarray, vocab: LanguageVocab, k: int,
               log_total: torch.Tensor):
    """Word-initial positions draw from word candidates, continuation positions from continuation ones."""
    ids = np.zeros((len(logits), k), np.int32)
    probs = np.zeros((len(logits), k), np.float32)
    mass = np.zeros(len(logits), np.float32)
    for is_start in (True, False):
        rows = np.flatnonzero(word_start == is_start)
        if len(rows):
            sel = None if len(rows) == len(logits) else torch.as_tensor(rows, device=logits.device)
            part = logits if sel is None else logits[sel]  # (no copy when every row is selected)
            i, p, m = _restricted_topk(part, vocab.candidates(is_start), k,
                                       log_total if sel is None else log_total[sel])
            ids[rows, :i.shape[1]], probs[rows, :p.shape[1]], mass[rows] = i, p, m
    return ids, probs, mass


@torch.no_grad()
def propose(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    data: Encoded,
    vocabs: dict[str, LanguageVocab],
    table: TokenTable,
    mode: str = "visible",
    unit: str = "word",
    neutral: str = "exclude",
    top_k: int = 8,
    batch_size: int = 64,
    progress: bool = True,
) -> Proposals:
    model.eval()
    device = next(model.parameters()).device
    head = mlm_head(model)
    positions = [np.flatnonzero(table.eligible(ids, unit, neutral)) for ids in data.input_ids]
    out = Proposals(positions=positions, ids={l: [None] * len(data) for l in vocabs},
                    probs={l: [None] * len(data) for l in vocabs}, mass={l: [None] * len(data) for l in vocabs})
    rows = _rows(data, positions, mode, tokenizer.mask_token_id)
    bar = tqdm(total=len(rows), desc=f"augment ({mode})", unit="seq", disable=not progress, leave=False)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        ids = torch.as_tensor(pad([r[1] for r in chunk], tokenizer.pad_token_id), device=device)
        types = torch.as_tensor(pad([data.token_type_ids[r[0]] for r in chunk], 0), device=device)
        hidden = model.base_model(input_ids=ids, attention_mask=(ids != tokenizer.pad_token_id).long(),
                                  token_type_ids=types).last_hidden_state
        sel_b = torch.as_tensor(np.concatenate([np.full(len(r[2]), b) for b, r in enumerate(chunk)]), device=device)
        sel_p = torch.as_tensor(np.concatenate([r[2] for r in chunk]), device=device)
        logits = head(hidden[sel_b.long(), sel_p.long()])
        tokens = np.concatenate([data.input_ids[r[0]][r[2]] for r in chunk]) if len(sel_p) else np.zeros(0, np.int64)
        starts = table.word_start[tokens]
        log_total = torch.logsumexp(logits.float(), dim=-1)
        for lang, vocab in vocabs.items():
            ids_k, probs_k, mass = _lang_topk(logits, starts, vocab, top_k, log_total)
            _scatter(out, lang, chunk, ids_k, probs_k, mass, positions)
        out.forward_rows += len(chunk)
        bar.update(len(chunk))
    bar.close()
    for lang in vocabs:  # examples with no eligible position
        for i, v in enumerate(out.ids[lang]):
            if v is None:
                out.ids[lang][i] = np.zeros((0, top_k), np.int32)
                out.probs[lang][i] = np.zeros((0, top_k), np.float32)
                out.mass[lang][i] = np.zeros(0, np.float32)
    return out


def _rows(data: Encoded, positions: list[np.ndarray], mode: str, mask_id: int):
    """(example index, input ids, positions read from this row)."""
    if mode == "visible":
        return [(i, ids, positions[i]) for i, ids in enumerate(data.input_ids)]
    if mode != "masked":
        raise ValueError(f"augment mode must be 'visible' or 'masked', got {mode!r}")
    rows = []
    for i, ids in enumerate(data.input_ids):
        for p in positions[i]:
            masked = ids.copy()
            masked[p] = mask_id
            rows.append((i, masked, np.array([p])))
    return rows


def _scatter(out: Proposals, lang: str, chunk, ids_k, probs_k, mass, positions) -> None:
    offset = 0
    for i, _, pos in chunk:
        n = len(pos)
        if out.ids[lang][i] is None:
            k = ids_k.shape[1]
            out.ids[lang][i] = np.zeros((len(positions[i]), k), np.int32)
            out.probs[lang][i] = np.zeros((len(positions[i]), k), np.float32)
            out.mass[lang][i] = np.zeros(len(positions[i]), np.float32)
        rows = np.searchsorted(positions[i], pos)
        out.ids[lang][i][rows] = ids_k[offset:offset + n]
        out.probs[lang][i][rows] = probs_k[offset:offset + n]
        out.mass[lang][i][rows] = mass[offset:offset + n]
        offset += n


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


def augment(model, tokenizer, src, vocabs, cfg, source_lang, seed, lexicons=None, neutral="exclude"):
    """augment() of before issue 15, without the disk cache."""
    table = TokenTable.build(tokenizer)
    targets = [lang for lang in vocabs if lang != source_lang]
    props = propose(model, tokenizer, src, vocabs, table, cfg.mode, cfg.unit, neutral, cfg.top_k,
                    cfg.batch_size or CPU_CAP, False)  # auto on CPU: the fixed batch of before
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
        examples[lang] = chosen
        stats[lang] = augmentation_stats(chosen, pool, src, props, lang, words, (lexicons or {}).get(lang))
    return props, examples, stats
