"""Simulated studies with known truth: how often each test rejects under A/A (false positives) and under a
known shift (power). Used by validation/calibrate.py (the recorded figures) and by a fast test.

Seed level: a_s = mu + u_s + e_as, b_s = mu + u_s + e_bs + shift, with u_s ~ N(0, seed_sd) the part of a
seed both arms share (data order, initial head) and e ~ N(0, arm_sd) the rest. Welch is simulated on
unpaired arms (no shared u), its intended use. Example level: each test example has a difficulty p_i ~
Beta(a, b); in each seed, arm A answers it correctly with probability p_i, arm B with p_i + shift (clipped),
independently. With `seed_logit_sd` > 0 each (arm, seed) also gets its own shift on the logit scale: A/A
models that differ by seed only, which example-level tests are not built to ignore.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats

from harness.stats.aso import TAU, aso
from harness.stats import examples, multiple, seeds
from harness.stats.registry import TESTS, by_level
from harness.stats.effects import describe, mean_difference

SEED_TESTS = tuple(t.name for t in by_level("seed"))  # every registered test is calibrated
EXAMPLE_TESTS = tuple(t.name for t in by_level("example"))


@dataclass(frozen=True)
class SeedModel:
    n_seeds: int = 5
    mu: float = 0.70
    seed_sd: float = 0.02
    arm_sd: float = 0.03
    shift: float = 0.0  # B - A in accuracy units


def seed_scores(rng: np.random.Generator, m: SeedModel, paired: bool = True) -> tuple[np.ndarray, np.ndarray]:
    u_a = rng.normal(0, m.seed_sd, m.n_seeds)
    u_b = u_a if paired else rng.normal(0, m.seed_sd, m.n_seeds)
    a = m.mu + u_a + rng.normal(0, m.arm_sd, m.n_seeds)
    b = m.mu + u_b + rng.normal(0, m.arm_sd, m.n_seeds) + m.shift
    return a, b


def seed_rejections(n_sims: int, model: SeedModel, alpha: float = 0.05, seed: int = 0,
                    tests=SEED_TESTS, n_resamples: int = 9999) -> dict[str, float]:
    """Rejection rate at alpha of each seed-level test over n_sims simulated studies."""
    rng = np.random.default_rng(seed)
    hits = {t: 0 for t in tests}
    paired = [t for t in tests if TESTS[t].paired]
    unpaired = [t for t in tests if not TESTS[t].paired]
    for i in range(n_sims):
        a, b = seed_scores(rng, model, paired=True)
        for t in paired:
            hits[t] += TESTS[t].run(a, b, n_resamples=n_resamples, seed=seed + i).pvalue < alpha
        if unpaired:  # an unpaired test on unpaired arms: its intended use
            x, y = seed_scores(rng, model, paired=False)
            for t in unpaired:
                hits[t] += TESTS[t].run(x, y, n_resamples=n_resamples, seed=seed + i).pvalue < alpha
    return {t: hits[t] / n_sims for t in tests}


@dataclass(frozen=True)
class ExampleModel:
    n_examples: int = 500
    n_seeds: int = 5
    beta_a: float = 2.0
    beta_b: float = 1.0  # mean difficulty 2/3: accuracy around 0.67
    shift: float = 0.0
    seed_logit_sd: float = 0.0


def example_scores(rng: np.random.Generator, m: ExampleModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = rng.beta(m.beta_a, m.beta_b, m.n_examples)
    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    a, b = [], []
    for _ in range(m.n_seeds):
        ja, jb = rng.normal(0, m.seed_logit_sd, 2) if m.seed_logit_sd else (0.0, 0.0)
        pa = 1 / (1 + np.exp(-(logit + ja)))
        pb = np.clip(1 / (1 + np.exp(-(logit + jb))) + m.shift, 0, 1)
        a.append(rng.random(m.n_examples) < pa)
        b.append(rng.random(m.n_examples) < pb)
    strata = np.repeat(np.arange(m.n_seeds), m.n_examples)
    return np.concatenate(a).astype(float), np.concatenate(b).astype(float), strata


def example_rejections(n_sims: int, model: ExampleModel, alpha: float = 0.05, seed: int = 0,
                       tests=EXAMPLE_TESTS, n_resamples: int = 999) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    hits = {t: 0 for t in tests}
    for i in range(n_sims):
        a, b, strata = example_scores(rng, model)
        for t in tests:
            hits[t] += TESTS[t].run(a, b, strata, n_resamples=n_resamples, seed=seed + i).pvalue < alpha
    return {t: hits[t] / n_sims for t in tests}


def aso_dominance(n_sims: int, model: SeedModel, alpha: float = 0.05, tau: float = TAU, seed: int = 0,
                  n_bootstrap: int = 500) -> float:
    """How often ASO declares B almost stochastically dominant over A (eps_min(B, A) < tau)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(n_sims):
        a, b = seed_scores(rng, model, paired=False)
        hits += aso(b, a, alpha, 1, n_bootstrap, seed + i).dominates(tau)
    return hits / n_sims


