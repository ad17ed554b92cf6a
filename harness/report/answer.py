"""What the sample-count curves say: each strategy minus each of its controls at every N, the area under
each curve, and the smallest N from which the strategy is significantly ahead.

A strategy is an arm that augments and controls nothing (SALT); its controls are the arms registered as
its controls (random selection, random substitution) and the references (the baseline, the step-matched
baseline). Differences are paired by seed at the same N (a reference without a count is the same score at
every N). The p-values of one strategy-control pair are corrected together over every N and language (the
averages a family of their own, as in the tables), so "significant from N = 200" survives looking at the
whole curve. The area is taken over log(1 + N_eff) and divided by its width: the mean accuracy over the
log-spaced range, per seed, so it gets a CI over seeds and a paired test like any score.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from harness.report.analysis import INTERVALS, Options, Sides
from harness.report.collect import AVERAGES, arm_order
from harness.stats import multiple, seeds
from harness.stats.effects import describe
from salt.arms import ARMS

DIFF_COLUMNS = ["strategy", "control", "series", "row", "samples", "n_eff", "estimate", "low", "high", "p", "p_adj",
                "significant", "n", "note"]
AUC_COLUMNS = ["arm", "series", "row", "mean", "low", "high", "n", "points", "note"]
AUC_DIFF_COLUMNS = ["strategy", "control", "series", "row", "estimate", "low", "high", "p", "n", "note"]
SMALLEST_COLUMNS = ["strategy", "control", "series", "row", "samples", "n_eff"]


@dataclass
class CurveAnswer:
    differences: pd.DataFrame  # DIFF_COLUMNS: strategy - control at each N, per row
    auc: pd.DataFrame  # AUC_COLUMNS: normalised area under each arm's curve, mean over seeds with its CI
    auc_differences: pd.DataFrame  # AUC_DIFF_COLUMNS: strategy - control areas, paired by seed
    smallest: pd.DataFrame  # SMALLEST_COLUMNS: the smallest N significantly ahead (samples None: none)
    test: str  # the test's label
    interval: str  # the interval's name
    correction: str
    alpha: float


def strategy_pairs(arms: list[str]) -> list[tuple[str, str]]:
    """(strategy, control) for every strategy in `arms` and every control or reference of it present."""
    out = []
    for s in arms:
        arm = ARMS.get(s)
        if arm is None or not arm.augments or arm.reference or arm.controls is not None:
            continue
        controls = [a for a in arms if a in ARMS and (ARMS[a].controls == s or ARMS[a].reference)]
        out += [(s, c) for c in controls]
    return out


def _per_seed(part: pd.DataFrame) -> pd.Series:
    return part.set_index("seed")["score"].sort_index()  # in seed order, as the tables' (Sides.series)


def answer(scores: pd.DataFrame, rows: list[str], opts: Options, sides: Sides | None = None) -> CurveAnswer | None:
    """None when no arm has a samples-per-language curve. `sides`: the tables' (`build_report`), whose tests of
    the same pairs are reused."""
    curves = scores.dropna(subset=["samples"])
    if curves.empty:
        return None
    label = seeds.LABELS.get(opts.test, opts.test)
    if opts.example_level:  # curve points and areas are compared over seeds: no examples to resample
        label = f"{seeds.LABELS['t']} (the curves compare seeds; --test {opts.test} is used in the tables)"
        opts = replace(opts, test="t")
    arms = arm_order(scores["arm"].unique())
    # grouped once: a curve of hundreds of counts filtered per point was most of `report`'s time
    points = {k: (g, _per_seed(g)) for k, g in curves.groupby(["arm", "series", "samples", "lang"], sort=False)}
    flats = {k: (g, _per_seed(g)) for k, g in scores[scores["samples"].isna()].groupby(["arm", "lang"], sort=False)}
    counted = set(curves["arm"])
    sides = sides or Sides(scores.iloc[:0])
    diffs = []
    for strategy, control in strategy_pairs(arms):
        flat = control not in counted  # a reference with no count: one score per seed for every N
        for series, samples in curves.loc[curves["arm"] == strategy, ["series", "samples"]].drop_duplicates(
                ).itertuples(index=False):
            for row in rows:
                a, sa = points.get((strategy, series, samples, row), (None, None))
                b, sb = flats.get((control, row), (None, None)) if flat else points.get(
                    (control, series, samples, row), (None, None))
                if a is None or b is None or a.empty or b.empty:
                    continue
                res = sides.compare(sa, sb, (strategy, control), opts)
                ci = res if math.isfinite(res.ci_low) else sides.compare(sa, sb, (strategy, control), opts, "t")
                diffs.append({"strategy": strategy, "control": control, "series": series, "row": row,
                              "samples": samples, "n_eff": float(a["n_eff"].mean()), "x": float(a["x"].iloc[0]),
                              "estimate": res.estimate, "low": ci.ci_low, "high": ci.ci_high, "p": res.pvalue,
                              "n": res.n, "note": res.note})
    differences = pd.DataFrame(diffs, columns=[*DIFF_COLUMNS, "x"])
    if not differences.empty:
        differences["p_adj"] = np.nan
        kind = differences["row"].isin(AVERAGES)
        for _, idx in differences.groupby([differences["strategy"], differences["control"], differences["series"],
                                           kind], sort=False).groups.items():
            differences.loc[idx, "p_adj"] = multiple.adjust(differences.loc[idx, "p"].to_numpy(), opts.correction)
        differences["significant"] = (differences["p_adj"] < opts.alpha) & (differences["estimate"] > 0)
    auc, per_seed_auc = _areas(scores, rows, opts)
    return CurveAnswer(differences[DIFF_COLUMNS] if not differences.empty else differences.reindex(columns=DIFF_COLUMNS),
                       auc, _area_differences(per_seed_auc, arms, rows, opts), _smallest(differences),
                       label, INTERVALS.get(opts.test, "paired t"), opts.correction,
                       opts.alpha)


def normalised_area(n_eff: np.ndarray, score: np.ndarray) -> float:
    """Trapezoid area under score against log(1 + N_eff), divided by the range: a mean accuracy."""
    order = np.argsort(n_eff, kind="stable")
    u, y = np.log1p(np.asarray(n_eff, float)[order]), np.asarray(score, float)[order]
    if len(u) < 2 or u[-1] <= u[0]:
        return float(y.mean()) if len(y) else math.nan
    return float(np.trapezoid(y, u) / (u[-1] - u[0]))


def _areas(scores: pd.DataFrame, rows: list[str], opts: Options) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_seed, summary = [], []
    for arm in arm_order(scores["arm"].unique()):
        part = scores[scores["arm"] == arm]
        flat = part["samples"].isna().all()
        for (series, row), g in part.groupby(["series", "lang"], sort=False):
            if row not in rows:
                continue
            values = {}
            for seed, s in g.groupby("seed"):
                values[seed] = float(s["score"].mean()) if flat else normalised_area(s["n_eff"].to_numpy(),
                                                                                    s["score"].to_numpy())
                per_seed.append({"arm": arm, "series": series, "row": row, "seed": seed, "auc": values[seed]})
            d = describe(list(values.values()), opts.confidence)
            points = 1 if flat else g["samples"].nunique()
            summary.append({"arm": arm, "series": series, "row": row, "mean": d.mean, "low": d.low, "high": d.high,
                            "n": d.n, "points": points, "note": "no count: its score at every N" if flat else d.note})
    return pd.DataFrame(summary, columns=AUC_COLUMNS), pd.DataFrame(per_seed,
                                                                    columns=["arm", "series", "row", "seed", "auc"])


def _area_differences(per_seed: pd.DataFrame, arms: list[str], rows: list[str], opts: Options) -> pd.DataFrame:
    out = []
    for strategy, control in strategy_pairs(arms):
        mine, other = per_seed[per_seed["arm"] == strategy], per_seed[per_seed["arm"] == control]
        for (series, row), a in mine.groupby(["series", "row"], sort=False):
            b = other[(other["row"] == row) & ((other["series"] == series) | (other["series"] == "-"))]
            if b.empty:
                continue
            res = seeds.compare_seeds(a.set_index("seed")["auc"], b.set_index("seed")["auc"], opts.test,
                                      opts.confidence, opts.n_resamples, opts.seed, (strategy, control))
            ci = res if math.isfinite(res.ci_low) else seeds.compare_seeds(
                a.set_index("seed")["auc"], b.set_index("seed")["auc"], "t", opts.confidence)
            out.append({"strategy": strategy, "control": control, "series": series, "row": row,
                        "estimate": res.estimate, "low": ci.ci_low, "high": ci.ci_high, "p": res.pvalue, "n": res.n,
                        "note": res.note})
    return pd.DataFrame(out, columns=AUC_DIFF_COLUMNS)


def _smallest(differences: pd.DataFrame) -> pd.DataFrame:
    out = []
    if differences.empty:
        return pd.DataFrame(columns=SMALLEST_COLUMNS)
    for (strategy, control, series, row), g in differences.groupby(["strategy", "control", "series", "row"],
                                                                  sort=False):
        hits = g[g["significant"]].sort_values("x")
        first = hits.iloc[0] if len(hits) else None
        out.append({"strategy": strategy, "control": control, "series": series, "row": row,
                    "samples": None if first is None else first["samples"],
                    "n_eff": math.nan if first is None else float(first["n_eff"])})
    frame = pd.DataFrame(out, columns=SMALLEST_COLUMNS)
    frame["samples"] = pd.Series([o["samples"] for o in out], dtype=object)  # None stays None, not NaN
    return frame
