"""Group-sequential seeding (`seeds: {min: 3, max: 10, step: 1, until: decided}`): seeds are added in rounds
only to comparisons still undecided, and the family-wise error stays at alpha.

The rule. Each comparison (one paired test of A - B over seeds) is looked at after `min`, `min + step`, ...,
`max` seeds, declared in advance. At every look it is significant when its paired t p-value is at or below
one constant nominal level p* (a repeated-significance boundary of Pocock's type: Pocock 1977; Jennison &
Turnbull 2000, ch. 2-3); a comparison still not significant at `max` seeds is not significant. The first
crossing decides: later seeds, added for other comparisons, never undo it. p* is set so that, under H0, the
chance that ANY look crosses is alpha / m for a family of m comparisons; Bonferroni over the family then
keeps the family-wise error at or below alpha across the looks and the comparisons, whatever the dependence
between comparisons (they share arms), as long as the per-seed differences are roughly symmetric: the
paired t's own level, and with it this rule's, is exceeded when they are skewed (validation/CALIBRATION.md,
"Sequential seeds": 0.12 at skewness 1, against 0.12 for a fixed t at max seeds). There is no futility stop: a comparison without an effect runs to
`max` seeds (a non-binding one could be added without raising the error; it would cost power).

Why a simulation. Under H0 with normal per-seed differences the paired t statistics at the looks are pivotal
(their joint law does not depend on the unknown spread), so P_H0(min over looks of p <= p*) is one fixed
function of p*, evaluated once on N = 1,000,000 simulated null paths (seeded, so deterministic; cached).
p* is the k-th smallest simulated minimum, with k the 2.5% quantile of Binomial(N, alpha/m): the true error
exceeds alpha / m with probability below 2.5% over the simulation, instead of half the time.
p* never leaves [alpha / (m K), alpha / m] for K looks (Bonferroni over the looks, and one look alone).
The same approach with permutation tests is AdaStop (Mathieu et al. 2023), the RL-comparison precedent.
Calibration (error under the complete null, power and seeds used against a fixed design): validation/CALIBRATION.md.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from harness.stats.seeds import DECIMALS, ZERO, paired_t

DECISIONS = ("significant", "undecided", "not significant")
NULL_PATHS = 1_000_000
_CHUNK = 100_000
_SIM_SEED = 20230  # the null paths' seed: p* is a constant of the design, the same on every machine
_CONFIDENCE = 0.025  # P(the simulated p* lets the true error exceed alpha / m)


@dataclass(frozen=True)
class Decision:
    """What one comparison's looks so far say; `seeds` is the look that decided it (or the last one taken)."""

    decision: str  # one of DECISIONS
    seeds: int
    p: float  # the paired t p-value at that look (NaN when it had none)
    nominal: float  # the level p is read at: p* for the family
    note: str = ""


@dataclass(frozen=True)
class SequentialDesign:
    min_seeds: int
    max_seeds: int
    step: int = 1
    alpha: float = 0.05

    def __post_init__(self):
        for key, value in (("min", self.min_seeds), ("max", self.max_seeds), ("step", self.step)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"seeds.{key} must be an integer, got {value!r}")
        if self.min_seeds < 2:
            raise ValueError(f"seeds.min is {self.min_seeds}: a paired t-test needs at least 2 seeds (use 3 or more)")
        if self.max_seeds < self.min_seeds:
            raise ValueError(f"seeds.max ({self.max_seeds}) is below seeds.min ({self.min_seeds})")
        if self.step < 1:
            raise ValueError(f"seeds.step is {self.step}: seeds are added at least one at a time")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")

    @property
    def looks(self) -> tuple[int, ...]:
        """Seeds at each pre-declared look: min, min + step, ..., and max (a last, shorter round if need be)."""
        out = tuple(range(self.min_seeds, self.max_seeds + 1, self.step))
        return out if out[-1] == self.max_seeds else out + (self.max_seeds,)

    def nominal(self, m: int) -> float:
        """The two-sided p-value at or below which one comparison of a family of m stops as significant."""
        return nominal_level(self.looks, self.alpha / max(1, int(m)))

    def evaluate(self, diffs, m: int) -> Decision:
        """The decision for the paired per-seed differences seen so far, in the order the seeds were added:
        every look up to len(diffs) is read on its prefix, and the first crossing decides."""
        d = np.asarray(diffs, dtype=float).ravel()
        if len(d) > self.max_seeds:
            raise ValueError(f"{len(d)} seeds, more than the design's max of {self.max_seeds}: the looks after "
                             f"{self.max_seeds} are not part of the pre-declared rule")
        level = self.nominal(m)
        taken = [n for n in self.looks if n <= len(d)]
        if not taken:
            return Decision("undecided", len(d), math.nan, level, f"the first look is at {self.min_seeds} seeds")
        p, note = math.nan, ""
        for n in taken:
            p, note = _look(d[:n])
            if p <= level:
                return Decision("significant", n, p, level, note)
        final = taken[-1] == self.max_seeds
        return Decision("not significant" if final else "undecided", taken[-1], p, level, note)

    def decide(self, diffs, m: int) -> str:
        """"significant" | "undecided" | "not significant" (see `evaluate`, which also says why)."""
        return self.evaluate(diffs, m).decision

    def describe(self, m: int) -> str:
        """One sentence for a report: the looks, the boundary, its nominal level, the family."""
        m = max(1, int(m))
        looks = self.looks
        shown = ", ".join(map(str, looks)) if len(looks) <= 4 else f"{looks[0]}, {looks[1]}, ..., {looks[-1]}"
        family = f"α/m = {self.alpha:g}/{m} = {self.alpha / m:.2g}" if m > 1 else f"α = {self.alpha:g}"
        bonferroni = f"; Bonferroni over the family of {m} keeps the family-wise error at most {self.alpha:g}" \
            if m > 1 else ""
        return (f"Sequential seeds (group-sequential paired t, Pocock-type boundary; Pocock 1977, Jennison & "
                f"Turnbull 2000): looks at {shown} seeds; a comparison is significant at the first look whose "
                f"paired t p <= {self.nominal(m):.2g}, the constant nominal level at which its {len(looks)} "
                f"looks together spend {family} under H0, and one not significant by {looks[-1]} seeds is not "
                f"significant{bonferroni}; no futility stop.")


