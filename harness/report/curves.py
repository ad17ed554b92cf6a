"""Accuracy against samples per language (the `augment.samples_per_lang` axis), per arm, with CIs.

Each point sits at the examples really selected (`n_eff`, mean over seeds and target languages: an N above a
language's pool is not the N trained on) and is the mean over seeds with a Student-t 95% CI
(`harness.stats.effects.describe`; no test here: tests are the comparison engine's). An arm that does not
depend on the count (the baseline) is one reference value per language and setting: a baseline run with two
schedules is two bands, never one pooled over both. The other arms are curves; a study with further axes gets
one curve per remaining setting (`series`).
"""
from __future__ import annotations

import pandas as pd

from harness.report.collect import arm_order
from harness.stats.effects import describe

CURVE_COLUMNS = ["row", "arm", "series", "samples", "x", "n_eff", "mean", "std", "n", "low", "high", "note"]


def has_samples_axis(scores: pd.DataFrame) -> bool:
    return scores["samples"].dropna().nunique() > 1


def sample_curves(scores: pd.DataFrame, rows: list[str], confidence: float = 0.95) -> pd.DataFrame:
    """One line per (row, arm, series, samples); reference arms (no samples value) with samples = ""."""
    out = []
    for row in rows:
        sub = scores[scores["lang"] == row]
        for arm in arm_order(sub["arm"].unique()):
            part = sub[sub["arm"] == arm]
            if part["samples"].isna().all():  # does not depend on the count: one reference value per setting
                groups = [(setting, "", float("nan"), g) for setting, g in part.groupby("setting", sort=False)]
            else:
                part = part.dropna(subset=["samples"])
                groups = [(series, samples, g["x"].iloc[0], g)
                          for (series, samples), g in part.groupby(["series", "samples"], sort=False)]
                groups.sort(key=lambda item: (list(part["series"].unique()).index(item[0]), item[2]))
            for series, samples, x, sel in groups:
                s = describe(sel["score"].to_numpy(), confidence)
                n_eff = float(sel["n_eff"].mean()) if sel["n_eff"].notna().any() else float("nan")
                out.append({"row": row, "arm": arm, "series": series, "samples": samples, "x": x, "n_eff": n_eff,
                            "mean": s.mean,
                            "std": s.std, "n": s.n, "low": s.low, "high": s.high, "note": s.note})
    return pd.DataFrame(out, columns=CURVE_COLUMNS)
