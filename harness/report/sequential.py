"""Sequential seeds in a study: after each round, which comparisons the group-sequential rule has decided,
and the cells of the next seeds for those it has not (`seeds: {min, max, step, until: decided}`).

The rule is harness.stats.sequential's (pre-declared looks, a Pocock-type nominal level, Bonferroni over the
family). Its family is every target-language test of the comparisons the report makes by default (the
tables'), identical-by-construction ones aside: m is their count, fixed before the first look, so the
family-wise error stays at alpha whatever is added later. A comparison is decided when each of its target
languages is (significant at some look, or not significant at `max`); the report then marks by these
decisions, not by the p-values of the last look, which the looks would make optimistic.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report.analysis import ComparisonTable
from harness.report.comparisons import Comparison
from harness.report.format import md_table, pvalue
from harness.report.model import Report

DECISION_COLUMNS = ["comparison", "row", "seeds", "decision", "p", "nominal", "family_size", "note"]


def monitored(report: Report) -> list[ComparisonTable]:
    return [t for t in report.tables if not t.identical]


def decisions(report: Report, design) -> pd.DataFrame:
    """Per monitored comparison and target language: the rule's decision on the seeds recorded so far."""
    tables = monitored(report)
    m = sum(int((t.rows["kind"] == "target").sum()) for t in tables)
    out = []
    sides = report.scores.groupby(["arm", "setting", "lang"], sort=False)
    series = {k: g.set_index("seed")["score"] for k, g in sides}
    for t in tables:
        c = t.comparison
        for row in t.rows.loc[t.rows["kind"] == "target", "row"]:
            a, b = series.get((c.a, c.setting_a, row)), series.get((c.b, c.setting_b, row))
            if a is None or b is None:
                out.append({"comparison": c.label, "row": row, "seeds": 0, "decision": "undecided", "p": math.nan,
                            "nominal": design.nominal(m), "family_size": m, "note": "no runs yet"})
                continue
            common = sorted(a.index.intersection(b.index))
            d = np.round(a.loc[common].to_numpy() - b.loc[common].to_numpy(), 9)
            res = design.evaluate(d[:design.max_seeds], m)
            out.append({"comparison": c.label, "row": row, "seeds": len(common), "decision": res.decision,
                        "p": res.p, "nominal": res.nominal, "family_size": m, "note": res.note})
    return pd.DataFrame(out, columns=DECISION_COLUMNS)


def next_seeds(report: Report, design, seeds: tuple[int, ...]) -> dict[tuple[str, str], list[int]]:
    """(arm, setting) -> the seeds its cells need next: those up to the next look of every comparison of it
    still undecided."""
    frame = decisions(report, design)
    undecided = set(frame.loc[frame["decision"] == "undecided", "comparison"])
    need: dict[tuple[str, str], set[int]] = {}
    for t in monitored(report):
        if t.comparison.label not in undecided:
            continue
        have = int(frame.loc[frame["comparison"] == t.comparison.label, "seeds"].min())
        later = [n for n in design.looks if n > have]
        if not later:
            continue
        add = set(seeds[have:later[0]])
        for side in ((t.comparison.a, t.comparison.setting_a), (t.comparison.b, t.comparison.setting_b)):
            need.setdefault(side, set()).update(add)
    return {side: sorted(s) for side, s in need.items()}


def apply(report: Report, design) -> pd.DataFrame:
    """Marks by the rule's decisions (tables and curve points of the same comparisons), the rule named in every
    monitored table's family; returns the decisions."""
    frame = decisions(report, design)
    m = int(frame["family_size"].max()) if len(frame) else 0
    rule = design.describe(m)
    decided = {(r.comparison, r.row): r for r in frame.itertuples()}
    for t in monitored(report):
        t.rows["mark"] = ["*" if (d := decided.get((t.comparison.label, r))) is not None
                          and d.decision == "significant" else "" for r in t.rows["row"]]
        t.family = (f"{rule} Marks follow the rule; p and p_adj are those of the last look, which the looks make "
                    "optimistic.")
    if report.answer is not None:
        d = report.answer.differences
        labels = [Comparison(a, b, sa, sb).label for a, b, sa, sb in
                  zip(d["strategy"], d["control"], d["setting_a"], d["setting_b"])]
        hits = [decided.get((lab, row)) for lab, row in zip(labels, d["row"])]
        d["significant"] = [h is not None and h.decision == "significant" for h in hits]
        d["ahead"] = d["significant"] & (d["estimate"] > 0)
        d["note"] = [n if h is not None or k != "target" else "; ".join(x for x in (n, "not monitored by the "
                     "sequential rule: no mark") if x) for n, h, k in zip(d["note"], hits, d["kind"])]
    return frame


def render(frame: pd.DataFrame, design) -> list[str]:
    m = int(frame["family_size"].max()) if len(frame) else 0
    body = [[r.comparison, r.row, str(r.seeds), r.decision, pvalue(r.p), r.note] for r in frame.itertuples()]
    seeds = frame.groupby("comparison", sort=False)["seeds"].min()
    return ["## Sequential seeds", "", design.describe(m), "",
            f"Seeds used per comparison: {', '.join(f'{k}: {v}' for k, v in seeds.items())}.", "",
            md_table(["comparison", "language", "seeds", "decision", "p at that look", "note"], body), ""]
