"""What a run records, named and worded once: the trainer writes it, the harness reads it (light: no torch)."""
from __future__ import annotations

AVG, AVG_TARGETS = "avg", "avg_targets"  # rows: the mean over every language, and over the targets (zero-shot)
AVERAGES = (AVG, AVG_TARGETS)
SPLITS = ("dev", "test")


def accuracy_metric(split: str, row: str) -> str:
    """`test_acc_fr`, `dev_acc_avg_targets`: a split's accuracy on a language or an average."""
    return f"{split}_acc_{row}"


def describe_shortfall(lang: str, c: dict) -> str:
    """`fr selected 0 of 800 (pool 0)`; under a budget `fr selected 0 of its share of a budget of 4,000 (pool 0)`:
    the one wording of an augmentation shortfall (salt.augment.AugmentationResult.shortfalls), for the run's
    warning and the report's footnote."""
    asked = (f"its share of a budget of {c['budget']:,}" if c.get("budget") else
             "all" if c["requested"] is None else c["requested"])
    return f"{lang} selected {c['selected']} of {asked} (pool {c['pool']})"
