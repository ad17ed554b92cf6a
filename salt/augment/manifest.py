"""Which augmented examples a run trained on: one row per example, and one digest for the whole sample.

Two runs with the same digest trained on the same code-switched text; a draw can be replayed by reading the
manifest back. The content hash covers the switched ids, so the same example ids with other substitutes
(another threshold or substitution control) differ.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from salt.augment.switch import BLOCK, Augmented, Pool, copy_uid

COLUMNS = ("lang", "uid", "source_index", "content")


def manifest(examples: dict[str, Sequence[Augmented]]) -> pd.DataFrame:
    """Per selected example: its language, uid, source row and the hash of its code-switched ids."""
    rows = [row for lang in sorted(examples) for row in _rows(lang, examples[lang])]
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"source_index": "int64"})


def _rows(lang: str, examples: Sequence[Augmented]):
    """A Pool's rows straight from its columns, block by block (N = all on XNLI: 5.5M rows, no object per copy)."""
    if not isinstance(examples, Pool):
        for a in examples:
            yield lang, a.uid, int(a.source_index), _content(a.aug_ids)
        return
    uids = examples.src.uids
    for start in range(0, len(examples), BLOCK):
        part = examples.subset(range(start, min(start + BLOCK, len(examples))))
        tokens, ends = part.switched()
        flat = memoryview(tokens.astype(np.int64)).cast("B")
        t = 0
        for i, c, u in zip(part.source.tolist(), part.copy.tolist(), (ends * 8).tolist()):
            yield lang, copy_uid(uids[i], lang, c), i, hashlib.sha256(flat[t:u]).hexdigest()[:16]
            t = u


def _content(ids: np.ndarray) -> str:
    return hashlib.sha256(ids.astype("int64").tobytes()).hexdigest()[:16]


def digest(frame: pd.DataFrame) -> str:
    """One hash of a manifest, independent of row order."""
    # Rows joined in Python, not by a pandas row-wise `agg` (minutes at millions of rows); the same text.
    lines = sorted("\t".join(map(str, row)) for row in zip(*(frame[c].tolist() for c in COLUMNS)))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
