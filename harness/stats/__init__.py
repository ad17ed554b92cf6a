"""Significance tests for SALT ablations, on MLflow runs (via `harness.tracking`) or plain arrays/DataFrames.

- `registry`: the tests a report can run, one entry each (function, pairing, interval, minimum p and seeds).
- `seeds`: per-seed scores paired by seed: paired t, Wilcoxon, sign-flip permutation; Welch when unpaired.
- `compare`: a registered test on per-seed series (paired by seed) or paired examples.
- `examples`: per-example predictions: paired bootstrap (Koehn 2004), approximate randomisation.
- `aso`: Almost Stochastic Order (Dror et al. 2019), eps_min with Bonferroni.
- `multiple`: Holm, Benjamini-Hochberg, partial conjunction (how many languages have an effect).
- `effects`: mean +- std per arm, mean difference with a bootstrap CI.
Every test returns a `TestResult` whose `note` says why there is no p-value, never a bare NaN. The names below
are imported on first use (PEP 562), so `harness.stats.registry` stays importable without scipy.
"""
from importlib import import_module

_HOME = {
    "AsoResult": "aso", "violation_ratio": "aso",  # `aso` itself is the submodule: harness.stats.aso.aso
    "Effect": "effects", "Summary": "effects", "describe": "effects", "mean_difference": "effects",
    "approximate_randomization": "examples", "compare_examples": "compare", "paired_bootstrap": "examples",
    "paired_examples": "examples",
    "adjust": "multiple", "benjamini_hochberg": "multiple", "holm": "multiple", "partial_conjunction": "multiple",
    "TestResult": "result",
    "compare_seeds": "compare", "paired_t": "seeds", "sign_flip": "seeds", "welch": "seeds", "wilcoxon": "seeds",
}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'harness.stats' has no attribute {name!r}")
    return getattr(import_module(f"harness.stats.{_HOME[name]}"), name)
