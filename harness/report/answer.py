"""What the sample-count curves say: each strategy minus each of its controls at every N, the area under each
curve, and from which N the strategy is significantly ahead; every number from the comparison engine.

A strategy is an arm that augments and controls nothing (SALT); its controls are the arms registered as its
controls (random selection, random substitution) and the references (the baseline, the step-matched
baseline). Each point is the engine's comparison of the strategy at that N with the control's matching
setting (the tables' pairing: a reference without a count is the same score at every N, matched on any axis
of its own), so a point is the number the tables print. The family of one strategy-control pair is every N
and target language of it (averages apart), identical-by-construction points left out.

The area is taken over log(1 + N_eff) and divided by its width: the mean accuracy over the log-spaced range,
per seed, so it gets a CI over seeds and a paired test like any score. A pair's areas are taken on the same
grid for both arms (the Ns where both have that seed) and the strategy's N_eff; a seed missing a point of the
grid is left out of the area, and a footnote says so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.records import setting_label
from harness.report.analysis import ComparisonTable, Sides, analyse
from harness.report.collect import SAMPLES_KEY, arm_order
from harness.report.comparisons import Comparison
from harness.report.engine import Engine, strategy_pairs
from harness.report.families import correct, markable, significant
from harness.report.format import IDENTICAL
from harness.stats.effects import describe
from harness.stats.registry import TESTS

DIFF_COLUMNS = ["strategy", "control", "series", "setting_a", "setting_b", "row", "kind", "samples", "n_eff", "estimate", "low",
                "high", "p", "p_adj", "family_size", "level", "mde", "n", "significant", "ahead", "identical", "note"]
AUC_COLUMNS = ["arm", "series", "row", "mean", "low", "high", "n", "points", "note"]
AUC_DIFF_COLUMNS = ["strategy", "control", "series", "row", "kind", "estimate", "low", "high", "p", "p_adj",
                    "family_size", "level", "mde", "n", "points", "note"]
SMALLEST_COLUMNS = ["strategy", "control", "series", "row", "ahead_from", "ahead_from_n_eff", "first", "first_n_eff",
                    "tested", "note"]


@dataclass
class CurveAnswer:
    differences: pd.DataFrame  # DIFF_COLUMNS: strategy - control at each N, per row
    auc: pd.DataFrame  # AUC_COLUMNS: normalised area under each arm's curve, mean over seeds with its CI
    auc_differences: pd.DataFrame  # AUC_DIFF_COLUMNS: strategy - control areas on a common grid, paired by seed
    smallest: pd.DataFrame  # SMALLEST_COLUMNS: from which N significantly ahead at every N after, and the first N
    test: str  # the test's label
    interval: str  # the interval's name
    correction: str
    alpha: float
    power: float
    min_seeds: int  # seeds per arm a mark needs
    test_name: str = "t"  # the registry entry the curve ran
    tables: list[ComparisonTable] = field(default_factory=list)  # the curve's comparisons, in their families
    footnotes: list[str] = field(default_factory=list)  # seeds left out of an area, and why


def series_of(engine: Engine, arm: str, setting: str) -> str:
    """The setting without its count: what one curve holds fixed."""
    return setting_label([(k, v) for k, v in engine.typed.get((arm, setting), ()) if k != SAMPLES_KEY])


def answer(engine: Engine) -> CurveAnswer | None:
    """None when no arm has a samples-per-language curve."""
    scores = engine.scores
    if scores["samples"].dropna().empty:
        return None
    label = TESTS[engine.opts.test].label
    if engine.opts.example_level:
        label = f"{TESTS['t'].label} (the curves compare seeds; --test {engine.opts.test} is used in the tables)"
    engine = engine.seed_level()
    opts = engine.opts
    arms = arm_order(scores["arm"].unique())
    counted = set(scores.dropna(subset=["samples"])["arm"])
    raw = [engine.table(c) for s, c_arm in strategy_pairs(arms) if s in counted
           for c in engine.pairs(s, c_arm, strict=False)
           if engine.has_runs(c.a, c.setting_a) and engine.has_runs(c.b, c.setting_b)
           and not engine.sides.side(c.a, c.setting_a)["samples"].isna().all()]
    key = lambda t: (t.comparison.a, t.comparison.b, series_of(engine, t.comparison.a, t.comparison.setting_a))  # noqa
    tables = correct(raw, opts, key, lambda g: _curve_scope(g))
    differences = _differences(engine, tables)
    auc_tables, footnotes, auc_diff = _area_differences(engine, tables)
    return CurveAnswer(differences, _areas(engine), auc_diff, _smallest(differences, opts), label,
                       opts.entry.interval_name, opts.correction, opts.alpha, opts.power, opts.entry.min_seeds,
                       opts.test, tables, footnotes)


def _curve_scope(group: list[ComparisonTable]) -> str:
    c = group[0].comparison
    return f"{c.a} vs {c.b} over {len(group)} values of N"


def _differences(engine: Engine, tables: list[ComparisonTable]) -> pd.DataFrame:
    out = []
    for t in tables:
        c = t.comparison
        side = engine.sides.side(c.a, c.setting_a)
        samples, x = side["samples"].iat[0], float(side["x"].iat[0])
        n_eff = engine.sides.n_eff(c.a, c.setting_a)
        series = series_of(engine, c.a, c.setting_a)
        for r in t.records():
            sig = significant(r.p_adj, engine.opts.alpha) and markable(r, engine.opts)
            out.append({"strategy": c.a, "control": c.b, "series": series, "setting_a": c.setting_a,
                        "setting_b": c.setting_b, "row": r.row,
                        "kind": r.kind, "samples": samples, "n_eff": n_eff, "x": x, "estimate": r.diff,
                        "low": r.diff_low, "high": r.diff_high, "p": r.p, "p_adj": r.p_adj,
                        "family_size": r.family_size, "level": r.level, "mde": r.mde, "n": r.pairs,
                        "significant": sig, "ahead": sig and r.diff > 0, "identical": t.identical, "note": r.note})
    frame = pd.DataFrame(out, columns=[*DIFF_COLUMNS, "x"])
    return frame.sort_values(["strategy", "control", "series", "x"], kind="stable").reset_index(drop=True) \
        if len(frame) else frame


def normalised_area(n_eff: np.ndarray, score: np.ndarray) -> float:
    """Trapezoid area under score against log(1 + N_eff), divided by the range: a mean accuracy."""
    order = np.argsort(n_eff, kind="stable")
    u, y = np.log1p(np.asarray(n_eff, float)[order]), np.asarray(score, float)[order]
    if len(u) < 2 or u[-1] <= u[0]:
        return float(y.mean()) if len(y) else math.nan
    return float(np.trapezoid(y, u) / (u[-1] - u[0]))


def _areas(engine: Engine) -> pd.DataFrame:
    """Each arm's own curve: its area per seed over its full grid (a seed missing a point is left out, said),
    or, for an arm without a count, its score (one line per setting)."""
    scores, opts = engine.scores, engine.opts
    summary = []
    for arm in arm_order(scores["arm"].unique()):
        part = scores[scores["arm"] == arm]
        flat = part["samples"].isna().all()
        keys = ["setting", "lang"] if flat else ["series", "lang"]
        for (series, row), g in part.groupby(keys, sort=False):
            if row not in engine.rows:
                continue
            grid = set(g["samples"])
            values, left = [], []
            for seed, s in g.groupby("seed"):
                if flat:
                    values.append(float(s["score"].mean()))
                elif set(s["samples"]) == grid:
                    values.append(normalised_area(_x(s), s["score"].to_numpy()))
                else:
                    left.append(f"seed {seed} lacks N = {', '.join(sorted(map(str, grid - set(s['samples']))))}")
            d = describe(values, opts.confidence)
            note = "no count: its score at every N" if flat else "; ".join([d.note] * bool(d.note) + [
                f"{'; '.join(left)}: left out"] * bool(left))
            summary.append({"arm": arm, "series": series, "row": row, "mean": d.mean, "low": d.low, "high": d.high,
                            "n": d.n, "points": 1 if flat else len(grid), "note": note})
    return pd.DataFrame(summary, columns=AUC_COLUMNS)


def _x(points: pd.DataFrame) -> np.ndarray:
    """Where a run's point sits: the examples it really selected; without that record, its nominal N."""
    n = points["n_eff"].to_numpy(dtype=float)
    return np.where(np.isfinite(n), n, points["x"].to_numpy(dtype=float))


