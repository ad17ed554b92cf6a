"""One comparison, every language: summaries, effect, test, correction, ASO, marks and notes.

The Holm (or BH) family is the target languages: the cross-lingual hypotheses the study is about. The
source language and the two averages are single, separately stated hypotheses: their adjusted p-value is
left empty and their mark uses the raw p-value. ASO's level is Bonferroni-adjusted over the number of
comparisons in the report (Dror et al. 2019).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from harness.report.collect import AVG, AVG_TARGETS, AVERAGES
from harness.report.comparisons import Comparison
from harness.stats import examples, multiple, seeds
from harness.stats.aso import TAU, aso
from harness.stats.effects import describe, mean_difference
from harness.stats.result import missing

# Under A/A, ASO (tau 0.2, alpha 0.05) declares dominance in 11% of studies with 3 seeds per arm, 6% with 5
# and 3.5% with 10 (validation/CALIBRATION.md): below this many seeds the table says so.
ASO_MIN_SEEDS = 5
TESTS = (*seeds.TESTS, *examples.EXAMPLE_TESTS)
LABELS = {**seeds.LABELS, **examples.LABELS}


@dataclass(frozen=True)
class Options:
    split: str = "test"
    test: str = "t"  # paired t over seeds: seeds are the replication unit; see harness.stats.seeds
    alpha: float = 0.05
    correction: str = "holm"
    confidence: float = 0.95
    n_resamples: int = 9999
    aso_bootstrap: int = 1000
    aso_tau: float = TAU
    conjunction: str = "bonferroni"
    seed: int = 0

    def __post_init__(self):
        if self.test not in TESTS:
            raise ValueError(f"unknown test {self.test!r}; choose one of {', '.join(TESTS)}")
        if self.correction not in multiple.CORRECTIONS:
            raise ValueError(f"unknown correction {self.correction!r}; choose one of {', '.join(multiple.CORRECTIONS)}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.split not in ("test", "dev"):
            raise ValueError(f"split must be test or dev, got {self.split!r}")

    @property
    def example_level(self) -> bool:
        return self.test in examples.EXAMPLE_TESTS


ROW_COLUMNS = ["row", "kind", "a_mean", "a_std", "a_n", "b_mean", "b_std", "b_n", "diff", "diff_low", "diff_high",
               "ci", "boot_low", "boot_high", "test", "p", "p_adj", "eps_min", "eps_min_reverse", "mark", "note"]


@dataclass
class ComparisonTable:
    comparison: Comparison
    rows: pd.DataFrame  # ROW_COLUMNS, one per language then the averages
    options: Options
    aso_alpha: float
    conjunction: multiple.PartialConjunction | None = None
    notes: list[str] = field(default_factory=list)  # notes shared by every row, hoisted out of the table
    updates: tuple[float, float] = (math.nan, math.nan)  # mean optimizer updates of A and B
    degenerate: list[str] = field(default_factory=list)  # cells whose augmentation fell short, named

    @property
    def step_matched(self) -> bool | None:
        a, b = self.updates
        return None if not (math.isfinite(a) and math.isfinite(b)) else abs(a - b) <= 0.01 * max(a, b)


PredictionsFor = Callable[[str], pd.DataFrame]  # run id -> per-example predictions


def _series(frame: pd.DataFrame) -> pd.Series:
    return frame.set_index("seed")["score"].sort_index()


def _kind(row: str, source: str | None) -> str:
    if row in AVERAGES:
        return "average"
    return "source" if row == source else "target"


def _example_test(a: pd.DataFrame, b: pd.DataFrame, row: str, langs: list[str],
                  source: str | None, predictions: PredictionsFor, opts: Options):
    if row == AVG:
        used = langs
    elif row == AVG_TARGETS:
        used = [l for l in langs if l != source]
    else:
        used = [row]
    runs_a = {s: predictions(r) for s, r in a.groupby("seed")["run_id"].first().items()}
    runs_b = {s: predictions(r) for s, r in b.groupby("seed")["run_id"].first().items()}
    pairs = examples.paired_examples(runs_a, runs_b, opts.split, used)
    return examples.compare_examples(pairs, opts.test, opts.n_resamples, opts.seed, opts.confidence)


def analyse(comp: Comparison, scores: pd.DataFrame, rows: list[str], source: str | None, opts: Options,
            n_comparisons: int = 1, predictions: PredictionsFor | None = None) -> ComparisonTable:
    """The table of one comparison, from the long `scores` frame of `harness.report.collect.scores`."""
    if opts.example_level and predictions is None:
        raise ValueError(f"--test {opts.test} needs per-example predictions")
    side_a = scores[(scores["arm"] == comp.a) & (scores["setting"] == comp.setting_a)]
    side_b = scores[(scores["arm"] == comp.b) & (scores["setting"] == comp.setting_b)]
    langs = [r for r in rows if r not in AVERAGES]
    aso_alpha = opts.alpha / max(1, n_comparisons)
    out = []
    for row in rows:
        a, b = side_a[side_a["lang"] == row], side_b[side_b["lang"] == row]
        sa, sb = _series(a), _series(b)
        da, db = describe(sa.to_numpy(), opts.confidence), describe(sb.to_numpy(), opts.confidence)
        notes = []
        for frame, arm, setting in ((side_a, comp.a, comp.setting_a), (side_b, comp.b, comp.setting_b)):
            if frame.empty:
                notes.append(f"no finished runs for {arm}" + ("" if setting == "-" else f" [{setting}]"))
        if not notes:
            for s, arm in ((sa, comp.a), (sb, comp.b)):
                if s.empty:
                    notes.append(f"no {opts.split}_acc_{row} for {arm}")
        effect = mean_difference(sa, sb, opts.confidence, opts.n_resamples, opts.seed)
        if notes:
            res = missing(opts.test, "; ".join(notes))
            notes = []
        elif opts.example_level:
            res = _example_test(a, b, row, langs, source, predictions, opts)
        else:
            res = seeds.compare_seeds(sa, sb, opts.test, opts.confidence, opts.n_resamples, opts.seed,
                                      names=(comp.a, comp.b))
        if res.note:
            notes.append(res.note)
        if res.ok and seeds.min_attainable_p(res.test, res.n) > opts.alpha:
            notes.append(f"with {res.n} seeds {res.test} cannot give p < {seeds.min_attainable_p(res.test, res.n):.3g}")
        dom = aso(sa.to_numpy(), sb.to_numpy(), opts.alpha, n_comparisons, opts.aso_bootstrap, opts.seed)
        if not dom.ok and res.ok:  # when the test itself failed, its note already says why
            notes.append(f"ASO: {dom.note}")
        elif dom.ok and min(dom.n_a, dom.n_b) < ASO_MIN_SEEDS:
            notes.append(f"ASO on {min(dom.n_a, dom.n_b)} seeds is unreliable")
        out.append({"row": row, "kind": _kind(row, source), "a_mean": da.mean, "a_std": da.std, "a_n": da.n,
                    "b_mean": db.mean, "b_std": db.std, "b_n": db.n, "diff": effect.estimate,
                    **_interval(res, effect), "boot_low": effect.low, "boot_high": effect.high,
                    "test": res.test, "p": res.pvalue,
                    "p_adj": math.nan, "eps_min": dom.eps_min, "eps_min_reverse": dom.eps_min_reverse,
                    "mark": "", "note": "; ".join(dict.fromkeys(n for n in notes if n))})
    frame = pd.DataFrame(out, columns=ROW_COLUMNS)
    family = frame["kind"] == "target"
    frame.loc[family, "p_adj"] = multiple.adjust(frame.loc[family, "p"].to_numpy(), opts.correction)
    frame["mark"] = [mark(r, opts) for r in frame.itertuples()]
    p_family = frame.loc[family, "p"].to_numpy(dtype=float)
    conj = (multiple.partial_conjunction(p_family, opts.alpha, opts.conjunction)
            if np.isfinite(p_family).any() else None)
    table = ComparisonTable(comp, frame, opts, aso_alpha, conj, updates=(_mean(side_a, "steps"), _mean(side_b, "steps")),
                            degenerate=_degenerate(side_a, comp.a) + _degenerate(side_b, comp.b))
    hoist(table)
    return table


def _mean(side: pd.DataFrame, column: str) -> float:
    runs = side.drop_duplicates(["seed"])
    return float(runs[column].mean()) if len(runs) and runs[column].notna().any() else math.nan


def _degenerate(side: pd.DataFrame, arm: str) -> list[str]:
    """`salt seed 1: fr 0 of 800`: one per run whose augmentation selected nothing or fewer than asked."""
    runs = side.drop_duplicates(["seed"])
    return [f"{arm} seed {r.seed}: {r.degenerate}" for r in runs.itertuples() if r.degenerate]


def _interval(res, effect) -> dict:
    """The CI shown beside the p-value: the test's own (t, Welch, example bootstrap) so the two agree, else
    the BCa bootstrap over seeds. With 5 seeds the seed bootstrap covers about 83% instead of 95% (see
    validation/CALIBRATION.md), the t interval about 95%."""
    if math.isfinite(res.ci_low) and math.isfinite(res.ci_high):
        return {"diff_low": res.ci_low, "diff_high": res.ci_high, "ci": res.test}
    return {"diff_low": effect.low, "diff_high": effect.high, "ci": "bootstrap-seeds"}


def mark(row, opts: Options) -> str:
    """`*` p < alpha, `**` p < alpha / 5 (adjusted p for the target languages); `†` A almost stochastically
    dominates B (eps_min < tau), `‡` B dominates A, both only with ASO_MIN_SEEDS seeds per arm or more."""
    p = row.p_adj if row.kind == "target" else row.p
    out = ""
    if isinstance(p, float) and math.isfinite(p):
        out = "**" if p < opts.alpha / 5 else "*" if p < opts.alpha else ""
    if min(row.a_n, row.b_n) < ASO_MIN_SEEDS:  # the value is shown, but too unreliable to mark
        return out
    if math.isfinite(row.eps_min) and row.eps_min < opts.aso_tau:
        out += "†"
    elif math.isfinite(row.eps_min_reverse) and row.eps_min_reverse < opts.aso_tau:
        out += "‡"
    return out


def hoist(table: ComparisonTable) -> None:
    """A note every row shares goes to the caption once."""
    notes = table.rows["note"]
    if len(notes) and notes.iloc[0] and (notes == notes.iloc[0]).all():
        table.notes.append(notes.iloc[0])
        table.rows["note"] = ""
