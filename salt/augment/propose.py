"""The MLM head, restricted to a language's vocabulary, proposes a substitute for every eligible token.

Visible mode: one forward pass per sentence predicts every position (the token stays in the input).
Masked mode: one row per eligible position with that token masked, rows batched across sentences.
For each language only the top-k restricted (renormalised) proposals are kept.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from tqdm.auto import tqdm

from salt.augment.sizing import cap_for, free_memory, proposal_batch_size
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


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the encoder's forward pass: bf16 on a CUDA GPU that has it, else none (fp32)."""
    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None


@contextmanager
def _fast_matmul(device: torch.device):
    """TF32 matmuls on a GPU for the duration (the process's setting is restored after); CPU unchanged."""
    if device.type != "cuda":
        yield
        return
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


class FullLogits:
    """The head's logits over the whole vocabulary at the positions of one batch, restricted by gathering
    columns: bit for bit what proposals always were (CPU, fp32)."""

    def __init__(self, model: PreTrainedModel):
        self.head = mlm_head(model)

    def __call__(self, hidden: torch.Tensor):
        """(restricted logits of (rows or None: all, candidate ids) as fp32, log of the full softmax's sum)."""
        logits = self.head(hidden)
        log_total = torch.logsumexp(logits.float(), dim=-1)

        def restricted(rows: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor:
            sub = logits.index_select(-1, idx)  # (the candidates' columns first: no row copy of the full width)
            return (sub if rows is None else sub.index_select(0, rows)).float()
        return restricted, log_total


class _Decoded(Exception):
    """Raised by the hook on the head's output projection: its input is all `SplitHead` needs."""


class SplitHead:
    """The head's transform, then its output projection computed twice, never at full width for a whole
    batch: for the full softmax's normaliser over blocks of `block_bytes` of logits, and for each candidate
    set through the rows of the decoder weight it selects (`index_select`). In fp32 (TF32 on a GPU) even
    under autocast: the probabilities are thresholded, and bf16 logits would move them by a few per cent."""

    def __init__(self, model: PreTrainedModel, block_bytes: int = 256 << 20):
        self.head, self.decoder = mlm_head(model), model.get_output_embeddings()
        if self.decoder is None:
            raise TypeError(f"{type(model).__name__}: no output projection (get_output_embeddings)")
        self.block = max(1, block_bytes // (4 * self.decoder.weight.shape[0]))

    def transformed(self, hidden: torch.Tensor) -> torch.Tensor:
        """The head's input to its output projection, whatever the architecture's transform (BERT, XLM-R)."""
        seen = []

        def stop(_module, args):
            seen.append(args[0])
            raise _Decoded
        handle = self.decoder.register_forward_pre_hook(stop)
        try:
            self.head(hidden)
        except _Decoded:
            pass
        finally:
            handle.remove()
        if not seen:
            raise TypeError(f"{type(self.head).__name__}: the MLM head never applied its output projection")
        return seen[0]

    def __call__(self, hidden: torch.Tensor):
        weight, bias = self.decoder.weight, self.decoder.bias
        with torch.autocast(hidden.device.type, enabled=False):
            h = self.transformed(hidden).float()
            log_total = (torch.cat([torch.logsumexp(F.linear(b, weight.float(), None if bias is None else bias.float()),
                                                    dim=-1) for b in h.split(self.block)])
                         if len(h) else h.new_zeros(0))

        def restricted(rows: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor:
            with torch.autocast(hidden.device.type, enabled=False):
                return F.linear(h if rows is None else h.index_select(0, rows), weight.index_select(0, idx).float(),
                                None if bias is None else bias.index_select(0, idx).float())
        return restricted, log_total


def _restricted_topk(sub: torch.Tensor, idx: torch.Tensor, k: int,
                     log_total: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k of the softmax over the candidates (`sub`: their fp32 logits), and their share of the full softmax."""
    probs = torch.softmax(sub, dim=-1)
    top = probs.topk(min(k, len(idx)), dim=-1)
    mass = torch.exp(torch.logsumexp(sub, dim=-1) - log_total)
    return (idx[top.indices].to(torch.int32).cpu().numpy(), top.values.cpu().numpy(), mass.cpu().numpy())


def _lang_topk(restricted, n: int, word_start: np.ndarray, vocab: LanguageVocab, k: int,
               log_total: torch.Tensor):
    """Word-initial positions draw from word candidates, continuation positions from continuation ones."""
    ids = np.zeros((n, k), np.int32)
    probs = np.zeros((n, k), np.float32)
    mass = np.zeros(n, np.float32)
    for is_start in (True, False):
        rows = np.flatnonzero(word_start == is_start)
        cand = vocab.candidates(is_start)
        if len(rows) and len(cand):
            sel = None if len(rows) == n else torch.as_tensor(rows, device=log_total.device)
            idx = torch.as_tensor(cand, device=log_total.device)
            i, p, m = _restricted_topk(restricted(sel, idx), idx, k, log_total if sel is None else log_total[sel])
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
    batch_size: int | None = None,
    progress: bool = True,
    folder: Path | None = None,
    split_head: bool | None = None,
) -> Proposals:
    """`folder`: write the arrays there as .npy files (see `ProposalWriter`) instead of holding them in memory.
    `batch_size` None: from the vocabulary size and the device's free memory (salt.augment.sizing).
    `split_head` (default: on a GPU): `SplitHead` instead of `FullLogits`; a GPU also runs the encoder under
    bf16 autocast where it has bf16, and TF32 matmuls."""
    model.eval()
    device = next(model.parameters()).device
    scorer = (SplitHead if (device.type != "cpu" if split_head is None else split_head) else FullLogits)(model)
    amp = amp_dtype(device)
    positions = [np.flatnonzero(table.eligible(ids, unit, neutral)) for ids in data.input_ids]
    out = ProposalWriter(positions, vocabs, top_k, folder)
    forward_rows = 0
    rows = _rows(data, positions, out.offsets, mode, tokenizer.mask_token_id)
    if batch_size is None:
        batch_size = auto_batch_size(model, rows, device)
    bar = tqdm(total=len(rows), desc=f"augment ({mode})", unit="seq", disable=not progress, leave=False)
    with _fast_matmul(device), torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            ids = torch.as_tensor(pad([r[1] for r in chunk], tokenizer.pad_token_id), device=device)
            types = torch.as_tensor(pad([data.token_type_ids[r[0]] for r in chunk], 0), device=device)
            hidden = model.base_model(input_ids=ids, attention_mask=(ids != tokenizer.pad_token_id).long(),
                                      token_type_ids=types).last_hidden_state
            sel_b = torch.as_tensor(np.concatenate([np.full(len(r[2]), b) for b, r in enumerate(chunk)]),
                                    device=device)
            sel_p = torch.as_tensor(np.concatenate([r[2] for r in chunk]), device=device)
            restricted, log_total = scorer(hidden[sel_b.long(), sel_p.long()])
            tokens = (np.concatenate([data.input_ids[r[0]][r[2]] for r in chunk]) if len(sel_p)
                      else np.zeros(0, np.int64))
            starts = table.word_start[tokens]
            for lang, vocab in vocabs.items():  # a chunk's positions are the consecutive flat rows from its first
                out.write(lang, chunk[0][3], *_lang_topk(restricted, len(sel_p), starts, vocab, top_k, log_total))
            forward_rows += len(chunk)
            bar.update(len(chunk))
    bar.close()
    return out.finish(forward_rows)


def auto_batch_size(model: PreTrainedModel, rows: list, device: torch.device) -> int:
    """`sizing.proposal_batch_size` for these rows (their longest, their mean positions read) on `device`."""
    if not rows:
        return 1
    seq_len = max(len(r[1]) for r in rows)
    per_row = sum(len(r[2]) for r in rows) / len(rows)
    return proposal_batch_size(free_memory(device), model.get_input_embeddings().weight.shape[0],
                               model.config.hidden_size, seq_len, per_row, cap_for(device))


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