def _area_differences(engine: Engine, tables: list[ComparisonTable]):
    """Per strategy-control pair (and series): both arms' areas per seed on the grid common to the pair, then
    the engine's test of the paired areas, corrected over the pair's target languages (averages apart)."""
    groups: dict[tuple, list[ComparisonTable]] = {}
    for t in tables:  # identical points too: untested, they are still points of both curves
        c = t.comparison
        groups.setdefault((c.a, c.b, series_of(engine, c.a, c.setting_a)), []).append(t)
    auc_tables, footnotes, out = [], [], []
    for (strategy, control, series), group in groups.items():
        rows, left = [], set()
        for row in engine.rows:
            per_seed: dict[int, list] = {}
            for t in group:  # (columns read once as lists: a lookup per seed in a frame cost seconds at 5,000 runs)
                c = t.comparison
                a = engine.sides.lang(c.a, c.setting_a, row)
                b = engine.sides.series(c.b, c.setting_b, row)
                b_score = dict(zip(b.index.tolist(), b.tolist()))
                for seed, x, score in zip(a["seed"].tolist(), _x(a).tolist(), a["score"].tolist()):
                    if seed in b_score:
                        per_seed.setdefault(seed, []).append((x, float(score), float(b_score[seed])))
            for seed, pts in per_seed.items():
                if len(pts) < len(group):
                    left.add(seed)
                    continue
                xs, ya, yb = map(np.array, zip(*pts))
                rows += [(strategy, seed, row, normalised_area(xs, ya)), (control, seed, row, normalised_area(xs, yb))]
        if left:
            footnotes.append(f"{strategy} vs {control}{'' if series == '-' else f' [{series}]'}: seed(s) "
                             f"{', '.join(map(str, sorted(left)))} left out of the areas (no score at every N of the "
                             "pair's grid)")
        if not rows:
            continue
        frame = pd.DataFrame(rows, columns=["arm", "seed", "lang", "score"]).assign(
            setting=series, steps=math.nan, degenerate="", run_id="")
        comp = Comparison(strategy, control, series, series)
        auc_tables.append(analyse(comp, Sides(frame), engine.rows, engine.source, engine.opts))
    corrected = correct(auc_tables, engine.opts, lambda t: (t.comparison,), lambda g: "the areas of this pair")
    for t in corrected:
        c = t.comparison
        for r in t.records():
            out.append({"strategy": c.a, "control": c.b, "series": c.setting_a, "row": r.row, "kind": r.kind,
                        "estimate": r.diff, "low": r.diff_low, "high": r.diff_high, "p": r.p, "p_adj": r.p_adj,
                        "family_size": r.family_size, "level": r.level, "mde": r.mde, "n": r.pairs,
                        "points": len(groups[(c.a, c.b, c.setting_a)]), "note": r.note})
    return corrected, footnotes, pd.DataFrame(out, columns=AUC_DIFF_COLUMNS)