def true_eps_normal(mu_a: float, sd_a: float, mu_b: float, sd_b: float) -> float:
    """eps_W2 of N(mu_a, sd_a) over N(mu_b, sd_b): F^-1(t) - G^-1(t) = (mu_a - mu_b) + (sd_a - sd_b) z_t."""
    c, s = mu_a - mu_b, sd_a - sd_b
    f = lambda z: (c + s * z) ** 2 * stats.norm.pdf(z)  # noqa: E731
    total = c * c + s * s
    if s == 0:
        return 0.0 if c > 0 else 1.0
    root = -c / s  # where A crosses B; violation below the root if s > 0, above if s < 0
    below = integrate.quad(f, -np.inf, root)[0]
    return (below if s > 0 else total - below) / total


def aso_coverage(n_sims: int, n: int, mu_a: float, sd_a: float, mu_b: float, sd_b: float, alpha: float = 0.05,
                 seed: int = 0, n_bootstrap: int = 500) -> tuple[float, float]:
    """(true eps, share of simulations with true eps <= eps_min): eps_min is an upper bound at level 1 - alpha."""
    truth = true_eps_normal(mu_a, sd_a, mu_b, sd_b)
    rng = np.random.default_rng(seed)
    covered = 0
    for i in range(n_sims):
        r = aso(rng.normal(mu_a, sd_a, n), rng.normal(mu_b, sd_b, n), alpha, 1, n_bootstrap, seed + i)
        covered += truth <= r.eps_min
    return truth, covered / n_sims


def family_rates(n_sims: int, n_langs: int, n_effects: int, model: SeedModel, alpha: float = 0.05,
                 seed: int = 0) -> dict[str, float]:
    """Across languages (independent here), paired t per language, `n_effects` of them shifted by model.shift.

    fwer_holm: any true-null language rejected after Holm; fdr_bh: mean false share among BH rejections;
    pc_over: the partial-conjunction count exceeds the true number of languages with an effect.
    """
    rng = np.random.default_rng(seed)
    null = SeedModel(model.n_seeds, model.mu, model.seed_sd, model.arm_sd, 0.0)
    fwer = fdr = over = 0.0
    for _ in range(n_sims):
        p = np.array([seeds.paired_t(*seed_scores(rng, model if j < n_effects else null)).pvalue
                      for j in range(n_langs)])
        is_null = np.arange(n_langs) >= n_effects
        holm = multiple.holm(p) < alpha
        bh = multiple.benjamini_hochberg(p) < alpha
        fwer += bool(np.any(holm & is_null))
        fdr += (np.sum(bh & is_null) / bh.sum()) if bh.any() else 0.0
        over += multiple.partial_conjunction(p, alpha).count > n_effects
    return {"fwer_holm": fwer / n_sims, "fdr_bh": fdr / n_sims, "pc_over": over / n_sims}


def ci_coverage(n_sims: int, model: SeedModel, seed: int = 0, n_resamples: int = 1999) -> dict[str, float]:
    """Coverage of the true mean difference by the intervals a report can show: the paired t CI (beside the
    t, Wilcoxon and sign-flip tests), the Welch CI (unpaired arms) and, for reference, the BCa bootstrap
    over seeds (kept in the CSV only)."""
    rng = np.random.default_rng(seed)
    hits = {"paired t": 0, "Welch t": 0, "bootstrap over seeds": 0}
    for i in range(n_sims):
        a, b = seed_scores(rng, model)
        t = seeds.paired_t(b, a)
        hits["paired t"] += t.ci_low <= model.shift <= t.ci_high
        e = mean_difference(dict(enumerate(b)), dict(enumerate(a)), n_resamples=n_resamples, seed=i)
        hits["bootstrap over seeds"] += e.low <= model.shift <= e.high
        x, y = seed_scores(rng, model, paired=False)
        w = seeds.welch(y, x)
        hits["Welch t"] += w.ci_low <= model.shift <= w.ci_high
    return {k: v / n_sims for k, v in hits.items()}


def example_ci_coverage(n_sims: int, model: ExampleModel, seed: int = 0, n_resamples: int = 999) -> float:
    """Coverage by the example bootstrap's percentile CI (beside the bootstrap and AR tests) of the accuracy
    difference the two fixed models have in expectation over test sets: its question, not the method's."""
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(n_sims):
        p = rng.beta(model.beta_a, model.beta_b, model.n_examples)
        truth = float(np.mean(np.clip(p + model.shift, 0, 1) - p))
        a = np.concatenate([rng.random(model.n_examples) < p for _ in range(model.n_seeds)]).astype(float)
        b = np.concatenate([rng.random(model.n_examples) < np.clip(p + model.shift, 0, 1)
                            for _ in range(model.n_seeds)]).astype(float)
        strata = np.repeat(np.arange(model.n_seeds), model.n_examples)
        r = examples.paired_bootstrap(b, a, strata, n_resamples, seed + i)
        hits += r.ci_low <= truth <= r.ci_high
    return hits / n_sims


def arm_ci_coverage(n_sims: int, n: int, mu: float = 0.7, sd: float = 0.03, seed: int = 0,
                    bounded: bool = True) -> float:
    """Coverage of one arm's mean by its interval (the sample-count table and plots): the logit-t interval
    (bounded, the default) or the plain Student t."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_sims):
        s = describe(np.clip(rng.normal(mu, sd, n), 0, 1), bounded=bounded)
        hits += s.low <= mu <= s.high
    return hits / n_sims


def binomial_interval(rate: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson interval for a simulated rate: how far from alpha a rate may be by chance."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half
