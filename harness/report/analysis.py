"""One comparison, every language: each side's summary, the difference, the registered test with the interval
and spread it comes with, and ASO. Which comparisons exist is `harness.report.engine`'s job; correcting their
p-values, the levels, minimum detectable effects and marks is `harness.report.families`'.

The interval beside each difference is the test's own where it has one (paired t, Welch, the example
bootstrap), else the one its registry entry borrows (the rank and sign-flip tests show the paired t interval,
approximate randomisation the example bootstrap's), named in the table (coverage: validation/CALIBRATION.md).
"""
from __future__ import annotations

import functools
import math
from collections import namedtuple
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd

from harness.report.comparisons import Comparison
from harness.report.format import IDENTICAL
from harness.report.options import Options
from harness.stats import compare, examples, multiple, seeds
from harness.stats.aso import AsoResult, aso
from harness.stats.effects import describe, mean_difference
from harness.stats.power import Spread, interval_spread, paired_spread, welch_spread
from harness.stats.registry import TESTS
from harness.stats.result import TestResult, missing
from salt.metrics import AVG, AVG_TARGETS, AVERAGES, accuracy_metric

ROW_COLUMNS = ["row", "kind", "a_mean", "a_std", "a_n", "b_mean", "b_std", "b_n", "diff", "diff_low", "diff_high",
               "ci", "boot_low", "boot_high", "test", "p", "p_adj", "family_size", "level", "mde", "se", "df",
               "pairs", "eps_min", "eps_min_reverse", "mark", "note"]


@dataclass
class ComparisonTable:
    comparison: Comparison
    rows: pd.DataFrame  # ROW_COLUMNS, one per language then the averages
    options: Options
    aso: list[AsoResult | None] = field(default_factory=list)  # per row, at level alpha (families adjusts)
    conjunction: multiple.PartialConjunction | None = None
    notes: list[str] = field(default_factory=list)  # notes shared by every row, hoisted out of the table
    updates: tuple[float, float] = (math.nan, math.nan)  # mean optimizer updates of A and B
    degenerate: list[str] = field(default_factory=list)  # cells whose augmentation fell short, named
    family: str = ""  # how its p-values were corrected, in words (families.correct)
    family_scope: str = ""  # what its family holds ("the 4 comparisons against baseline")
    family_sizes: dict[str, int] = field(default_factory=dict)  # kind (target, average) -> m
    aso_alpha: float = math.nan  # the level ASO was read at (alpha / family size)
    identical: bool = False  # both sides train alike by construction: shown, never tested, not in any family

    @property
    def step_matched(self) -> bool | None:
        a, b = self.updates
        return None if not (math.isfinite(a) and math.isfinite(b)) else abs(a - b) <= 0.01 * max(a, b)

    @property
    def seeds(self) -> int:
        """The fewest seeds either arm has on any row: what marks and ASO need enough of."""
        if not len(self.rows):
            return 0
        return int(np.minimum(self.rows["a_n"].to_numpy(), self.rows["b_n"].to_numpy()).min())

    def records(self, columns: list[str] | tuple[str, ...] | None = None) -> list:
        """The rows as named tuples of Python scalars, like `rows.itertuples(index=False)` without pandas'
        per-call cost (a millisecond a table: seconds over the thousands of tables of a curve-heavy report)."""
        names = list(columns or self.rows.columns)
        return list(map(_record_type(tuple(names))._make, zip(*(self.rows[c].tolist() for c in names))))

    def copy(self) -> ComparisonTable:
        """A copy whose rows a family may adjust (a comparison can sit in a table's family and a curve's)."""
        return replace(self, rows=self.rows.copy(), notes=list(self.notes))


@functools.cache
def _record_type(names: tuple[str, ...]):
    return namedtuple("Row", names)


PredictionsFor = Callable[[str], pd.DataFrame]  # run id -> per-example predictions


