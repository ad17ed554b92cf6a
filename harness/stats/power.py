"""Power of the registered tests and the minimum detectable effect (MDE) beside every "not significant".

A test of an estimate with standard error `se` and `df` degrees of freedom (paired t: se = s_d / sqrt(n),
df = n - 1; Welch: se = sqrt(s_a^2/n_a + s_b^2/n_b), Welch-Satterthwaite df; the example bootstrap: its
interval's half-width / z, df infinite) rejects a true difference delta at two-sided level a with power

    P(|T| > t_{1-a/2, df}),  T ~ noncentral t(df, ncp = delta / se).

The MDE is the delta at which that power equals the target (0.8): MDE = ncp*(df, a, power) * se, ncp* solved
exactly from the noncentral t (scipy.stats.nct), not from the normal shortcut (t_{1-a/2} + t_power) * se,
which is 10-20% optimistic at 3-5 seeds. `a` is the level after the family's correction: alpha / m, the
level Holm applies to the smallest p of m tests (Bonferroni; conservative for Holm's later steps and for BH).
A rank or sign test cannot reject at all when its smallest attainable p exceeds `a` (MDE infinite); else its
MDE is the t-test's divided by sqrt(ARE), its asymptotic relative efficiency under normal errors (Wilcoxon
3/pi; the sign-flip test on the mean 1). Power at the reported MDE is calibrated in validation/CALIBRATION.md.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class Spread:
    """The noise an estimate carries: its standard error, degrees of freedom, and pairs (for discrete tests)."""

    se: float
    df: float
    n: int


def paired_spread(d) -> Spread:
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n < 2:
        return Spread(math.nan, math.nan, n)
    return Spread(float(d.std(ddof=1) / math.sqrt(n)), float(n - 1), n)


def welch_spread(a, b) -> Spread:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return Spread(math.nan, math.nan, len(a) + len(b))
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Spread(0.0, math.nan, len(a) + len(b))
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return Spread(float(se), float(df), len(a) + len(b))


def interval_spread(low: float, high: float, confidence: float, n: int) -> Spread:
    """From a normal-theory or percentile interval: se = half-width / z (the example bootstrap's)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return Spread(math.nan, math.nan, n)
    z = stats.norm.ppf(0.5 + confidence / 2)
    return Spread(float((high - low) / (2 * z)), math.inf, n)


def power_ncp(ncp: float, df: float, level: float) -> float:
    """Two-sided power of a t test at `level` when the true standardised effect is `ncp`."""
    if math.isinf(df):
        crit = stats.norm.ppf(1 - level / 2)
        return float(stats.norm.sf(crit - ncp) + stats.norm.cdf(-crit - ncp))
    crit = stats.t.ppf(1 - level / 2, df)
    upper = stats.nct.sf(crit, df, ncp)
    if not math.isfinite(upper):
        upper = 1.0 - stats.nct.cdf(crit, df, ncp)
    lower = stats.nct.cdf(-crit, df, ncp)  # the wrong-sign tail, below level / 2; scipy gives NaN deep in it
    return float(upper + (lower if math.isfinite(lower) else 0.0))


@functools.lru_cache(maxsize=4096)
def required_ncp(df: float, level: float, power: float) -> float:
    """The standardised effect at which a two-sided t test at `level` has `power`."""
    hi = 1.0
    while power_ncp(hi, df, level) < power:
        hi *= 2
        if hi > 1e6:
            return math.inf
    return float(optimize.brentq(lambda x: power_ncp(x, df, level) - power, 0.0, hi, xtol=1e-10))


def power(delta: float, spread: Spread, level: float, efficiency: float = 1.0) -> float:
    """Power to detect a true difference `delta` given the estimate's spread."""
    if not (math.isfinite(spread.se) and spread.se > 0 and math.isfinite(spread.df) or math.isinf(spread.df)):
        return math.nan
    return power_ncp(abs(delta) * math.sqrt(efficiency) / spread.se, spread.df, level)


def mde(spread: Spread, level: float, target: float = 0.8, efficiency: float = 1.0, min_p: float = 0.0) -> float:
    """The smallest true difference found with probability `target` at two-sided `level` (NaN: no spread to
    judge by; inf: the test cannot reach `level` at all)."""
    if min_p > level:
        return math.inf
    if not (math.isfinite(spread.se) and spread.se > 0) or not (math.isfinite(spread.df) or math.isinf(spread.df)):
        return math.nan
    return required_ncp(spread.df, level, target) * spread.se / math.sqrt(efficiency)


def seeds_needed(sd_diff: float, delta: float, level: float, target: float = 0.8, efficiency: float = 1.0,
                 min_p=lambda n: 0.0, max_seeds: int = 1000) -> int | None:
    """The fewest seed pairs with which a paired test at `level` finds a true `delta` with probability `target`,
    given the per-seed standard deviation of the differences (None: more than `max_seeds`)."""
    if not (sd_diff > 0 and delta > 0):
        return None
    for n in range(2, max_seeds + 1):
        if min_p(n) > level:
            continue
        if power(delta, Spread(sd_diff / math.sqrt(n), n - 1, n), level, efficiency) >= target:
            return n
    return None
