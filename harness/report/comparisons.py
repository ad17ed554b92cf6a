"""Which pairs of (arm, setting) a report compares, from the arm registry.

Default: every arm against each reference arm (the baseline), setting by setting, then each arm against
the controls registered for it (salt vs random-selection, random-substitution, equal-steps) at the
settings they share. Settings are matched on the axes both arms have: an arm that ignores an axis (the
baseline ignores augmentation, equal-steps ignores mixup) is matched on the ones it has, and a control with
an axis of its own (a baseline run with two schedules) is matched on it. Tables and curves pair through this
one rule (`harness.report.engine`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.records import NO_SETTING
from harness.report.collect import arm_order
from salt.arms import ARMS
from salt.config import ConfigError, parse_value

Typed = dict[tuple[str, str], tuple]  # (arm, setting label) -> settings ((key, value), ...)


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    setting_a: str = NO_SETTING  # setting labels: the keys of the scores frame
    setting_b: str = NO_SETTING

    @property
    def label(self) -> str:
        return f"{_name(self.a, self.setting_a)} vs {_name(self.b, self.setting_b)}"


def _name(arm: str, setting: str) -> str:
    return arm if setting == NO_SETTING else f"{arm} [{setting}]"


def settings(scores: pd.DataFrame) -> dict[str, list[str]]:
    """arm -> its setting labels, in first-seen order."""
    out: dict[str, list[str]] = {}
    for arm, setting in scores[["arm", "setting"]].drop_duplicates().itertuples(index=False):
        out.setdefault(arm, []).append(setting)
    return {arm: out[arm] for arm in arm_order(out)}


class AmbiguousMatch(ValueError):
    """Several settings of a control match one of the compared arm's: pairing them would pool them."""


def _agrees(want: dict[str, Any], candidate: tuple) -> bool:
    return all(want[k] == v for k, v in candidate if k in want)


def match_setting(arm_a: str, label_a: str, arm_b: str, per_arm: dict[str, list[str]], typed: Typed) -> str | None:
    """B's setting that agrees with A's on every axis both arms have; None when none does. Several that do
    (B varies an axis A lacks) is an `AmbiguousMatch` naming them: pooling them would pair a seed twice."""
    candidates = per_arm.get(arm_b, [])
    want = dict(typed.get((arm_a, label_a), ()))
    hits = [c for c in candidates if _agrees(want, typed.get((arm_b, c), ()))]
    if len(hits) > 1:
        raise AmbiguousMatch(
            f"{_name(arm_a, label_a)} matches {len(hits)} settings of {arm_b} ({'; '.join(hits)}): {arm_b} varies an "
            f"axis {arm_a} does not have, so no one of them is its control; name the pairs: --compare "
            f"{arm_a}{'' if label_a == NO_SETTING else ':' + label_a} {arm_b}:<setting>")
    return hits[0] if hits else None


def _fixed(arm: str, text: str, per_arm: dict[str, list[str]], typed: Typed) -> list[str]:
    """A's settings that match `k=v,...` from `--compare arm:k=v` (k: a setting's full or last name)."""
    want: dict[str, Any] = {}
    known = {k for label in per_arm.get(arm, []) for k, _ in typed.get((arm, label), ())}
    for item in filter(None, text.split(",")):
        key, sep, raw = item.partition("=")
        hits = [k for k in known if k == key or k.rsplit(".", 1)[-1] == key]
        if not sep or len(hits) != 1:
            raise ValueError(f"--compare {arm}:{text}: {key!r} is not one of {arm}'s settings "
                             f"({', '.join(sorted(known)) or 'it has none'}); write arm:setting=value")
        try:
            want[hits[0]] = parse_value(hits[0], raw, text=True)
        except ConfigError as err:
            raise ValueError(f"--compare {arm}:{text}: {err}") from None
    found = [label for label in per_arm.get(arm, []) if all(v == dict(typed[(arm, label)]).get(k) for k, v in want.items())]
    if not found:
        have = ", ".join(per_arm.get(arm, [])) or "none (no finished runs)"
        raise ValueError(f"--compare {arm}:{text}: no finished run of {arm} has that setting; its settings: {have}")
    return found