@dataclass(frozen=True)
class Tested:
    """A registered test's result with the interval shown beside it and the spread its MDE is judged by."""

    result: TestResult
    low: float
    high: float
    interval: str  # the interval's name ("" when there is none)
    spread: Spread


class Sides:
    """The scores frame split once by (arm, setting) and then by language, with each side's per-seed scores
    and run summaries kept. A curve with hundreds of sample counts makes hundreds of comparisons against the
    same control; filtering the whole frame for each one was most of `report`'s time."""

    def __init__(self, scores: pd.DataFrame):
        self.scores = scores
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

    def n_eff(self, arm: str, setting: str) -> float:
        """The examples a side's runs really selected, mean over its seeds."""
        return self._memo(("n_eff", arm, setting), lambda: _mean(self.side(arm, setting), "n_eff"))

    def updates(self, arm: str, setting: str) -> float:
        return self._memo(("updates", arm, setting), lambda: _mean(self.side(arm, setting), "steps"))

    def degenerate(self, arm: str, setting: str) -> list[str]:
        return self._memo(("degenerate", arm, setting), lambda: _degenerate(self.side(arm, setting), arm))

    def compare(self, a: pd.Series, b: pd.Series, names: tuple[str, str], opts: Options, test: str | None = None):
        """`compare.compare_seeds` once per pair of per-seed scores (the same pair in a table and a curve is tested
        once)."""
        test = test or opts.test
        key = ("compare", tuple(a.items()), tuple(b.items()), names, test, opts.confidence, opts.n_resamples, opts.seed)
        return self._memo(key, lambda: compare.compare_seeds(a, b, test, opts.confidence, opts.n_resamples, opts.seed,
                                                           names))

    def test(self, a: pd.Series, b: pd.Series, names: tuple[str, str], opts: Options) -> Tested:
        """The seed-level test of `opts` on two per-seed score series: the one place its interval is chosen and
        its spread measured (tables, curve points and areas all come through here)."""
        test = opts.test if TESTS[opts.test].level == "seed" else "t"
        res = self.compare(a, b, names, opts, test)
        ran = TESTS.get(res.test, TESTS[test])
        low, high, name = res.ci_low, res.ci_high, ran.interval_name
        if not (math.isfinite(low) and math.isfinite(high)):
            low = high = math.nan
            if res.ok and ran.interval_test is not ran:
                other = self.compare(a, b, names, opts, ran.interval_test.name)
                low, high = other.ci_low, other.ci_high
        if not (math.isfinite(low) and math.isfinite(high)):
            name = ""
        common = a.index.intersection(b.index)
        if ran.paired and len(common) >= 2:
            spread = paired_spread(np.round(a.loc[common].to_numpy() - b.loc[common].to_numpy(), seeds.DECIMALS))
        else:
            spread = welch_spread(a.to_numpy(), b.to_numpy())
        return Tested(res, low, high, name, spread)


