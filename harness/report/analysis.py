"""One comparison, every language: summaries, effect, test, interval and the ASO statistics; the families
that correct the p-values and set the marks are `harness.report.families`' job, across tables.

The interval beside each difference is the test's own where it has one (paired t, Welch, the example
bootstrap); the rank and sign-flip tests have none, so they show the paired t interval, and approximate
randomisation the example bootstrap's, each named in the table (their coverage: validation/CALIBRATION.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd

from harness.report.collect import AVG, AVG_TARGETS, AVERAGES
from harness.report.comparisons import Comparison
from harness.stats import examples, multiple, seeds
from harness.stats.aso import TAU, AsoResult, aso
from harness.stats.effects import describe, mean_difference
from harness.stats.result import missing

# Under A/A, ASO (tau 0.2, alpha 0.05) declares dominance in 11% of studies with 3 seeds per arm, 6% with 5
# and 3.5% with 10 (validation/CALIBRATION.md): below this many seeds its values are not shown or marked.
ASO_MIN_SEEDS = 5
TESTS = (*seeds.TESTS, *examples.EXAMPLE_TESTS)
LABELS = {**seeds.LABELS, **examples.LABELS}
FAMILIES = ("comparison", "table", "study")
# The interval each test's table shows (named in the table; coverage measured in validation/calibrate.py).
INTERVALS = {"t": "paired t", "wilcoxon": "paired t", "sign-flip": "paired t", "welch": "Welch t",
             "bootstrap": "example bootstrap", "ar": "example bootstrap"}


@dataclass(frozen=True)
class Options:
    split: str = "test"
    test: str = "t"  # paired t over seeds: seeds are the replication unit; see harness.stats.seeds
    alpha: float = 0.05
    correction: str = "holm"
    family: str = "table"  # which tests are corrected together: see harness.report.families
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
        if self.family not in FAMILIES:
            raise ValueError(f"unknown family {self.family!r}; choose one of {', '.join(FAMILIES)}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.split not in ("test", "dev"):
            raise ValueError(f"split must be test or dev, got {self.split!r}")

    @property
    def example_level(self) -> bool:
        return self.test in examples.EXAMPLE_TESTS


ROW_COLUMNS = ["row", "kind", "a_mean", "a_std", "a_n", "b_mean", "b_std", "b_n", "diff", "diff_low", "diff_high",
               "ci", "boot_low", "boot_high", "test", "p", "p_adj", "family_size", "eps_min", "eps_min_reverse",
               "mark", "note"]


@dataclass
class ComparisonTable:
    comparison: Comparison
    rows: pd.DataFrame  # ROW_COLUMNS, one per language then the averages
    options: Options
    aso: list[AsoResult] = field(default_factory=list)  # per row, at level alpha (families.finalize adjusts)
    conjunction: multiple.PartialConjunction | None = None
    notes: list[str] = field(default_factory=list)  # notes shared by every row, hoisted out of the table
    updates: tuple[float, float] = (math.nan, math.nan)  # mean optimizer updates of A and B
    degenerate: list[str] = field(default_factory=list)  # cells whose augmentation fell short, named
    family: str = ""  # how its p-values were corrected, in words (families.finalize)
    aso_alpha: float = math.nan  # the level ASO was read at (alpha / family size)

    @property
    def step_matched(self) -> bool | None:
        a, b = self.updates
        return None if not (math.isfinite(a) and math.isfinite(b)) else abs(a - b) <= 0.01 * max(a, b)

    @property
    def seeds(self) -> int:
        """The fewest seeds either arm has on any row: what marks and ASO need enough of."""
        n = self.rows[["a_n", "b_n"]].min(axis=1)
        return int(n.min()) if len(n) else 0


PredictionsFor = Callable[[str], pd.DataFrame]  # run id -> per-example predictions


class Sides:
    """The scores frame split once by (arm, setting) and then by language, with each side's per-seed scores
    and run summaries kept. A curve with hundreds of sample counts makes hundreds of comparisons against the
    same control; filtering the whole frame for each one was most of `report`'s time."""

    def __init__(self, scores: pd.DataFrame):
        self.none = scores.iloc[:0]
        self._sides = dict(iter(scores.groupby(["arm", "setting"], sort=False, observed=True)))
        self._cache: dict[tuple, object] = {}

    def _memo(self, key: tuple, make: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def side(self, arm: str, setting: str) -> pd.DataFrame:
        return self._sides.get((arm, setting), self.none)

    def lang(self, arm: str, setting: str, lang: str) -> pd.DataFrame:
        langs = self._memo(("langs", arm, setting), lambda: dict(iter(self.side(arm, setting).groupby(
            "lang", sort=False))))
        return langs.get(lang, self.none)

    def series(self, arm: str, setting: str, lang: str) -> pd.Series:
        """Score by seed."""
        return self._memo(("series", arm, setting, lang), lambda: _series(self.lang(arm, setting, lang)))

    def describe(self, arm: str, setting: str, lang: str, confidence: float):
        return self._memo(("describe", arm, setting, lang, confidence),
                          lambda: describe(self.series(arm, setting, lang).to_numpy(), confidence))

    def updates(self, arm: str, setting: str) -> float:
        return self._memo(("updates", arm, setting), lambda: _mean(self.side(arm, setting), "steps"))

    def degenerate(self, arm: str, setting: str) -> list[str]:
        return self._memo(("degenerate", arm, setting), lambda: _degenerate(self.side(arm, setting), arm))

    def compare(self, a: pd.Series, b: pd.Series, names: tuple[str, str], opts: Options, test: str | None = None):
        """`seeds.compare_seeds` once per pair of per-seed scores: the curve answer tests the pairs the tables
        test (the same number in both, computed once)."""
        test = test or opts.test
        key = ("compare", tuple(a.items()), tuple(b.items()), names, test, opts.confidence, opts.n_resamples, opts.seed)
        return self._memo(key, lambda: seeds.compare_seeds(a, b, test, opts.confidence, opts.n_resamples, opts.seed,
                                                           names))


def _series(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(frame["score"].to_numpy(), index=pd.Index(frame["seed"].to_numpy(), name="seed"),
                     name="score").sort_index()


def _kind(row: str, source: str | None) -> str:
    if row in AVERAGES:
        return "average"
    return "source" if row == source else "target"


def _example_test(a: pd.DataFrame, b: pd.DataFrame, row: str, langs: list[str],
                  source: str | None, predictions: PredictionsFor, opts: Options):
    """The example-level test and, for approximate randomisation (no interval of its own), the example
    bootstrap's interval on the same pairs."""
    if row == AVG:
        used = langs
    elif row == AVG_TARGETS:
        used = [l for l in langs if l != source]
    else:
        used = [row]
    runs_a = {s: predictions(r) for s, r in a.groupby("seed")["run_id"].first().items()}
    runs_b = {s: predictions(r) for s, r in b.groupby("seed")["run_id"].first().items()}
    pairs = examples.paired_examples(runs_a, runs_b, opts.split, used)
    res = examples.compare_examples(pairs, opts.test, opts.n_resamples, opts.seed, opts.confidence)
    if opts.test == "ar" and res.ok:
        boot = examples.compare_examples(pairs, "bootstrap", opts.n_resamples, opts.seed, opts.confidence)
        res = replace(res, ci_low=boot.ci_low, ci_high=boot.ci_high)
    return res


def _interval(res, sa: pd.Series, sb: pd.Series, opts: Options) -> dict:
    """The test's own interval; the rank and sign-flip tests show the paired t interval of the same seeds."""
    name = INTERVALS[opts.test]
    if math.isfinite(res.ci_low) and math.isfinite(res.ci_high):
        return {"diff_low": res.ci_low, "diff_high": res.ci_high, "ci": name}
    if opts.test in ("wilcoxon", "sign-flip") and res.ok:
        common = sa.index.intersection(sb.index)
        t = seeds.paired_t(sa.loc[common].to_numpy(), sb.loc[common].to_numpy(), opts.confidence)
        return {"diff_low": t.ci_low, "diff_high": t.ci_high, "ci": name}
    return {"diff_low": math.nan, "diff_high": math.nan, "ci": ""}


def analyse(comp: Comparison, scores: pd.DataFrame | Sides, rows: list[str], source: str | None, opts: Options,
            predictions: PredictionsFor | None = None) -> ComparisonTable:
    """The table of one comparison, from the long `scores` frame of `harness.report.collect.scores` (or its
    `Sides`, built once for many comparisons)."""
    if opts.example_level and predictions is None:
        raise ValueError(f"--test {opts.test} needs per-example predictions")
    sides = scores if isinstance(scores, Sides) else Sides(scores)
    side_a, side_b = sides.side(comp.a, comp.setting_a), sides.side(comp.b, comp.setting_b)
    langs = [r for r in rows if r not in AVERAGES]
    out, dominance = [], []
    for row in rows:
        a, b = sides.lang(comp.a, comp.setting_a, row), sides.lang(comp.b, comp.setting_b, row)
        sa, sb = sides.series(comp.a, comp.setting_a, row), sides.series(comp.b, comp.setting_b, row)
        da = sides.describe(comp.a, comp.setting_a, row, opts.confidence)
        db = sides.describe(comp.b, comp.setting_b, row, opts.confidence)
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
            # the delta and its CI from the same pairs, even where the pairing is not complete
            effect = replace(effect, estimate=res.estimate)
        else:
            res = sides.compare(sa, sb, (comp.a, comp.b), opts)
        if res.note:
            notes.append(res.note)
        if res.ok and seeds.min_attainable_p(res.test, res.n) > opts.alpha:
            notes.append(f"with {res.n} seeds that differ, {res.test} cannot give p < "
                         f"{seeds.min_attainable_p(res.test, res.n):.3g}")
        dom = aso(sa.to_numpy(), sb.to_numpy(), opts.alpha, 1, opts.aso_bootstrap, opts.seed)
        dominance.append(dom)
        if not dom.ok and res.ok:  # when the test itself failed, its note already says why
            notes.append(f"ASO: {dom.note}")
        out.append({"row": row, "kind": _kind(row, source), "a_mean": da.mean, "a_std": da.std, "a_n": da.n,
                    "b_mean": db.mean, "b_std": db.std, "b_n": db.n, "diff": effect.estimate,
                    **_interval(res, sa, sb, opts), "boot_low": effect.low, "boot_high": effect.high,
                    "test": res.test, "p": res.pvalue, "p_adj": math.nan, "family_size": 0,
                    "eps_min": math.nan, "eps_min_reverse": math.nan, "mark": "",
                    "note": "; ".join(dict.fromkeys(n for n in notes if n))})
    frame = pd.DataFrame(out, columns=ROW_COLUMNS)
    family = frame["kind"] == "target"
    p_family = frame.loc[family, "p"].to_numpy(dtype=float)
    conj = (multiple.partial_conjunction(p_family, opts.alpha, opts.conjunction)
            if np.isfinite(p_family).any() else None)
    return ComparisonTable(comp, frame, opts, dominance, conj,
                           updates=(sides.updates(comp.a, comp.setting_a), sides.updates(comp.b, comp.setting_b)),
                           degenerate=sides.degenerate(comp.a, comp.setting_a) + sides.degenerate(comp.b, comp.setting_b))


def _mean(side: pd.DataFrame, column: str) -> float:
    runs = side.drop_duplicates(["seed"])
    return float(runs[column].mean()) if len(runs) and runs[column].notna().any() else math.nan


def _degenerate(side: pd.DataFrame, arm: str) -> list[str]:
    """`salt seed 1: fr 0 of 800`: one per run whose augmentation selected nothing or fewer than asked."""
    runs = side.drop_duplicates(["seed"])
    return [f"{arm} seed {r.seed}: {r.degenerate}" for r in runs.itertuples() if r.degenerate]


def hoist(table: ComparisonTable) -> None:
    """A note every row shares goes to the caption once."""
    notes = table.rows["note"]
    if len(notes) and notes.iloc[0] and (notes == notes.iloc[0]).all():
        table.notes.append(notes.iloc[0])
        table.rows["note"] = ""
