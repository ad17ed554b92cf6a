"""Effect sizes and per-arm summaries: what the gain is and how sure we are, beside whether it is zero."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Summary:
    """mean +- sample std (ddof 1) over n seeds; `low`, `high`: Student-t CI of the mean."""

    mean: float
    std: float
    n: int
    low: float = math.nan
    high: float = math.nan
    note: str = ""


def describe(values, confidence: float = 0.95, bounded: bool = True) -> Summary:
    """One arm's scores over seeds, with a Student t CI of the mean (honest for a handful of seeds, unlike a
    bootstrap). An accuracy lives in [0, 1]: with `bounded` the interval is built on the logit scale and
    mapped back, so it never leaves [0, 1] (a plain t interval around 0.96 +- 0.05 reaches 1.014)."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Summary(math.nan, math.nan, 0, note="no runs")
    if n == 1:
        return Summary(float(x[0]), math.nan, 1, note="one seed: no spread")
    mean, std = float(x.mean()), float(x.std(ddof=1))
    q = stats.t.ppf((1 + confidence) / 2, n - 1)
    if bounded and np.all((x >= 0) & (x <= 1)):
        z = _logit(np.clip(x, EDGE, 1 - EDGE))
        half = q * z.std(ddof=1) / math.sqrt(n)
        return Summary(mean, std, n, float(_expit(z.mean() - half)), float(_expit(z.mean() + half)))
    half = q * std / math.sqrt(n)
    return Summary(mean, std, n, mean - half, mean + half)


EDGE = 1e-4  # scores of exactly 0 or 1 are moved this far in before the logit


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def _expit(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@dataclass(frozen=True)
class Effect:
    """Mean difference A - B with a bootstrap CI; `paired` tells whether seeds were matched."""

    estimate: float
    low: float
    high: float
    n: int
    paired: bool
    note: str = ""


def mean_difference(a: pd.Series | Mapping, b: pd.Series | Mapping, confidence: float = 0.95,
                    n_resamples: int = 9999, seed: int = 0) -> Effect:
    """Mean difference over seeds with a 95% bootstrap CI (`scipy.stats.bootstrap`, BCa, percentile if BCa fails).

    Paired by seed when the arms share at least 2 seeds (bootstrap of the per-seed differences),
    otherwise the two arms are resampled independently.
    """
    sa = (a if isinstance(a, pd.Series) else pd.Series(dict(a), dtype=float)).dropna().astype(float)
    sb = (b if isinstance(b, pd.Series) else pd.Series(dict(b), dtype=float)).dropna().astype(float)
    if sa.empty or sb.empty:
        return Effect(math.nan, math.nan, math.nan, 0, False, "no scores for " + ("A" if sa.empty else "B"))
    common = sa.index.intersection(sb.index)
    paired = len(common) >= 2
    if paired:
        d = (sa.loc[common] - sb.loc[common]).to_numpy()
        est, n, data = float(d.mean()), len(d), (d,)
        spread = np.ptp(d)
    else:
        est, n, data = float(sa.mean() - sb.mean()), len(sa) + len(sb), (sa.to_numpy(), sb.to_numpy())
        spread = max(np.ptp(sa.to_numpy()), np.ptp(sb.to_numpy()))
    if min(len(x) for x in data) < 2:
        return Effect(est, math.nan, math.nan, n, paired, "one seed: no CI")
    if spread <= 1e-12:
        return Effect(est, est, est, n, paired, "no spread across seeds: the CI is a point")
    stat = (lambda d, axis=-1: np.mean(d, axis=axis)) if paired else \
        (lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis))
    low = high = math.nan
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = stats.bootstrap(data, stat, confidence_level=confidence, n_resamples=n_resamples, method=method,
                                 vectorized=True, rng=np.random.default_rng(seed)).confidence_interval
        low, high = float(ci.low), float(ci.high)
        if math.isfinite(low) and math.isfinite(high):
            break
    note = "" if paired else "unpaired (no common seeds)"
    return Effect(est, low, high, n, paired, note)
