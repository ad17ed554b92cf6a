"""Seed-level tests: one score per (arm, seed), arms paired by seed.

Seeds are the unit of replication here (Reimers & Gurevych 2017): the same seed gives both arms the same
data order and initial head, so pairing by seed removes that shared noise. With few seeds the rank and
permutation tests are discrete: with n pairs their smallest two-sided p-value is 2 / 2**n (0.0625 for
n = 5), so they cannot reject at alpha 0.05 below 6 seeds; their registry entry (`harness.stats.registry`)
knows it and the tables say so. Each result is named by its registry entry.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from harness.stats.registry import by_level, get_test
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


def _series(values: pd.Series | Mapping | None) -> pd.Series:
    if values is None:
        return pd.Series(dtype=float)
    s = values if isinstance(values, pd.Series) else pd.Series(dict(values), dtype=float)
    return s.dropna().astype(float)


def compare_seeds(a: pd.Series | Mapping, b: pd.Series | Mapping, test: str = "t", confidence: float = 0.95,
                  n_resamples: int = 9999, seed: int = 0, names: tuple[str, str] = ("A", "B")) -> TestResult:
    """Test A against B from per-seed scores (Series or mapping indexed by seed).

    Paired tests use the seeds both arms share; with fewer than 2 shared seeds but 2 or more per arm they
    fall back to Welch, saying so. Missing arms, a single seed and identical scores come back as notes.
    """
    entry = get_test(test)
    if entry.level != "seed":
        raise ValueError(f"{test!r} is an example-level test; seed-level tests: "
                         f"{', '.join(t.name for t in by_level('seed'))}")
    sa, sb = _series(a), _series(b)
    for s, name in ((sa, names[0]), (sb, names[1])):
        if s.empty:
            return missing(test, f"no scores for {name}")
    options = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    if not entry.paired:
        return entry.run(sa.to_numpy(), sb.to_numpy(), **options)
    common = sa.index.intersection(sb.index)
    if len(common) >= 2:
        res = entry.run(sa.loc[common].to_numpy(), sb.loc[common].to_numpy(), **options)
        if len(common) < max(len(sa), len(sb)):
            extra = f"paired on {len(common)} common seeds ({names[0]} has {len(sa)}, {names[1]} has {len(sb)})"
            res = _with_note(res, extra)
        return res
    if len(sa) >= 2 and len(sb) >= 2:
        return _with_note(welch(sa.to_numpy(), sb.to_numpy(), confidence),
                          f"arms share {len(common)} seed(s): unpaired Welch test instead")
    counts = f"{names[0]}: {len(sa)}, {names[1]}: {len(sb)}"
    why = (f"one seed per arm ({counts})" if len(sa) == len(sb) == 1 else
           f"too few seeds ({counts}, {len(common)} in common)")
    return missing(test, f"{why}: no test; run more seeds", float(sa.mean() - sb.mean()), len(common))


def _with_note(res: TestResult, note: str) -> TestResult:
    from dataclasses import replace

    return replace(res, note="; ".join(n for n in (res.note, note) if n))
