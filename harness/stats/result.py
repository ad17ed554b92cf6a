"""The one result type every test returns, so tables can show a number or say why there is none."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TestResult:
    """A two-sided test of "A and B score the same"; `estimate` is the mean difference A - B.

    `note` carries either the reason no p-value exists (one seed, a missing arm) or a caveat on the one
    given (paired on fewer seeds, ties); tables print it instead of a bare NaN.
    """

    test: str
    estimate: float = math.nan
    pvalue: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    statistic: float = math.nan
    n: int = 0
    note: str = ""

    __test__ = False  # not a pytest test class, despite the name

    @property
    def ok(self) -> bool:
        return math.isfinite(self.pvalue)


def missing(test: str, note: str, estimate: float = math.nan, n: int = 0) -> TestResult:
    """A result with no p-value and the reason why."""
    return TestResult(test=test, estimate=estimate, n=n, note=note)
