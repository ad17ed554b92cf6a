"""Seed-level tests: one score per (arm, seed), arms paired by seed.

Seeds are the unit of replication here (Reimers & Gurevych 2017): the same seed gives both arms the same
data order and initial head, so pairing by seed removes that shared noise. With few seeds the rank and
permutation tests are discrete: with n pairs their smallest two-sided p-value is 2 / 2**n (0.0625 for
n = 5), so they cannot reject at alpha 0.05 below 6 seeds; their registry entry (`harness.stats.registry`)
knows it and the tables say so. Each result is named by its registry entry; `harness.stats.compare` pairs
per-seed series and runs the registered test.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from harness.stats.result import TestResult, missing

ZERO = 1e-12  # differences below this count as ties (accuracies are ratios of counts: exact equality is common)
# Differences are compared after rounding to this many decimals. Accuracies are ratios of counts, so two
# seeds can differ by exactly the same amount (0.688 - 0.668 and 0.702 - 0.682), which floating point
# gives as 0.0199999... and 0.0200000...: unrounded, rank and sign-flip tests would break those ties and
# come out anti-conservative. No test set is large enough (1e9 examples) for rounding to merge real values.
DECIMALS = 9


def _arr(values) -> np.ndarray:
    return np.asarray(values, dtype=float).ravel()


def _differences(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.round(x - y, DECIMALS)


def _not_finite(name: str, *arrays) -> TestResult | None:
    bad = sum(int((~np.isfinite(a)).sum()) for a in arrays)
    return missing(name, f"{bad} score(s) NaN or infinite: no test") if bad else None


def _identical(d: np.ndarray) -> bool:
    return bool(np.all(np.abs(d) <= ZERO))


def _ci(res, confidence: float) -> tuple[float, float]:
    ci = res.confidence_interval(confidence)
    return float(ci.low), float(ci.high)


def paired_t(a, b, confidence: float = 0.95) -> TestResult:
    """Student's paired t-test (`scipy.stats.ttest_rel`) with its CI for the mean difference."""
    x, y = _arr(a), _arr(b)
    name = "t"
    if bad := _not_finite(name, x, y):
        return bad
    d = _differences(x, y)
    if len(d) < 2:
        return missing(name, f"{len(d)} paired seed(s): a test needs at least 2", float(d.mean()) if len(d) else math.nan, len(d))
    if _identical(d):
        return TestResult(name, 0.0, 1.0, 0.0, 0.0, 0.0, len(d), "identical scores on every seed")
    if np.ptp(d) <= ZERO:
        return missing(name, "the same difference on every seed (zero variance): t is undefined; "
                       "use --test sign-flip", float(d.mean()), len(d))
    res = stats.ttest_rel(x, y)
    low, high = _ci(res, confidence)
    return TestResult(name, float(d.mean()), float(res.pvalue), low, high, float(res.statistic), len(d))


def wilcoxon(a, b) -> TestResult:
    """Wilcoxon signed-rank test (`scipy.stats.wilcoxon` on the rounded differences; zeros dropped, so `n` is
    the seeds that differ)."""
    x, y = _arr(a), _arr(b)
    name = "wilcoxon"
    if bad := _not_finite(name, x, y):
        return bad
    d = _differences(x, y)
    if len(d) < 2:
        return missing(name, f"{len(d)} paired seed(s): a test needs at least 2", float(d.mean()) if len(d) else math.nan, len(d))
    if _identical(d):
        return TestResult(name, 0.0, 1.0, statistic=0.0, n=0, note="identical scores on every seed")
    zeros = int(np.sum(d == 0))
    if len(d) - zeros < 2:
        return missing(name, f"only {len(d) - zeros} seed(s) differ: no test", float(d.mean()), len(d) - zeros)
    res = stats.wilcoxon(d)
    note = f"{zeros} tied seed(s) dropped" if zeros else ""
    return TestResult(name, float(d.mean()), float(res.pvalue), statistic=float(res.statistic), n=len(d) - zeros,
                      note=note)


def sign_flip(a, b, n_resamples: int = 9999, seed: int = 0) -> TestResult:
    """Paired permutation test: the sign of each seed's difference flipped (A and B swapped within a seed).

    `scipy.stats.permutation_test(permutation_type='samples')` on the mean difference; exact (all 2**n
    patterns) when 2**n <= n_resamples, Monte Carlo otherwise.
    """
    x, y = _arr(a), _arr(b)
    name = "sign-flip"
    if bad := _not_finite(name, x, y):
        return bad
    d = _differences(x, y)
    if len(d) < 2:
        return missing(name, f"{len(d)} paired seed(s): a test needs at least 2", float(d.mean()) if len(d) else math.nan, len(d))
    if _identical(d):
        return TestResult(name, 0.0, 1.0, statistic=0.0, n=0, note="identical scores on every seed")
    res = stats.permutation_test((d,), _mean, permutation_type="samples", vectorized=True,
                                 n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(seed))
    zeros = int(np.sum(d == 0))
    exact = 2 ** len(d) <= n_resamples
    notes = [f"{zeros} tied seed(s) carry no sign"] * bool(zeros) + [f"Monte Carlo, {n_resamples} sign patterns"] * (not exact)
    return TestResult(name, float(d.mean()), float(res.pvalue), statistic=float(res.statistic), n=len(d) - zeros,
                      note="; ".join(notes))


def _mean(d, axis=-1):
    return np.mean(d, axis=axis)


def welch(a, b, confidence: float = 0.95) -> TestResult:
    """Welch's unpaired t-test (`scipy.stats.ttest_ind(equal_var=False)`): for arms not paired by seed."""
    x, y = _arr(a), _arr(b)
    name = "welch"
    if bad := _not_finite(name, x, y):
        return bad
    est = float(x.mean() - y.mean()) if len(x) and len(y) else math.nan
    if len(x) < 2 or len(y) < 2:
        return missing(name, f"{len(x)} and {len(y)} seed(s): Welch needs at least 2 per arm", est, len(x) + len(y))
    if np.ptp(x) <= ZERO and np.ptp(y) <= ZERO:
        if abs(est) <= ZERO:
            return TestResult(name, 0.0, 1.0, 0.0, 0.0, 0.0, len(x) + len(y), "identical scores on every seed")
        return missing(name, "both arms constant across seeds (zero variance): t is undefined", est, len(x) + len(y))
    res = stats.ttest_ind(x, y, equal_var=False)
    low, high = _ci(res, confidence)
    return TestResult(name, est, float(res.pvalue), low, high, float(res.statistic), len(x) + len(y))
