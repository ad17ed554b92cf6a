"""Accuracy against samples per language (the `augment.samples_per_lang` axis), per arm, with CIs.

Each point is the mean over seeds with a Student-t 95% CI (`harness.stats.effects.describe`); the
baseline, which does not augment, is one reference value per language. Arms other than the baseline are
curves; a study with further axes gets one curve per remaining setting (`series`).
"""
from __future__ import annotations

import math

import pandas as pd

from harness.report.collect import arm_order
from harness.stats.effects import describe

CURVE_COLUMNS = ["row", "arm", "series", "samples", "x", "mean", "std", "n", "low", "high", "note"]


def sample_value(label: str | None) -> float:
    """Numeric order of a samples label: 'all' sorts last."""
    if label is None:
        return math.nan
    return math.inf if label == "all" else float(label)


def has_samples_axis(scores: pd.DataFrame) -> bool:
    return scores["samples"].dropna().nunique() > 1


def sample_curves(scores: pd.DataFrame, rows: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """One line per (row, arm, series, samples), the baseline with samples = None."""
    out = []
    arms = arm_order(scores["arm"].unique())
    for row in rows:
        sub = scores[scores["lang"] == row]
        for arm in arms:
            part = sub[sub["arm"] == arm]
            if part.empty:
                continue
            keys = [None] if arm == "baseline" else sorted(part["samples"].dropna().unique(), key=sample_value)
            for series in part["series"].unique() if arm != "baseline" else ["-"]:
                for samples in keys:
                    sel = part if samples is None else part[(part["samples"] == samples) & (part["series"] == series)]
                    if sel.empty:
                        continue
                    s = describe(sel["score"].to_numpy(), confidence)
                    out.append({"row": row, "arm": arm, "series": series, "samples": samples or "",
                                "x": sample_value(samples), "mean": s.mean, "std": s.std, "n": s.n,
                                "low": s.low, "high": s.high, "note": s.note})
    return pd.DataFrame(out, columns=CURVE_COLUMNS)
