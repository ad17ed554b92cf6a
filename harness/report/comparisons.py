"""Which pairs of (arm, setting) a report compares.

Default: every non-baseline arm against the baseline, setting by setting, plus SALT against each of its
controls (random-selection, random-substitution, equal-steps) at the settings they share. The baseline has
no augmentation axes, so a setting is matched to the baseline on the axes the baseline has (usually none).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.report.collect import NO_SETTING, arm_order

CONTROLS = ("random-selection", "random-substitution", "equal-steps")


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    setting_a: str = NO_SETTING
    setting_b: str = NO_SETTING

    @property
    def label(self) -> str:
        return f"{_name(self.a, self.setting_a)} vs {_name(self.b, self.setting_b)}"


def _name(arm: str, setting: str) -> str:
    return arm if setting == NO_SETTING else f"{arm} [{setting}]"


def _items(setting: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in setting.split(",") if "=" in kv)


def match_setting(setting: str, candidates: list[str]) -> str | None:
    """The candidate that agrees with `setting` on every axis the candidate has (None if none or several)."""
    if setting in candidates:
        return setting
    want = _items(setting)
    hits = [c for c in candidates if all(want.get(k) == v for k, v in _items(c).items())]
    return hits[0] if len(hits) == 1 else None


def settings(scores: pd.DataFrame) -> dict[str, list[str]]:
    """arm -> its settings, in first-seen order (the study's axis order)."""
    out: dict[str, list[str]] = {}
    for arm, setting in scores[["arm", "setting"]].drop_duplicates().itertuples(index=False):
        out.setdefault(arm, []).append(setting)
    return {arm: out[arm] for arm in arm_order(out)}


def pairs(scores: pd.DataFrame, a: str, b: str) -> list[Comparison]:
    """A against B at each of A's settings (`arm:setting` fixes one); missing arms still give one comparison."""
    per_arm = settings(scores)
    a, fixed_a = (a.split(":", 1) + [None])[:2]
    b, fixed_b = (b.split(":", 1) + [None])[:2]
    if a == b and fixed_a is None:
        raise ValueError(f"--compare {a} {a}: name two different arms (or arm:setting pairs)")
    out = []
    for sa in ([fixed_a] if fixed_a else per_arm.get(a, [NO_SETTING])):
        sb = fixed_b or match_setting(sa, per_arm.get(b, [])) or (per_arm.get(b) or [NO_SETTING])[0]
        if (a, sa) != (b, sb):
            out.append(Comparison(a, b, sa, sb))
    return out


def default_comparisons(scores: pd.DataFrame, declared: list[str] | None = None) -> list[Comparison]:
    """`declared`: the study's arms; one without finished runs still gets a comparison (its table says so)."""
    per_arm = settings(scores)
    arms = arm_order([*per_arm, *(declared or [])])
    out: list[Comparison] = []
    if "baseline" in arms:
        for arm in arms:
            if arm != "baseline":
                out += pairs(scores, arm, "baseline")
    if "salt" in arms:
        for control in CONTROLS:
            if control not in arms:
                continue
            if control not in per_arm or "salt" not in per_arm:
                out += pairs(scores, "salt", control)  # the tables say which arm has no runs
                continue
            out += [c for c in pairs(scores, "salt", control) if c.setting_b in per_arm[control]
                    and match_setting(c.setting_a, [c.setting_b]) is not None]
    if not out:
        raise ValueError(f"no default comparison for arms {', '.join(arms)} (it needs a baseline, or salt and "
                         "a control): name the pairs with --compare ARM_A ARM_B")
    return out
