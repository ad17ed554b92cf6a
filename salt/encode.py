"""Tokenise examples once; augmentation and training share these exact ids, so positions align."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from salt.data.types import Example


@dataclass
class Encoded:
    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    labels: np.ndarray
    uids: list[str]
    langs: list[str]

    def __len__(self) -> int:
        return len(self.input_ids)


def encode(tokenizer: PreTrainedTokenizerBase, examples: list[Example], max_len: int) -> Encoded:
    out = tokenizer([e.text_a for e in examples], [e.text_b for e in examples], truncation=True,
                    max_length=max_len, return_token_type_ids=True) if examples else {"input_ids": [], "token_type_ids": []}
    return Encoded(
        input_ids=[np.asarray(ids, dtype=np.int64) for ids in out["input_ids"]],
        token_type_ids=[np.asarray(t, dtype=np.int64) for t in out["token_type_ids"]],
        labels=np.asarray([e.label for e in examples], dtype=np.int64),
        uids=[e.uid for e in examples],
        langs=[e.lang for e in examples],
    )


def pad(seqs: list[np.ndarray], value: int) -> np.ndarray:
    width = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), width), value, dtype=np.int64)
    for row, s in enumerate(seqs):
        out[row, :len(s)] = s
    return out