def _look(d: np.ndarray) -> tuple[float, str]:
    """One look's paired t p-value (as the report's `paired_t` computes it) and why there is none."""
    bad = int((~np.isfinite(d)).sum())
    if bad:
        return math.nan, f"{bad} of {len(d)} differences NaN or infinite (a missing run?): this look cannot reject"
    r = np.round(d, DECIMALS)
    if np.all(np.abs(r) <= ZERO):
        return 1.0, f"identical scores on all {len(d)} seeds"
    if np.ptp(r) <= ZERO:
        return math.nan, f"the same difference on all {len(d)} seeds (zero variance): t is undefined, this look cannot reject"
    return paired_t(d, np.zeros(len(d))).pvalue, ""


def look_pvalues(d: np.ndarray, looks: tuple[int, ...]) -> np.ndarray:
    """Two-sided paired t p-values of the zero-mean test at each look, for paths d of shape (..., max seeds):
    the vectorised form of `harness.stats.seeds.paired_t` on each prefix (NaN where a prefix has no spread)."""
    idx = np.asarray(looks) - 1
    n = np.asarray(looks, dtype=float)
    mean = np.cumsum(d, axis=-1)[..., idx] / n
    dev = np.cumsum(d * d, axis=-1)[..., idx] - n * mean * mean
    with np.errstate(divide="ignore", invalid="ignore"):
        t2 = np.where(dev > 0, mean * mean * n * (n - 1) / dev, np.nan)  # no spread: no t (as paired_t)
        df = n - 1
        return special.betainc(df / 2, 0.5, df / (df + t2))  # = 2 * t.sf(|t|, df)


def path_minima(d: np.ndarray, looks: tuple[int, ...]) -> np.ndarray:
    """The smallest look p-value of each path: a path is rejected at level p* when this is <= p*."""
    return np.nanmin(look_pvalues(d, looks), axis=-1)


@functools.lru_cache(maxsize=8)
def null_minima(looks: tuple[int, ...], paths: int = NULL_PATHS) -> np.ndarray:
    """Sorted minima over the looks of paired t p-values on simulated null paths (N(0, 1) differences)."""
    rng = np.random.default_rng(_SIM_SEED)
    out = np.empty(paths)
    for start in range(0, paths, _CHUNK):
        size = min(_CHUNK, paths - start)
        out[start:start + size] = path_minima(rng.standard_normal((size, looks[-1])), looks)
    out.sort()
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=256)
def nominal_level(looks: tuple[int, ...], level: float) -> float:
    """p* with P_H0(any look's p <= p*) <= level (see the module's docstring)."""
    low = level / len(looks)  # Bonferroni over the looks: valid whatever the simulation says
    if len(looks) == 1:
        return level
    minima = null_minima(looks)
    k = int(stats.binom.ppf(_CONFIDENCE, len(minima), level))
    if k < 1:  # too small a level for the simulation to resolve
        return low
    return float(min(level, max(low, minima[k - 1])))
