"""Significance tests for SALT ablations, on MLflow runs (via `harness.tracking`) or plain arrays/DataFrames.

- `seeds`: per-seed scores paired by seed: paired t, Wilcoxon, sign-flip permutation; Welch when unpaired.
- `examples`: per-example predictions: paired bootstrap (Koehn 2004), approximate randomisation.
- `aso`: Almost Stochastic Order (Dror et al. 2019), eps_min with Bonferroni.
- `multiple`: Holm, Benjamini-Hochberg, partial conjunction (how many languages have an effect).
- `effects`: mean +- std per arm, mean difference with a bootstrap CI.
Every test returns a `TestResult` whose `note` says why there is no p-value, never a bare NaN.
"""
from harness.stats.aso import AsoResult, aso, violation_ratio
from harness.stats.effects import Effect, Summary, describe, mean_difference
from harness.stats.examples import (approximate_randomization, compare_examples, paired_bootstrap,
                                    paired_examples)
from harness.stats.multiple import adjust, benjamini_hochberg, holm, partial_conjunction
from harness.stats.result import TestResult
from harness.stats.seeds import compare_seeds, paired_t, sign_flip, welch, wilcoxon

__all__ = ["AsoResult", "Effect", "Summary", "TestResult", "adjust", "approximate_randomization", "aso",
           "benjamini_hochberg", "compare_examples", "compare_seeds", "describe", "holm", "mean_difference",
           "paired_bootstrap", "paired_examples", "paired_t", "partial_conjunction", "sign_flip",
           "violation_ratio", "welch", "wilcoxon"]