def named_pairs(scores: pd.DataFrame, typed: Typed, compare: list[tuple[str, str]],
                declared: list[str] | None = None) -> list[Comparison]:
    """The comparisons `--compare A B` names. Each arm must be one of the study's (`declared`) and have
    finished runs: a table of an arm that is not there would only say so, and the report would look done."""
    per_arm = settings(scores)
    known = list(declared or per_arm)
    for a, b in compare:
        for arm in (a.partition(":")[0], b.partition(":")[0]):
            if arm not in known:
                raise ValueError(f"--compare {a} {b}: unknown arm {arm!r}: not one of this study's arms "
                                 f"({', '.join(known)})")
            if arm not in per_arm:
                raise ValueError(f"--compare {a} {b}: arm {arm!r} has no finished run in this revision yet: run the "
                                 "study to completion (`salt-harness status STUDY` shows what is missing) or compare "
                                 f"arms that have runs: {', '.join(per_arm) or 'none yet'}")
    return [c for a, b in compare for c in pairs(scores, typed, a, b)]


def pairs(scores: pd.DataFrame, typed: Typed, a: str, b: str, strict: bool = True) -> list[Comparison]:
    """A against B at each of A's settings (`arm:k=v` fixes some); an arm without runs still gives one
    comparison, whose table says so. `strict`: a B with runs but no matching setting is an error."""
    per_arm = settings(scores)
    a, _, fixed_a = a.partition(":")
    b, _, fixed_b = b.partition(":")
    for arm in (a, b):
        if arm not in per_arm and arm not in ARMS:
            raise ValueError(f"--compare: unknown arm {arm!r}; the study's arms: {', '.join(per_arm)}")
    if a == b and not fixed_a and not fixed_b:
        raise ValueError(f"--compare {a} {a}: name two different arms (or arm:setting pairs)")
    out = []
    for sa in (_fixed(a, fixed_a, per_arm, typed) if fixed_a else per_arm.get(a, [NO_SETTING])):
        if fixed_b:
            targets = _fixed(b, fixed_b, per_arm, typed)
        elif b not in per_arm:
            targets = [NO_SETTING]
        else:
            hit = match_setting(a, sa, b, per_arm, typed)
            if hit is None:
                if strict:
                    raise ValueError(f"no setting of {b} matches {_name(a, sa)} ({b} has: {', '.join(per_arm[b])}); "
                                     f"name it: --compare {a}:... {b}:...")
                continue
            targets = [hit]
        out += [Comparison(a, b, sa, sb) for sb in targets if (a, sa) != (b, sb)]
    return out


def default_comparisons(scores: pd.DataFrame, typed: Typed, declared: list[str] | None = None) -> list[Comparison]:
    """Every arm against its reference, then each arm against the controls registered for it.

    An augmented arm takes more updates than the plain baseline (one epoch covers its augmented rows too),
    so when the study has a step-matched reference (equal-steps) the augmented arms are compared against
    it, and it against the plain baseline (what more updates alone do). `declared`: the study's arms; one
    without finished runs still gets its comparison (its table says so).
    """
    arms = arm_order([*settings(scores), *(declared or [])])
    info = {a: ARMS.get(a) for a in arms}
    references = [a for a in arms if info[a] and info[a].reference]
    matched = [a for a in references if info[a].step_matched]
    plain = [a for a in references if not info[a].step_matched]
    out: list[Comparison] = []
    for arm in arms:
        if arm in references:
            continue
        against = matched if matched and (info[arm] is None or info[arm].augments) else plain or matched
        for ref in against:
            out += pairs(scores, typed, arm, ref, strict=False)
    for ref in matched:
        for base in plain:
            out += pairs(scores, typed, ref, base, strict=False)
    for control in arms:
        target = info[control].controls if info[control] else None
        if target in arms:
            out += pairs(scores, typed, target, control, strict=False)
    if not out:
        raise ValueError(f"no default comparison for arms {', '.join(arms)} (it needs a reference arm such as the "
                         "baseline, or an arm and its control): name the pairs with --compare ARM_A ARM_B")
    return out
