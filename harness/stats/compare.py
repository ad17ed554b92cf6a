"""A registered test run on what a report holds: per-seed series (paired by seed, Welch where they share too few)
or the paired examples of `harness.stats.examples.paired_examples`. The raw tests live in `seeds` and `examples`;
the registry (`harness.stats.registry`) names them; this module is where a name becomes a result.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import pandas as pd

from harness.stats.registry import TESTS, by_level, get_test
from harness.stats.result import TestResult, missing


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
        return _with_note(TESTS["welch"].run(sa.to_numpy(), sb.to_numpy(), confidence=confidence),
                          f"arms share {len(common)} seed(s): unpaired Welch test instead")
    counts = f"{names[0]}: {len(sa)}, {names[1]}: {len(sb)}"
    why = (f"one seed per arm ({counts})" if len(sa) == len(sb) == 1 else
           f"too few seeds ({counts}, {len(common)} in common)")
    return missing(test, f"{why}: no test; run more seeds", float(sa.mean() - sb.mean()), len(common))


def _with_note(res: TestResult, note: str) -> TestResult:
    return replace(res, note="; ".join(n for n in (res.note, note) if n))


def compare_examples(pairs: pd.DataFrame, test: str = "bootstrap", n_resamples: int = 9999, seed: int = 0,
                     confidence: float = 0.95) -> TestResult:
    """Run an example-level test on `paired_examples` output, strata = (seed, lang)."""
    entry = get_test(test)
    if entry.level != "example":
        raise ValueError(f"{test!r} is a seed-level test; example-level tests: "
                         f"{', '.join(t.name for t in by_level('example'))}")
    if pairs.empty:
        return missing(test, "no examples predicted by both arms on a common seed (are predictions logged?)")
    strata = list(zip(pairs["seed"], pairs["lang"]))
    res = entry.run(pairs["a"], pairs["b"], strata, confidence=confidence, n_resamples=n_resamples, seed=seed)
    notes = [res.note, *pairs.attrs.get("notes", [])]
    if pairs["seed"].nunique() == 1:
        notes.append("one seed: test-set noise only")
    return replace(res, note="; ".join(n for n in notes if n))
