"""The MLM head, restricted to a language's vocabulary, proposes a substitute for every eligible token.

Visible mode: one forward pass per sentence predicts every position (the token stays in the input).
Masked mode: one row per eligible position with that token masked, rows batched across sentences.
For each language only the top-k restricted (renormalised) proposals are kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from tqdm.auto import tqdm

from salt.encode import Encoded, pad
from salt.vocab import LanguageVocab, TokenTable


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
