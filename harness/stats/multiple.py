"""Corrections across languages, and how many languages show an effect.

Every function keeps the input order (deepsig's Bonferroni reorders p-values) and leaves NaN (no test) as
NaN, out of the family.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from harness.stats.registry import CORRECTIONS



def _split(pvalues) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pvalues, dtype=float).ravel()
    if np.any((p[np.isfinite(p)] < 0) | (p[np.isfinite(p)] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    return p, np.isfinite(p)


def holm(pvalues) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: controls the family-wise error under any dependence.

    Sorted ascending, p_adj(i) = max_{j <= i} min(1, (m - j + 1) p(j)); returned in the input order.
    """
    p, ok = _split(pvalues)
    out = np.full_like(p, np.nan)
    q = p[ok]
    m = len(q)
    if m:
        order = np.argsort(q, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
        res = np.empty(m)
        res[order] = adj
        out[ok] = res
    return out


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values (`scipy.stats.false_discovery_control`): controls the FDR."""
    p, ok = _split(pvalues)
    out = np.full_like(p, np.nan)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def adjust(pvalues, method: str = "holm") -> np.ndarray:
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "none":
        return _split(pvalues)[0].copy()
    raise ValueError(f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}")


@dataclass(frozen=True)
class PartialConjunction:
    pvalues: np.ndarray  # pvalues[u-1]: monotone p-value of "at least u of the N have an effect"
    count: int  # the largest u rejected at alpha (0: no evidence of any effect)
    n: int  # N: the tested units (finite p-values)
    alpha: float
    method: str


def partial_conjunction(pvalues, alpha: float = 0.05, method: str = "bonferroni") -> PartialConjunction:
    """How many of N languages show an effect (Benjamini & Heller 2008; Dror et al. 2017, TACL).

    With p(1) <= ... <= p(N) sorted, the partial-conjunction p-value of "at least u of N have an effect"
    combines the N - u + 1 largest: Bonferroni (N - u + 1) p(u), valid under any dependence (XNLI's test
    sets are translations of each other), or Fisher, -2 sum_{i >= u} log p(i) ~ chi2(2 (N - u + 1)),
    which assumes independence. The hypotheses are nested (at least u+1 implies at least u), so testing
    u = 1, 2, ... in order and stopping at the first non-rejection controls the family-wise error at alpha;
    the monotone p-values max_{v <= u} p^(v/N) express that, and `count` is the last u rejected. With
    Bonferroni, count equals the number of Holm rejections.
    """
    if method not in ("bonferroni", "fisher"):
        raise ValueError(f"unknown combination {method!r}; choose bonferroni or fisher")
    p, ok = _split(pvalues)
    q = np.sort(p[ok])
    n = len(q)
    raw = np.empty(n)
    for u in range(1, n + 1):
        tail = q[u - 1:]
        if method == "bonferroni":
            raw[u - 1] = min(1.0, len(tail) * tail[0])
        else:
            raw[u - 1] = stats.combine_pvalues(np.maximum(tail, 1e-300), method="fisher").pvalue
    mono = np.maximum.accumulate(raw) if n else raw
    count = int(np.sum(mono <= alpha))
    return PartialConjunction(mono, count, n, alpha, method)
