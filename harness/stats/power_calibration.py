"""Simulated checks of what the report and the plan claim about power, and of the sequential rule's error.

Three claims, each checked on simulated studies with known truth (validation/calibrate.py records them):
- the MDE printed beside "not significant" (harness.stats.power.mde) is found with 80% power;
- the plan's seed count (power.seeds_needed) is the fewest seeds reaching 80% power;
- the sequential rule (harness.stats.sequential) keeps the family-wise error at or below alpha, and uses on
  average some number of seeds, compared here with the fixed design of the same power.

A study is one row of an array of shape (reps, m comparisons, n seeds) of per-seed paired differences
delta + sd * (sqrt(rho) * shared_s + sqrt(1 - rho) * own_js): `shared` is the part every comparison of the
family has in common, as when B_1..B_m are each compared with one arm A (rho = 0.5 for equal arm noise). The
standardised noise is normal, Student t with 3 df (heavy tails) or a centred exponential (skewness 2).
The paired t p-values are `sequential.look_pvalues`, the vectorised form of the report's `paired_t`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.stats import multiple
from harness.stats.power import Spread, mde, power, seeds_needed
from harness.stats.registry import TESTS
from harness.stats.sequential import SequentialDesign, look_pvalues

NOISE = ("normal", "t3", "skew1", "skew2")


def noise(rng: np.random.Generator, kind: str, shape) -> np.ndarray:
    """Mean 0, variance 1 draws: normal; Student t, 3 df (heavy tails); a centred gamma of shape 4 (skewness 1)
    or exponential (skewness 2: an occasional seed far ahead, as when one arm's run collapses)."""
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "t3":
        return rng.standard_t(3, shape) / math.sqrt(3.0)  # Var(t_3) = 3
    if kind == "skew1":
        return (rng.standard_gamma(4.0, shape) - 4.0) / 2.0
    if kind == "skew2":
        return rng.standard_exponential(shape) - 1.0
    raise ValueError(f"unknown noise {kind!r}; choose one of {', '.join(NOISE)}")


def differences(rng: np.random.Generator, reps: int, m: int, n: int, delta=0.0, sd: float = 1.0,
                kind: str = "normal", rho: float = 0.0) -> np.ndarray:
    """Per-seed paired differences, shape (reps, m, n); `delta` broadcasts against (reps, m, 1)."""
    own = noise(rng, kind, (reps, m, n))
    if rho:
        own = math.sqrt(rho) * noise(rng, kind, (reps, 1, n)) + math.sqrt(1.0 - rho) * own
    return np.asarray(delta, dtype=float) + sd * own


def paired_p(d: np.ndarray) -> np.ndarray:
    """Two-sided paired t p-value of every row of d (last axis: the seeds)."""
    return look_pvalues(d, (d.shape[-1],))[..., 0]


# ------------------------------------------------------------------------------- power at the reported MDE
@dataclass(frozen=True)
class MdePower:
    n: int
    m: int
    level: float  # alpha / m
    mde_sd: float  # the MDE from the true SD, in units of that SD
    power_true_sd: float  # rejection rate at a true effect of that MDE (Bonferroni level)
    power_holm_alone: float  # the same after Holm at alpha, the other m - 1 comparisons null
    power_holm_all: float  # the same after Holm at alpha, every comparison of the family at the MDE
    power_observed_sd: float  # rejection rate at a true effect of each study's own reported MDE
    ratio_quantiles: tuple[float, float, float]  # 10/50/90% of observed-SD MDE / true-SD MDE
    power_quantiles: tuple[float, float, float]  # the true power of the reported MDE at those quantiles
    optimistic: float  # share of studies whose reported MDE is below the true-SD MDE (power < target)


def mde_power(reps: int, n: int, m: int, alpha: float = 0.05, target: float = 0.8, seed: int = 0) -> MdePower:
    """Power at the MDE the report prints (`mde` at level alpha/m from a paired spread), for normal differences
    of SD 1 (the MDE scales with the SD, so one SD stands for all)."""
    rng = np.random.default_rng(seed)
    level = alpha / m
    true_mde = mde(Spread(1.0 / math.sqrt(n), n - 1, n), level, target)
    hit = paired_p(differences(rng, reps, 1, n, true_mde))[:, 0] < level
    holm = []
    for shifted in (np.arange(m) == 0, np.ones(m, dtype=bool)):
        family = paired_p(differences(rng, reps, m, n, np.where(shifted, true_mde, 0.0)[None, :, None]))
        holm.append(float((np.apply_along_axis(multiple.holm, 1, family)[:, 0] < alpha).mean()))
    # each study reports the MDE from its own SD; a fresh study at that true effect tests it
    s = differences(rng, reps, 1, n)[:, 0].std(axis=1, ddof=1)
    reported = np.array([mde(Spread(v / math.sqrt(n), n - 1, n), level, target) for v in s])
    again = paired_p(differences(rng, reps, 1, n, reported[:, None, None]))[:, 0] < level
    ratio = np.quantile(reported / true_mde, (0.1, 0.5, 0.9))
    curve = tuple(power(true_mde * r, Spread(1.0 / math.sqrt(n), n - 1, n), level) for r in ratio)
    return MdePower(n, m, level, float(true_mde), float(hit.mean()), *holm, float(again.mean()),
                    tuple(map(float, ratio)), curve, float(np.mean(reported < true_mde)))


# ------------------------------------------------------------------------------- the plan's seed counts
@dataclass(frozen=True)
class PlanPower:
    sd: float
    m: int
    level: float
    seeds: int | None  # the plan's k (None: more than seeds_needed's cap)
    power_at: tuple[float, float]  # noncentral-t power at k and k - 1
    simulated_at: tuple[float, float]  # rejection rates at k and k - 1 seeds (NaN: k - 1 < 2, no test)


def plan_power(reps: int, sd: float, m: int, effect: float, alpha: float = 0.05, target: float = 0.8,
               seed: int = 0, test: str = "t") -> PlanPower:
    """The seeds the plan asks for (its call of `seeds_needed` for a paired test) against simulated power at
    that count and one fewer; sd and effect in the same unit (points)."""
    entry = TESTS[test]
    level = alpha / m
    k = seeds_needed(sd, effect, level, target, entry.efficiency, entry.min_p)
    if k is None:
        return PlanPower(sd, m, level, None, (math.nan, math.nan), (math.nan, math.nan))
    rng = np.random.default_rng(seed)
    analytic, simulated = [], []
    for n in (k, k - 1):
        if n < 2:
            analytic.append(math.nan)
            simulated.append(math.nan)
            continue
        analytic.append(power(effect, Spread(sd / math.sqrt(n), n - 1, n), level, entry.efficiency))
        simulated.append(float(np.mean(paired_p(differences(rng, reps, 1, n, effect, sd))[:, 0] < level)))
    return PlanPower(sd, m, level, k, tuple(analytic), tuple(simulated))


# ------------------------------------------------------------------------------- the sequential rule
@dataclass(frozen=True)
class SequentialError:
    looks: tuple[int, ...]
    m: int
    kind: str
    rho: float
    nominal: float  # p*
    fwer: float  # share of null studies with any comparison significant
    per_comparison: float  # share of null comparisons significant (Bonferroni spends alpha / m on each)
    fixed_fwer: float  # the same studies read once at max seeds by the paired t at alpha / m


def first_crossing(d: np.ndarray, design: SequentialDesign, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(significant, seeds used) per path of d (..., max seeds) under the design read for a family of m: the
    first look whose p <= p* decides and stops; a path never crossing runs to max seeds."""
    looks = design.looks
    crossed = look_pvalues(d, looks) <= design.nominal(m)
    significant = crossed.any(axis=-1)
    used = np.where(significant, np.asarray(looks)[np.argmax(crossed, axis=-1)], looks[-1])
    return significant, used


def sequential_error(reps: int, design: SequentialDesign, m: int, kind: str = "normal", rho: float = 0.0,
                     seed: int = 0) -> SequentialError:
    """Family-wise error of the rule under the complete null (every comparison's true difference 0)."""
    rng = np.random.default_rng(seed)
    d = differences(rng, reps, m, design.max_seeds, 0.0, 1.0, kind, rho)
    significant, _ = first_crossing(d, design, m)
    fixed = paired_p(d) < design.alpha / m
    return SequentialError(design.looks, m, kind, rho, design.nominal(m), float(significant.any(axis=1).mean()),
                           float(significant.mean()), float(fixed.any(axis=1).mean()))


@dataclass(frozen=True)
class SequentialSavings:
    looks: tuple[int, ...]
    m: int
    effect: float  # true difference / SD of the per-seed differences
    power: float  # the sequential rule's, simulated
    mean_seeds: float  # seeds it used on average
    fixed_seeds: float  # seeds a fixed design at alpha / m needs for the same power (interpolated)
    fixed_power_at_max: float  # the fixed design's power with the sequential rule's max seeds

    @property
    def saving(self) -> float:
        """1 - mean seeds / fixed seeds: positive is saved, negative lost."""
        return 1.0 - self.mean_seeds / self.fixed_seeds


def fixed_seeds_for(target: float, effect: float, level: float, max_seeds: int = 10_000) -> float:
    """The (interpolated) seeds at which a fixed paired t design at `level` reaches power `target`: between the
    integers n - 1 and n around the crossing, linear in power (below 2 seeds: 2)."""
    curve = lambda n: power(effect, Spread(1.0 / math.sqrt(n), n - 1, n), level)  # noqa: E731
    previous = curve(2)
    if previous >= target:
        return 2.0
    for n in range(3, max_seeds + 1):
        now = curve(n)
        if now >= target:
            return n - 1 + (target - previous) / (now - previous)
        previous = now
    return math.inf


def sequential_savings(reps: int, design: SequentialDesign, m: int, effect: float, seed: int = 0
                       ) -> SequentialSavings:
    """Power and mean seeds of one comparison (its stopping depends on its own path only) at a true
    standardised effect, against the fixed design of equal power at the family's level alpha / m."""
    z = np.random.default_rng(seed).standard_normal((reps, design.max_seeds))
    return _savings(z, design, m, effect)


def effect_for_power(reps: int, design: SequentialDesign, m: int, target: float, seed: int = 0) -> SequentialSavings:
    """`sequential_savings` at the standardised effect where the rule's simulated power is `target`, found by
    bisection on one set of simulated paths (common random numbers: the power is then monotone in the effect)."""
    z = np.random.default_rng(seed).standard_normal((reps, design.max_seeds))
    low, high = 0.0, 1.0
    while _savings(z, design, m, high).power < target:
        low, high = high, 2 * high
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if _savings(z, design, m, mid).power < target else (low, mid)
    return _savings(z, design, m, high)


def _savings(z: np.ndarray, design: SequentialDesign, m: int, effect: float) -> SequentialSavings:
    significant, used = first_crossing(effect + z, design, m)
    level = design.alpha / m
    got = float(significant.mean())
    n = design.max_seeds
    return SequentialSavings(design.looks, m, effect, got, float(used.mean()), fixed_seeds_for(got, effect, level),
                             power(effect, Spread(1.0 / math.sqrt(n), n - 1, n), level))
