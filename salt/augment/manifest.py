"""Which augmented examples a run trained on: one row per example, and one digest for the whole sample.

Two runs with the same digest trained on the same code-switched text; a draw can be replayed by reading the
manifest back. The content hash covers the switched ids, so the same example ids with other substitutes
(another threshold or substitution control) differ.
"""
from __future__ import annotations

import hashlib

import pandas as pd

from salt.augment.switch import Augmented

COLUMNS = ("lang", "uid", "source_index", "content")


def manifest(examples: dict[str, list[Augmented]]) -> pd.DataFrame:
    """Per selected example: its language, uid, source row and the hash of its code-switched ids."""
    rows = [(lang, a.uid, int(a.source_index), hashlib.sha256(a.aug_ids.astype("int64").tobytes()).hexdigest()[:16])
            for lang in sorted(examples) for a in examples[lang]]
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"source_index": "int64"})


def digest(frame: pd.DataFrame) -> str:
    """One hash of a manifest, independent of row order."""
    # Rows joined in Python, not by a pandas row-wise `agg` (minutes at millions of rows); the same text.
    lines = sorted("\t".join(map(str, row)) for row in zip(*(frame[c].tolist() for c in COLUMNS)))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
