"""The statistical tests a report can run, one registry entry each (as lm-evaluation-harness registers tasks).

An entry carries what every consumer needs: its function, whether it pairs, the level of its unit (seeds or
test examples), the interval the tables show beside it (its own, or another test's where it has none), the
smallest p it can reach with n pairs, the seeds an arm needs before a mark is printed, its label and citation.
The CLI's choices and help, `Options`, the tables' legends, the curve answer and validation/calibrate.py all
read it, so adding a test is one `register_test` plus its line in the calibration.

This module imports no scipy: the CLI builds its parser from it in a fraction of a second; each entry's
function imports its implementation on first use.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}  # harness.stats.multiple.adjust
MIN_MARK_SEEDS = 5  # with fewer seeds per arm a t-test runs on 2-3 degrees of freedom: a star would overstate it
# ASO (harness.stats.aso): its dominance threshold (Ulmer et al. 2022 recommend eps_min < 0.2), and the seeds per
# arm below which it is not shown: under A/A it declares dominance in 11% of studies with 3 seeds per arm, 6% with
# 5 and 3.5% with 10 (validation/CALIBRATION.md)
ASO_TAU = 0.2
ASO_MIN_SEEDS = 5


@dataclass(frozen=True)
class StatTest:
    name: str  # what --test takes
    label: str  # what tables print
    citation: str
    level: Literal["seed", "example"]  # its unit: one score per seed, or one prediction per test example
    paired: bool
    # seed level: run(x, y, *, confidence, n_resamples, seed); example level: run(a, b, strata, *, ...)
    run: Callable
    interval: str | None = None  # the name of its own interval (None: it has none, see interval_of)
    interval_of: str | None = None  # the test whose interval the tables show beside this one's p
    discrete: bool = False  # exact rank/sign test: with n pairs that differ, p >= 2 / 2**n
    min_seeds: int = MIN_MARK_SEEDS  # seeds per arm before a row may be marked
    # asymptotic relative efficiency against the t-test under normal errors: what its MDE is scaled by
    efficiency: float = 1.0

    def min_p(self, n: int) -> float:
        """The smallest two-sided p-value it can give with n pairs that differ (0 for the t-tests)."""
        return 2.0 / 2 ** n if self.discrete and n > 0 else 0.0

    @property
    def interval_name(self) -> str:
        return self.interval if self.interval else TESTS[self.interval_of].interval_name

    @property
    def interval_test(self) -> StatTest:
        """The test whose interval is shown: this one, or the one it borrows from."""
        return self if self.interval else TESTS[self.interval_of]


TESTS: dict[str, StatTest] = {}


def register_test(test: StatTest) -> StatTest:
    if test.name in TESTS:
        raise ValueError(f"test {test.name!r} is already registered")
    if test.interval is None and test.interval_of not in TESTS:
        raise ValueError(f"test {test.name!r} has no interval of its own and borrows from {test.interval_of!r}, "
                         "which is not registered")
    TESTS[test.name] = test
    return test


def get_test(name: str) -> StatTest:
    if name not in TESTS:
        raise ValueError(f"unknown test {name!r}; choose one of {', '.join(TESTS)}")
    return TESTS[name]


def by_level(level: str) -> list[StatTest]:
    return [t for t in TESTS.values() if t.level == level]


def help_text() -> str:
    """One line per test for `report --test` and `plan --test`: name, label, citation."""
    return "; ".join(f"{t.name}: {t.label} ({t.citation})" for t in TESTS.values())


# ----------------------------------------------------------------------------------------- the entries

def _t(x, y, *, confidence=0.95, **_):
    from harness.stats.seeds import paired_t
    return paired_t(x, y, confidence)


def _wilcoxon(x, y, **_):
    from harness.stats.seeds import wilcoxon
    return wilcoxon(x, y)


def _sign_flip(x, y, *, n_resamples=9999, seed=0, **_):
    from harness.stats.seeds import sign_flip
    return sign_flip(x, y, n_resamples, seed)


def _welch(x, y, *, confidence=0.95, **_):
    from harness.stats.seeds import welch
    return welch(x, y, confidence)


def _bootstrap(a, b, strata, *, confidence=0.95, n_resamples=9999, seed=0, **_):
    from harness.stats.examples import paired_bootstrap
    return paired_bootstrap(a, b, strata, n_resamples, seed, confidence)


def _ar(a, b, strata, *, n_resamples=9999, seed=0, **_):
    from harness.stats.examples import approximate_randomization
    return approximate_randomization(a, b, strata, n_resamples, seed)


register_test(StatTest("t", "paired t-test over seeds", "Student 1908; Dror et al. 2018", "seed", True, _t,
                       interval="paired t"))
register_test(StatTest("wilcoxon", "Wilcoxon signed-rank over seeds", "Wilcoxon 1945", "seed", True, _wilcoxon,
                       interval_of="t", discrete=True, efficiency=3 / math.pi))
register_test(StatTest("sign-flip", "paired permutation (sign-flip) over seeds", "Fisher 1935; Dror et al. 2018",
                       "seed", True, _sign_flip, interval_of="t", discrete=True))
register_test(StatTest("welch", "Welch t-test over seeds (unpaired)", "Welch 1947", "seed", False, _welch,
                       interval="Welch t"))
register_test(StatTest("bootstrap", "paired bootstrap over examples (Koehn 2004), stratified by seed", "Koehn 2004",
                       "example", True, _bootstrap, interval="example bootstrap"))
register_test(StatTest("ar", "approximate randomisation over examples, stratified by seed",
                       "Noreen 1989; Riezler & Maxwell 2005", "example", True, _ar, interval_of="bootstrap"))
