"""How many seeds a study needs: per comparison of the engine, the seeds with which its paired test finds a
target effect (default +1.4 points, the SALT paper's XNLI claim) with 80% power at the level its family reads
it at, from the spread of the per-seed differences already seen; and what the seeds still missing cost.

Power is the paired t-test's, from the noncentral t (harness.stats.power.seeds_needed): with the observed SD s of
the per-seed differences, n seeds give the estimate a standard error s / sqrt(n) on n - 1 degrees of freedom,
and the level is alpha / m of the comparison's family (the family keeps its size as seeds are added). A rank
test is sized through its efficiency and cannot go below the seeds its smallest p needs. The SD is itself an
estimate from few seeds: a pilot of 3 seeds can be off by a factor of 2 (validation/CALIBRATION.md), so the
plan is a starting point, to be checked by the report of the finished study (its MDEs).

Cost: every (arm, setting) needs the most seeds any of its comparisons needs; each missing seed costs the
optimizer updates and the wall time its runs took here (a seed's mean), or, with a throughput of updates per
second on the machine to run on, updates / throughput.
"""
from __future__ import annotations

import math

import pandas as pd

from harness.cost import device_hours
from harness.report.format import CORRECTION_NAMES, finite, md_table, points, pvalue
from harness.report.model import Report
from harness.stats.power import Spread, power, seeds_needed
from harness.stats.registry import TESTS
from salt.metrics import AVG_TARGETS

PLAN_COLUMNS = ["comparison", "arm_a", "setting_a", "arm_b", "setting_b", "row", "kind", "seeds", "sd", "family_size",
                "level", "power_now", "seeds_needed", "note"]
COST_COLUMNS = ["arm", "setting", "seeds", "seeds_needed", "updates_per_seed", "hours_per_seed", "extra_updates",
                "extra_hours"]


def plan_frame(report: Report, effect: float, target: float = 0.8) -> pd.DataFrame:
    """One row per comparison and tested row (target languages and averages)."""
    out = []
    for t in report.tables:
        c = t.comparison
        for r in t.records():
            if r.kind == "source":
                continue
            entry = TESTS.get(r.test, report.options.entry)
            note, needed, now, sd = "", None, math.nan, math.nan
            if t.identical:
                note = "identical by construction: nothing to detect"
            elif not entry.paired or entry.level != "seed":
                note = f"{entry.name}: the plan sizes paired seed-level tests (run the report with --test t)"
            elif not (finite(r.se) and r.se > 0 and r.pairs >= 2):
                note = r.note or "no spread across seeds: cannot size"
            else:
                sd = r.se * math.sqrt(r.pairs)
                now = power(effect, Spread(r.se, r.df, int(r.pairs)), r.level, entry.efficiency)
                needed = seeds_needed(sd, effect, r.level, target, entry.efficiency, entry.min_p)
                if needed is None:
                    note = "more than 1,000 seeds"
            out.append({"comparison": c.label, "arm_a": c.a, "setting_a": c.setting_a, "arm_b": c.b,
                        "setting_b": c.setting_b, "row": r.row, "kind": r.kind, "seeds": int(r.pairs), "sd": sd,
                        "family_size": int(r.family_size), "level": r.level, "power_now": now,
                        "seeds_needed": needed, "note": note})
    frame = pd.DataFrame(out, columns=PLAN_COLUMNS)
    frame["seeds_needed"] = frame["seeds_needed"].astype("Int64")
    return frame


def cost_frame(report: Report, plan: pd.DataFrame, row: str = AVG_TARGETS,
               throughput: float | None = None) -> pd.DataFrame:
    """Per (arm, setting): the most seeds its comparisons need on `row`, and what the missing ones cost."""
    need: dict[tuple[str, str], int] = {}
    for r in plan[plan["row"] == row].itertuples():
        if pd.isna(r.seeds_needed):
            continue
        for side in ((r.arm_a, r.setting_a), (r.arm_b, r.setting_b)):
            need[side] = max(need.get(side, 0), int(r.seeds_needed))
    runs = report.scores.drop_duplicates(["arm", "setting", "seed"])
    out = []
    for (arm, setting), g in runs.groupby(["arm", "setting"], sort=False):
        if (arm, setting) not in need:
            continue
        updates, seconds = float(g["steps"].mean()), float(g["seconds"].mean())
        extra = max(0, need[(arm, setting)] - len(g))
        hours = device_hours(updates, throughput) if throughput else seconds / 3600
        out.append({"arm": arm, "setting": setting, "seeds": len(g), "seeds_needed": need[(arm, setting)],
                    "updates_per_seed": updates, "hours_per_seed": hours, "extra_updates": extra * updates,
                    "extra_hours": extra * hours})
    return pd.DataFrame(out, columns=COST_COLUMNS)


def render_plan(report: Report, plan: pd.DataFrame, cost: pd.DataFrame, effect: float, target: float,
                throughput: float | None = None) -> str:
    o = report.options
    rows = plan[plan["row"] == AVG_TARGETS]
    body = [[r.comparison, str(r.seeds), points(r.sd), f"{r.family_size} ({pvalue(r.level)})",
             f"{r.power_now:.2f}" if finite(r.power_now) else "—",
             "—" if pd.isna(r.seeds_needed) else str(int(r.seeds_needed)), r.note] for r in rows.itertuples()]
    per_lang = plan[plan["kind"] == "target"].groupby("comparison", sort=False)["seeds_needed"].max()
    for line in body:
        worst = per_lang.get(line[0])
        line.insert(6, "—" if worst is None or pd.isna(worst) else str(int(worst)))
    head = ["comparison", "seeds now", "SD of seed differences (points)", "family m (level)",
            f"power now for +{points(effect)}", f"seeds for +{points(effect)}", "seeds, every target language", "note"]
    where = (f"{throughput:g} updates/s (given)" if throughput else
             "the wall time its runs took where the study ran (a seed's mean)")
    cost_rows = [[r.arm, r.setting, str(r.seeds), str(r.seeds_needed), f"{r.updates_per_seed:,.0f}",
                  f"{r.hours_per_seed:.3f}", f"{r.extra_updates:,.0f}", f"{r.extra_hours:.2f}"]
                 for r in cost.itertuples()]
    total_u, total_h = cost["extra_updates"].sum(), cost["extra_hours"].sum()
    return "\n".join([
        f"# Seed plan: {report.study} (revision {report.revision})", "",
        f"Seeds for each comparison's {o.entry.label} to find a true difference of +{points(effect)} points on "
        f"the target average with {target:.0%} power, at the level its family reads it at ({CORRECTION_NAMES[o.correction]}, "
        f"family `{o.family}`, α = {o.alpha:g}: α/m), from the SD of the per-seed differences of the "
        f"{report.n_runs} finished runs. Noncentral t (harness.stats.power); an SD from few seeds is itself "
        "uncertain, so check the finished study's MDEs.", "",
        md_table(head, body), "",
        f"## What the missing seeds cost (cost per seed from {where})", "",
        md_table(["arm", "setting", "seeds now", "seeds needed", "updates per seed", "device-hours per seed",
                  "extra updates", "extra device-hours"], cost_rows) if cost_rows else "Nothing to add.", "",
        f"Total: {total_u:,.0f} more optimizer updates, {total_h:.2f} device-hours.", ""])