def _smallest(differences: pd.DataFrame, opts) -> pd.DataFrame:
    """Per pair and row: `ahead_from`, the smallest N from which the strategy is significantly ahead at every
    tested N after it (identical-by-construction points are not tested; a point with no test breaks the run),
    and `first`, the first N significantly ahead, named apart because it promises nothing about larger N."""
    out = []
    for (strategy, control, series, row), g in differences.groupby(["strategy", "control", "series", "row"],
                                                                  sort=False):
        g = g[~g["identical"]].sort_values("x", kind="stable")
        ahead = g["ahead"].to_numpy(bool)
        start = len(ahead)
        while start > 0 and ahead[start - 1]:
            start -= 1
        frm = g.iloc[start] if start < len(ahead) else None
        hits = g[g["ahead"]]
        first = hits.iloc[0] if len(hits) else None
        notes = []
        same = differences[(differences["strategy"] == strategy) & (differences["control"] == control)
                           & (differences["series"] == series) & (differences["row"] == row) & differences["identical"]]
        if len(same):
            notes.append(f"N = {', '.join(map(str, same['samples']))}: {IDENTICAL}, not tested")
        out.append({"strategy": strategy, "control": control, "series": series, "row": row,
                    "ahead_from": None if frm is None else frm["samples"],
                    "ahead_from_n_eff": math.nan if frm is None else float(frm["n_eff"]),
                    "first": None if first is None else first["samples"],
                    "first_n_eff": math.nan if first is None else float(first["n_eff"]),
                    "tested": int(np.isfinite(g["p"].to_numpy(float)).sum()), "note": "; ".join(notes)})
    frame = pd.DataFrame(out, columns=SMALLEST_COLUMNS)
    for col in ("ahead_from", "first"):  # None stays None, not NaN
        frame[col] = pd.Series([o[col] for o in out], dtype=object)
    return frame