def _series(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(frame["score"].to_numpy(), index=pd.Index(frame["seed"].to_numpy(), name="seed"),
                     name="score").sort_index()


def kind_of(row: str, source: str | None) -> str:
    if row in AVERAGES:
        return "average"
    return "source" if row == source else "target"


def _example_test(a: pd.DataFrame, b: pd.DataFrame, row: str, langs: list[str], source: str | None,
                  predictions: PredictionsFor, opts: Options) -> Tested:
    """The example-level test and, where it has no interval of its own, its entry's (the example bootstrap)
    on the same pairs."""
    if row == AVG:
        used = langs
    elif row == AVG_TARGETS:
        used = [l for l in langs if l != source]
    else:
        used = [row]
    runs_a = {s: predictions(r) for s, r in a.groupby("seed")["run_id"].first().items()}
    runs_b = {s: predictions(r) for s, r in b.groupby("seed")["run_id"].first().items()}
    pairs = examples.paired_examples(runs_a, runs_b, opts.split, used)
    entry = opts.entry
    res = compare.compare_examples(pairs, entry.name, opts.n_resamples, opts.seed, opts.confidence)
    low, high = res.ci_low, res.ci_high
    if res.ok and entry.interval_test is not entry:
        other = compare.compare_examples(pairs, entry.interval_test.name, opts.n_resamples, opts.seed,
                                          opts.confidence)
        low, high = other.ci_low, other.ci_high
    ok = math.isfinite(low) and math.isfinite(high)
    return Tested(res, low, high, entry.interval_name if ok else "",
                  interval_spread(low, high, opts.confidence, res.n))


def analyse(comp: Comparison, scores: pd.DataFrame | Sides, rows: list[str], source: str | None, opts: Options,
            predictions: PredictionsFor | None = None, identical: bool = False) -> ComparisonTable:
    """The table of one comparison, from the long `scores` frame of `harness.report.collect.scores` (or its
    `Sides`, built once for many comparisons). `identical`: the sides train alike by construction (the engine
    knows), so the rows show both sides and say so, and nothing is tested."""
    if opts.example_level and predictions is None and not identical:
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
                    notes.append(f"no {accuracy_metric(opts.split, row)} for {arm}")
        effect = mean_difference(sa, sb, opts.confidence, opts.n_resamples, opts.seed)
        dom = None  # identical by construction: no ASO either
        if notes:
            tested = Tested(missing(opts.test, "; ".join(notes)), math.nan, math.nan, "", Spread(math.nan, math.nan, 0))
            notes = []
        elif identical:
            tested = Tested(missing(opts.test, IDENTICAL, effect.estimate, effect.n), math.nan, math.nan, "",
                            Spread(math.nan, math.nan, effect.n))
        elif opts.example_level:
            tested = _example_test(a, b, row, langs, source, predictions, opts)
            # the delta from the same pairs, even where the pairing is not complete
            effect = replace(effect, estimate=tested.result.estimate)
        else:
            tested = sides.test(sa, sb, (comp.a, comp.b), opts)
        res = tested.result
        if res.note:
            notes.append(res.note)
        ran = TESTS.get(res.test, opts.entry)
        if res.ok and ran.min_p(res.n) > opts.alpha:
            notes.append(f"with {res.n} seeds that differ, {ran.name} cannot give p < {ran.min_p(res.n):.3g}")
        if not identical:
            dom = aso(sa.to_numpy(), sb.to_numpy(), opts.alpha, 1, opts.aso_bootstrap, opts.seed)
            if not dom.ok and res.ok:  # when the test itself failed, its note already says why
                notes.append(f"ASO: {dom.note}")
        dominance.append(dom)
        out.append({"row": row, "kind": kind_of(row, source), "a_mean": da.mean, "a_std": da.std, "a_n": da.n,
                    "b_mean": db.mean, "b_std": db.std, "b_n": db.n, "diff": effect.estimate,
                    "diff_low": tested.low, "diff_high": tested.high, "ci": tested.interval,
                    "boot_low": effect.low, "boot_high": effect.high, "test": res.test, "p": res.pvalue,
                    "p_adj": math.nan, "family_size": 0, "level": math.nan, "mde": math.nan, "se": tested.spread.se,
                    "df": tested.spread.df, "pairs": res.n, "eps_min": math.nan, "eps_min_reverse": math.nan,
                    "mark": "", "note": "; ".join(dict.fromkeys(n for n in notes if n))})
    frame = pd.DataFrame(out, columns=ROW_COLUMNS)
    family = frame["kind"] == "target"
    p_family = frame.loc[family, "p"].to_numpy(dtype=float)
    conj = (multiple.partial_conjunction(p_family, opts.alpha, opts.conjunction)
            if np.isfinite(p_family).any() else None)
    return ComparisonTable(comp, frame, opts, dominance, conj,
                           updates=(sides.updates(comp.a, comp.setting_a), sides.updates(comp.b, comp.setting_b)),
                           degenerate=sides.degenerate(comp.a, comp.setting_a) + sides.degenerate(comp.b, comp.setting_b),
                           identical=identical)


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
