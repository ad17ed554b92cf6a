"""Tokenise examples once; augmentation and training share these exact ids, so positions align.

With a cache folder the ids are tokenised once per (tokenizer, text, max length, truncation) for every trial and
process of a study, and memory-mapped after: at XNLI's size (392,702 training pairs, 30 evaluation sets, a
119,547-entry WordPiece) tokenising took 58 s a trial, a cache hit 5 s, most of it hashing the text.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock
from transformers import PreTrainedTokenizerBase

from salt.data.types import Example

CACHE_VERSION = 1
TRUNCATION = "longest_first"  # what `truncation=True` means for pairs: the key names it
IDS, TYPES, OFFSETS = "input_ids.npy", "token_type_ids.npy", "offsets.npy"


@dataclass
class Encoded:
    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    labels: np.ndarray
    uids: list[str]
    langs: list[str]

    def __len__(self) -> int:
        return len(self.input_ids)


def encode(tokenizer: PreTrainedTokenizerBase, examples: list[Example], max_len: int,
           cache_dir: Path | str | None = None) -> Encoded:
    """`cache_dir`: read the ids from (or write them to) its `encoded/` folder; labels, uids and languages always
    come from `examples` (they are not the tokenizer's)."""
    if cache_dir is None or not examples:
        ids, types = tokenize(tokenizer, examples, max_len)
    else:
        ids, types = _cached(tokenizer, examples, max_len, Path(cache_dir) / "encoded")
    return Encoded(ids, types, np.asarray([e.label for e in examples], dtype=np.int64), [e.uid for e in examples],
                   [e.lang for e in examples])


TOKENIZE_CHUNK = 8_192  # examples per tokenizer call


def tokenize(tokenizer: PreTrainedTokenizerBase, examples: list[Example], max_len: int):
    """Per example its input ids and token type ids (int64), tokenised a chunk at a time: the tokenizer's output
    (Python lists, a fast tokenizer's per-example encodings with their token strings) costs several times the
    arrays kept, which at XNLI's 392,702 pairs in one call peaked at 11 GiB."""
    ids, types = [], []
    for start in range(0, len(examples), TOKENIZE_CHUNK):
        chunk = examples[start:start + TOKENIZE_CHUNK]
        out = tokenizer([e.text_a for e in chunk], [e.text_b for e in chunk], truncation=TRUNCATION,
                        max_length=max_len, return_token_type_ids=True, return_attention_mask=False)
        ids += [np.asarray(i, dtype=np.int64) for i in out["input_ids"]]
        types += [np.asarray(t, dtype=np.int64) for t in out["token_type_ids"]]
    return ids, types


_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """What a tokenizer maps text to ids by: a fast tokenizer's whole definition (normaliser, pre-tokeniser, model,
    post-processor with its special tokens), else its class, vocabulary and settings; and the side it truncates.
    Not its name: a local directory retrained under the same path must not hit the old ids."""
    known = _FINGERPRINTS.get(tokenizer)
    if known is None or known[0] != len(tokenizer):  # kept per tokenizer object while its size holds (added tokens)
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:  # less the truncation and padding a previous call left set on it
            definition = json.dumps({k: v for k, v in json.loads(backend.to_str()).items()
                                     if k not in ("truncation", "padding")}, sort_keys=True)
        else:
            definition = json.dumps([type(tokenizer).__name__, sorted(tokenizer.get_vocab().items()),
                                     {k: str(v) for k, v in sorted(tokenizer.init_kwargs.items())}])
        h = hashlib.sha256(definition.encode())
        h.update(json.dumps([type(tokenizer).__name__, tokenizer.truncation_side]).encode())
        _FINGERPRINTS[tokenizer] = (len(tokenizer), h.hexdigest())
    return _FINGERPRINTS[tokenizer][1]


def encoding_key(tokenizer: PreTrainedTokenizerBase, examples: list[Example], max_len: int) -> str:
    """(tokenizer, the text of every example in order, max length, truncation): all the ids depend on."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, tokenizer_fingerprint(tokenizer), max_len, TRUNCATION]).encode())
    for e in examples:
        h.update(e.text_a.encode())
        h.update(b"\0")
        h.update(e.text_b.encode())
        h.update(b"\1")
    return h.hexdigest()[:32]


def _cached(tokenizer, examples: list[Example], max_len: int, root: Path):
    """The ids from `root/<key>/` (flat arrays and row offsets, memory-mapped: rows are views), written first
    if absent: into a temporary folder renamed into place under a lock, so a folder that exists is whole and
    parallel workers tokenise once."""
    folder = root / encoding_key(tokenizer, examples, max_len)
    if not (folder / OFFSETS).is_file():
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            if not (folder / OFFSETS).is_file():
                for stale in root.glob(f"{folder.name}.*.tmp"):  # left by a killed writer (we hold the lock)
                    shutil.rmtree(stale, ignore_errors=True)
                ids, types = tokenize(tokenizer, examples, max_len)
                tmp = root / f"{folder.name}.{os.getpid()}.tmp"
                tmp.mkdir()
                offsets = np.zeros(len(ids) + 1, np.int64)
                np.cumsum([len(i) for i in ids], out=offsets[1:])
                np.save(tmp / IDS, np.concatenate(ids))
                np.save(tmp / TYPES, np.concatenate(types))
                np.save(tmp / OFFSETS, offsets)  # last: its presence says the folder is whole
                os.replace(tmp, folder)
                del ids, types  # read back mapped, as every later trial reads them: one behaviour, less memory
    offsets = np.load(folder / OFFSETS)
    if len(offsets) != len(examples) + 1:
        raise ValueError(f"{folder}: the encoded cache holds {len(offsets) - 1} rows for {len(examples)} examples "
                         "(a key collision or a hand-edited cache): delete the folder")
    flat_ids, flat_types = (np.load(folder / name, mmap_mode="r") for name in (IDS, TYPES))
    bounds = list(zip(offsets[:-1].tolist(), offsets[1:].tolist()))
    return [flat_ids[a:b] for a, b in bounds], [flat_types[a:b] for a, b in bounds]


def pad(seqs: list[np.ndarray], value: int) -> np.ndarray:
    width = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), width), value, dtype=np.int64)
    for row, s in enumerate(seqs):
        out[row, :len(s)] = s
    return out
