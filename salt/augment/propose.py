"""The MLM head, restricted to a language's vocabulary, proposes a substitute for every eligible token.

Visible mode: one forward pass per sentence predicts every position (the token stays in the input).
Masked mode: one row per eligible position with that token masked, rows batched across sentences.
For each language only the top-k restricted (renormalised) proposals are kept.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from tqdm.auto import tqdm

from salt.encode import Encoded, pad
from salt.vocab import LanguageVocab, TokenTable


@dataclass
class Proposals:
    """Columnar: one row per eligible position of every example (example-major), so a study of XNLI's size is
    a few flat arrays per language, memory-mapped from the cache, instead of millions of small ones.

    Example i owns rows `offsets[i]:offsets[i+1]`. The [rows, k] arrays are column-major, so the top-1
    column that thresholds and copy 0 read is one contiguous block (a trial touches 1/k of the file).
    """

    offsets: np.ndarray  # int64[n + 1]
    positions: np.ndarray  # int32[rows]: the eligible position (token index in its example) of each row
    ids: dict[str, np.ndarray] = field(default_factory=dict)  # lang -> int32[rows, k]: top-k substitutes
    probs: dict[str, np.ndarray] = field(default_factory=dict)  # lang -> float32[rows, k]: restricted probability
    # lang -> float32[rows]: the share of the whole vocabulary's probability the language's candidates hold
    # at the position (restricted probability x mass = probability under the full softmax)
    mass: dict[str, np.ndarray] = field(default_factory=dict)
    forward_rows: int = 0  # sequences run through the model (the cost driver of masked mode)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, i: int) -> slice:
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def eligible(self) -> np.ndarray:
        """Eligible positions per example."""
        return np.diff(self.offsets)

    @cached_property
    def example_of_row(self) -> np.ndarray:
        return np.repeat(np.arange(len(self), dtype=np.int64), self.eligible())

    @classmethod
    def open(cls, folder: Path, langs: dict[str, str]) -> "Proposals":
        """Memory-map the shared arrays and those of `langs` (lang -> its subfolder) only."""
        out = cls(_load(folder / OFFSETS), _load(folder / POSITIONS))
        for lang, sub in langs.items():
            out.ids[lang], out.probs[lang], out.mass[lang] = (_load(folder / sub / f) for f in (IDS, PROBS, MASS))
        return out


OFFSETS, POSITIONS, IDS, PROBS, MASS = "offsets.npy", "positions.npy", "ids.npy", "probs.npy", "mass.npy"


def _load(path: Path) -> np.ndarray:
    """Memory-mapped read-only (numpy cannot map an empty array: those are read)."""
    try:
        return np.load(path, mmap_mode="r")
    except ValueError:
        return np.load(path)


class ProposalWriter:
    """Fills the arrays of `Proposals` block of rows by block: in memory, or (`folder`) as column-major .npy files
    written with positioned writes, never mapped, so the writer's memory is one block whatever the files' size."""

    def __init__(self, positions: list[np.ndarray], langs, k: int, folder: Path | None = None):
        self.offsets = np.zeros(len(positions) + 1, np.int64)
        np.cumsum([len(p) for p in positions], out=self.offsets[1:])
        self.positions = np.concatenate(positions).astype(np.int32) if positions else np.zeros(0, np.int32)
        self.folder, rows = folder, int(self.offsets[-1])
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / POSITIONS, self.positions)
            np.save(folder / OFFSETS, self.offsets)
        self.langs = list(langs)
        self.arrays = {lang: [_Block((rows, k), np.int32, folder and folder / lang / IDS),
                              _Block((rows, k), np.float32, folder and folder / lang / PROBS),
                              _Block((rows,), np.float32, folder and folder / lang / MASS)] for lang in self.langs}

    def write(self, lang: str, start: int, ids: np.ndarray, probs: np.ndarray, mass: np.ndarray) -> None:
        """Rows start:start + len(ids) of `lang`."""
        for array, block in zip(self.arrays[lang], (ids, probs, mass)):
            array.write(start, block)

    def finish(self, forward_rows: int = 0) -> Proposals:
        for arrays in self.arrays.values():
            for array in arrays:
                array.close()
        if self.folder is not None:
            out = Proposals.open(self.folder, {lang: lang for lang in self.langs})
        else:
            out = Proposals(self.offsets, self.positions, *({lang: a[j].data for lang, a in self.arrays.items()}
                                                           for j in range(3)))
        out.forward_rows = forward_rows
        return out


class _Block:
    """One array written by row blocks: in memory, or a column-major .npy file (each column of a block one write)."""

    def __init__(self, shape: tuple[int, ...], dtype, path: Path | None):
        self.shape, self.dtype = shape, np.dtype(dtype)
        if path is None:
            self.data, self.fd = np.zeros(shape, dtype, order="F"), None
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                     "fortran_order": len(shape) > 1, "shape": shape})
            self.base = f.tell()
            f.truncate(self.base + int(np.prod(shape)) * self.dtype.itemsize)
        self.data, self.fd = None, os.open(path, os.O_WRONLY)

    def write(self, start: int, block: np.ndarray) -> None:
        block = np.asarray(block, self.dtype)
        if self.fd is None:
            self.data[start:start + len(block)] = block
            return
        size = self.dtype.itemsize
        columns = [block] if block.ndim == 1 else [block[:, j] for j in range(block.shape[1])]
        for j, column in enumerate(columns):
            os.pwrite(self.fd, np.ascontiguousarray(column).tobytes(), self.base + (j * self.shape[0] + start) * size)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


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
    folder: Path | None = None,
) -> Proposals:
    """`folder`: write the arrays there as .npy files (see `ProposalWriter`) instead of holding them in memory."""
    model.eval()
    device = next(model.parameters()).device
    head = mlm_head(model)
    positions = [np.flatnonzero(table.eligible(ids, unit, neutral)) for ids in data.input_ids]
    out = ProposalWriter(positions, vocabs, top_k, folder)
    forward_rows = 0
    rows = _rows(data, positions, out.offsets, mode, tokenizer.mask_token_id)
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
        for lang, vocab in vocabs.items():  # a chunk's positions are the consecutive flat rows from its first
            out.write(lang, chunk[0][3], *_lang_topk(logits, starts, vocab, top_k, log_total))
        forward_rows += len(chunk)
        bar.update(len(chunk))
    bar.close()
    return out.finish(forward_rows)


def _rows(data: Encoded, positions: list[np.ndarray], offsets: np.ndarray, mode: str, mask_id: int):
    """(example index, input ids, positions read from this row, the flat row of the first of them), in flat order."""
    if mode == "visible":
        return [(i, ids, positions[i], int(offsets[i])) for i, ids in enumerate(data.input_ids)]
    if mode != "masked":
        raise ValueError(f"augment mode must be 'visible' or 'masked', got {mode!r}")
    rows = []
    for i, ids in enumerate(data.input_ids):
        for j, p in enumerate(positions[i]):
            masked = ids.copy()
            masked[p] = mask_id
            rows.append((i, masked, np.array([p]), int(offsets[i]) + j))
    return rows
