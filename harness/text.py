"""Counts in messages: "1 seed", "2 seeds", "1 axis", "0 axes"."""
from __future__ import annotations

IRREGULAR = {"axis": "axes", "is": "are", "was": "were"}


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular only for exactly 1 (thousands separated)."""
    word = noun if n == 1 else plural or IRREGULAR.get(noun) or noun + "s"
    return f"{n:,} {word}"
