r"""Almost Stochastic Order (ASO): are A's scores almost stochastically larger than B's?

Implemented from the definitions, not from deepsig (GPL-3.0; its quantile grid is approximate).

Let F, G be the CDFs of A's and B's scores (over seeds) and F^-1, G^-1 their quantile functions.
del Barrio, Cuesta-Albertos & Matran (2018, "An optimal transportation approach for assessing almost
stochastic order") define the violation ratio

    eps_W2(F, G) = int_V (F^-1(t) - G^-1(t))^2 dt / W2(F, G)^2,    V = {t in (0, 1): F^-1(t) < G^-1(t)},
    W2(F, G)^2   = int_0^1 (F^-1(t) - G^-1(t))^2 dt,

the share of the squared Wasserstein-2 distance where A lies below B: 0 when A stochastically dominates B,
1 when B dominates A, and eps(F, G) + eps(G, F) = 1, so samples from one distribution land near 0.5.
Dror, Shlomov & Reichart (2019, "Deep Dominance - How to Properly Compare Deep Neural Models", ACL) test
H0: eps_W2(F, G) >= eps vs H1: eps_W2(F, G) < eps and report the smallest eps that is rejected at level
alpha,

    eps_min(F_n, G_m, alpha) = eps_W2(F_n, G_m) - sqrt((n + m) / (n m)) * sigma_hat * Phi^-1(alpha),

with sigma_hat^2 the bootstrap variance of sqrt(n m / (n + m)) * (eps_W2(F*_n, G*_m) - eps_W2(F_n, G_m)),
F*_n and G*_m resampled with replacement (sizes n and m, independently: ASO compares distributions, not
pairs). As Phi^-1(alpha) < 0, eps_min = eps_hat + z_(1-alpha) * sd(eps*): an upper confidence bound on
eps, so a small eps_min is evidence. A is called almost stochastically dominant when eps_min < tau: Dror
et al. use tau = 0.5, Ulmer et al. (2022, deep-significance) recommend tau = 0.2 (our default). For k
comparisons the level is Bonferroni-adjusted to alpha / k (Dror et al. 2019).

The empirical quantile function F_n^-1(t) = x_(ceil(n t)) is a step function, so the integrals are computed
exactly over the merged steps of the two samples (no grid).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from harness.stats.registry import ASO_TAU as TAU  # Ulmer et al. 2022


@functools.lru_cache(maxsize=256)
def _upper_quantile(level: float) -> float:
    """Phi^-1(1 - level), kept: a report reads every table's ASO again at its family's few levels."""
    return float(norm.ppf(1 - level))


@dataclass(frozen=True)
class AsoResult:
    eps_min: float  # A over B: small means A almost stochastically dominates B
    eps_min_reverse: float  # B over A, from the same bootstrap
    eps_hat: float  # the violation ratio of the samples
    sigma: float  # bootstrap standard deviation of eps*
    alpha: float  # the level used, after Bonferroni
    n_a: int
    n_b: int
    note: str = ""

    @property
    def ok(self) -> bool:
        return math.isfinite(self.eps_min)

    def at(self, alpha: float, n_comparisons: int = 1) -> AsoResult:
        """The same test at level alpha / n_comparisons: eps_min moves with the normal quantile, the
        bootstrap spread does not, so no new bootstrap is drawn."""
        from dataclasses import replace

        level = alpha / max(1, n_comparisons)
        if not math.isfinite(self.sigma) or not math.isfinite(self.eps_hat):
            return replace(self, alpha=level)
        margin = self.sigma * _upper_quantile(level)
        return replace(self, eps_min=float(min(1.0, self.eps_hat + margin)),
                       eps_min_reverse=float(min(1.0, 1 - self.eps_hat + margin)), alpha=level)

    def dominates(self, tau: float = TAU) -> bool:
        return self.ok and self.eps_min < tau

    def dominated(self, tau: float = TAU) -> bool:
        return self.ok and self.eps_min_reverse < tau


def _steps(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The merged steps of two empirical quantile functions: order-statistic indices and step widths."""
    bounds = np.unique(np.concatenate([[0.0], np.arange(1, n + 1) / n, np.arange(1, m + 1) / m]))
    bounds[-1] = 1.0
    widths = np.diff(bounds)
    keep = widths > 1e-15
    mids = ((bounds[:-1] + bounds[1:]) / 2)[keep]
    # t in ((i-1)/n, i/n] -> x_(i): floor(t n) at an interior point is i - 1, safe from rounding at the edges
    return np.floor(mids * n).astype(int), np.floor(mids * m).astype(int), widths[keep]


def _ratios(a_sorted: np.ndarray, b_sorted: np.ndarray, steps) -> tuple[np.ndarray, np.ndarray]:
    """Violation ratio and W2^2 for each row of sorted samples (rows: bootstrap draws)."""
    ia, ib, w = steps
    diff = a_sorted[..., ia] - b_sorted[..., ib]
    sq = diff ** 2 * w
    total = sq.sum(axis=-1)
    violated = np.where(diff < 0, sq, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return violated / total, total


def violation_ratio(a, b) -> float:
    """eps_W2(F_A, F_B) of two samples; NaN when they have the same quantile function (W2 = 0)."""
    x, y = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    if not len(x) or not len(y):
        raise ValueError("violation_ratio needs two non-empty samples")
    eps, total = _ratios(x, y, _steps(len(x), len(y)))
    return float(eps) if total > 0 else math.nan


def aso(a, b, alpha: float = 0.05, n_comparisons: int = 1, n_bootstrap: int = 1000, seed: int = 0) -> AsoResult:
    """eps_min of "A almost stochastically dominates B" (and the reverse) at level alpha / n_comparisons."""
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    level = alpha / max(1, n_comparisons)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        return AsoResult(math.nan, math.nan, math.nan, math.nan, level, n, m,
                         f"ASO needs at least 2 seeds per arm (A: {n}, B: {m})")
    steps = _steps(n, m)
    eps_hat, total = _ratios(np.sort(x), np.sort(y), steps)
    if total <= 0:
        return AsoResult(math.nan, math.nan, math.nan, 0.0, level, n, m, "identical score distributions: no order")
    rng = np.random.default_rng(seed)
    xs = np.sort(rng.choice(x, size=(n_bootstrap, n), replace=True), axis=1)
    ys = np.sort(rng.choice(y, size=(n_bootstrap, m), replace=True), axis=1)
    eps_star, totals = _ratios(xs, ys, steps)
    eps_star = eps_star[totals > 0]  # a draw where both resamples coincide has no order: undefined, dropped
    if len(eps_star) < 2:
        return AsoResult(math.nan, math.nan, float(eps_hat), math.nan, level, n, m,
                         "bootstrap draws have no spread: eps_min undefined")
    sigma = float(np.std(eps_star, ddof=1))
    margin = sigma * _upper_quantile(level)  # = -sqrt((n+m)/(nm)) * sd(sqrt(nm/(n+m)) eps*) * Phi^-1(alpha)
    note = "" if len(eps_star) == n_bootstrap else f"{n_bootstrap - len(eps_star)} degenerate bootstrap draws dropped"
    return AsoResult(float(min(1.0, eps_hat + margin)), float(min(1.0, 1 - eps_hat + margin)), float(eps_hat),
                     sigma, level, n, m, note)
