"""The study summary as metrics of the parent run: per arm and setting, the mean, std and CI over seeds of the
headline metrics, so the MLflow UI compares arms without a report. The numbers are the report's: draws of a
seed averaged first (`collect`), then `describe` (Student t, kept inside [0, 1]), as in every table.

Names group with `/` so the UI's metric list nests them: `summary/salt/samples_per_lang 800/test_acc_avg_targets/mean`
(MLflow names allow no `=` or `,`: a setting `k=v,k2=v2` is written `k v k2 v2`; the baseline has no setting part).
"""
from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np

from harness.records import NO_SETTING, setting_label
from harness.report.collect import without_draw
from harness.stats.effects import describe
from harness.tracking.readback import TrialRun

PREFIX = "summary"
_NOT_IN_NAMES = re.compile(r"[^\w.\- :/]+")


def group_name(arm: str, setting: str) -> str:
    parts = [PREFIX, arm] + ([] if setting == NO_SETTING else [setting.replace("=", " ").replace(",", " ")])
    return "/".join(_NOT_IN_NAMES.sub("_", p) for p in parts)


def summary_metrics(runs: list[TrialRun], metrics: list[str]) -> dict[str, float]:
    """`<group>/<metric>/mean`, `/std` (sample std over seeds; 0 for one), `/n` (seeds) and, from 2 seeds on, the
    95% CI of the mean (`/ci_low`, `/ci_high`) of each metric the runs have."""
    values: dict[tuple[str, str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run.cell is None:
            continue
        label = setting_label(without_draw(run.cell.settings))
        for name in dict.fromkeys(metrics):
            value = run.metrics.get(name)
            if value is not None and math.isfinite(value):
                values[(run.cell.arm, label, name)][run.cell.seed].append(float(value))
    out = {}
    for (arm, setting, name), by_seed in values.items():
        d = describe([np.mean(draws) for _, draws in sorted(by_seed.items())])
        key = f"{group_name(arm, setting)}/{name}"
        out.update({f"{key}/mean": d.mean, f"{key}/std": d.std if d.n > 1 else 0.0, f"{key}/n": float(d.n)})
        if math.isfinite(d.low) and math.isfinite(d.high):
            out.update({f"{key}/ci_low": d.low, f"{key}/ci_high": d.high})
    return out
