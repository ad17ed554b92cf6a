"""The one comparison engine: every comparison a report shows, whichever table, curve, figure or FINDINGS line
shows it, is paired, tested, corrected and marked here.

- pairs: `harness.report.comparisons` (settings matched on the axes both arms have; an ambiguous match is an
  error naming the settings), for the tables' default or named comparisons and the curve's strategy-control
  pairs alike;
- tests: each comparison analysed once (`analysis.analyse`, the registered test with its interval, spread
  and ASO), memoised, so the same pair in a table and on a curve is one test;
- identical by construction (`salt.arms.trains_alike`: N = 0 for every arm, random selection of every
  candidate): shown, never tested, not in any family;
- families, levels, MDEs and marks: `harness.report.families.correct`, over the tables' `--family` or the
  curve's family (every N of one strategy-control pair).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import pandas as pd

from harness.report import comparisons
from harness.report.analysis import ComparisonTable, PredictionsFor, Sides, analyse
from harness.report.comparisons import Comparison
from harness.report.families import correct, scope_text, table_key
from harness.report.options import Options
from salt.arms import ARMS, trains_alike
from salt.config import RunConfig

ConfigOf = Callable[[str, tuple], RunConfig | None]  # (arm, typed settings) -> the cell's config (seed aside)


class Engine:
    def __init__(self, scores: pd.DataFrame, typed: comparisons.Typed, rows: list[str], source: str | None,
                 opts: Options, predictions: PredictionsFor | None = None, config_of: ConfigOf | None = None,
                 sides: Sides | None = None):
        self.scores, self.typed, self.rows, self.source, self.opts = scores, typed, rows, source, opts
        self.predictions, self.config_of = predictions, config_of
        self.sides = sides or Sides(scores)
        self._tables: dict[Comparison, ComparisonTable] = {}
        self._drawn = {(a, s): bool(g.any()) for (a, s), g in scores.groupby(["arm", "setting"], sort=False)["drawn"]} \
            if "drawn" in scores else {}

    def seed_level(self) -> Engine:
        """The same engine with a seed-level test: curves and areas compare seeds (per-example predictions
        have no per-N area to resample); it shares the split scores and their memoised tests."""
        if not self.opts.example_level:
            return self
        return Engine(self.scores, self.typed, self.rows, self.source, replace(self.opts, test="t"), None,
                      self.config_of, self.sides)

    # ------------------------------------------------------------------ pairs
    def pairs(self, a: str, b: str, strict: bool = True) -> list[Comparison]:
        return comparisons.pairs(self.scores, self.typed, a, b, strict)

    def default_comparisons(self, declared: list[str] | None = None) -> list[Comparison]:
        return comparisons.default_comparisons(self.scores, self.typed, declared)

    def named_comparisons(self, compare: list[tuple[str, str]], declared: list[str] | None = None) -> list[Comparison]:
        return comparisons.named_pairs(self.scores, self.typed, compare, declared)

    # ------------------------------------------------------------------ tests
    def identical(self, comp: Comparison) -> bool:
        """Both sides train alike by construction (what their configs say, not what their scores happen to be)."""
        if self.config_of is None or comp.a not in ARMS or comp.b not in ARMS:
            return False
        ca = self.config_of(comp.a, self.typed.get((comp.a, comp.setting_a), ()))
        cb = self.config_of(comp.b, self.typed.get((comp.b, comp.setting_b), ()))
        if ca is None or cb is None:
            return False
        drawn = self._drawn.get((comp.a, comp.setting_a), False) or self._drawn.get((comp.b, comp.setting_b), False)
        return trains_alike(ca, cb, drawn)

    def table(self, comp: Comparison) -> ComparisonTable:
        """The comparison analysed (uncorrected), once per report."""
        if comp not in self._tables:
            self._tables[comp] = analyse(comp, self.sides, self.rows, self.source, self.opts, self.predictions,
                                         identical=self.identical(comp))
        return self._tables[comp]

    def tables(self, comps: list[Comparison]) -> list[ComparisonTable]:
        """The tables' view: each comparison corrected within the `--family` it belongs to."""
        family = self.opts.family
        return correct([self.table(c) for c in comps], self.opts, table_key(family), lambda g: scope_text(g, family))

    def has_runs(self, arm: str, setting: str) -> bool:
        return not self.sides.side(arm, setting).empty


def strategy_pairs(arms: list[str]) -> list[tuple[str, str]]:
    """(strategy, control) for every strategy in `arms` (an arm that augments and controls nothing: SALT) and
    every control or reference of it present."""
    out = []
    for s in arms:
        arm = ARMS.get(s)
        if arm is None or not arm.augments or arm.reference or arm.controls is not None:
            continue
        controls = [a for a in arms if a in ARMS and (ARMS[a].controls == s or ARMS[a].reference)]
        out += [(s, c) for c in controls]
    return out
