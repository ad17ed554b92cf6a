"""Example-level tests from per-example predictions: paired bootstrap and approximate randomisation.

The unit is a test example, paired across arms by (seed, language, uid); strata are seeds (and languages
for averages), and the statistic is the mean over strata of the per-stratum mean difference, which for
accuracy is exactly the mean over seeds of the accuracy difference the tables show. These tests answer
"would another test set from the same distribution show this gap for these trained models?": they see
test-set noise only, not seed noise (the seed-level tests see that).

Both resampling schemes are drawn in closed form instead of index by index, which is exact in
distribution and fast: a bootstrap resample of a stratum's n differences is a multinomial draw over the
distinct difference values, and flipping the signs of m equal nonzero differences |v| sums to
|v| (2 Binomial(m, 1/2) - m). For 0/1 correctness there are at most three distinct values.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from harness.stats.result import TestResult, missing

CHUNK = 2_000_000  # resample cells per block: bounds memory for continuous per-example scores


def _strata(d: np.ndarray, strata) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per stratum: distinct differences, their counts, and its size."""
    keys = np.zeros(len(d), dtype=int) if strata is None else pd.factorize(pd.Series(list(strata)))[0]
    out = []
    for k in np.unique(keys):
        values, counts = np.unique(d[keys == k], return_counts=True)
        out.append((values, counts, int(counts.sum())))
    return out


def _observed(groups) -> float:
    return float(np.mean([(v * c).sum() / n for v, c, n in groups]))


def _blocks(n_resamples: int, width: int):
    size = max(1, CHUNK // max(width, 1))
    for start in range(0, n_resamples, size):
        yield min(size, n_resamples - start)


def _bootstrap_draws(groups, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n_resamples)
    for values, counts, n in groups:
        p, done = counts / n, 0
        for size in _blocks(n_resamples, len(values)):
            draws = rng.multinomial(n, p, size=size)
            out[done:done + size] += draws @ values / n
            done += size
    return out / len(groups)


def _flip_draws(groups, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n_resamples)
    for values, counts, n in groups:
        nz = values != 0
        mags, m = np.abs(values[nz]), counts[nz]
        if not len(m):
            continue
        done = 0
        for size in _blocks(n_resamples, len(m)):
            heads = rng.binomial(m, 0.5, size=(size, len(m)))
            out[done:done + size] += (2 * heads - m) @ mags / n
            done += size
    return out / len(groups)


def _prepare(a, b, strata, name):
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if len(x) != len(y):
        raise ValueError(f"{name}: A has {len(x)} examples and B {len(y)}; they must be paired")
    if strata is not None and len(strata) != len(x):
        raise ValueError(f"{name}: {len(strata)} strata labels for {len(x)} examples")
    return x - y


def paired_bootstrap(a, b, strata=None, n_resamples: int = 9999, seed: int = 0,
                     confidence: float = 0.95) -> TestResult:
    """Paired bootstrap over test examples (Koehn 2004), resampled within each stratum.

    Each resample draws every stratum's examples with replacement, keeping A and B of an example together.
    Koehn's test counts how often A still beats B; two-sided, p = 2 min(P*(delta* <= 0), P*(delta* >= 0))
    with the +1 correction of Davison & Hinkley (1997). The CI is the percentile interval of delta*.
    """
    name = "bootstrap"
    d = _prepare(a, b, strata, name)
    if not len(d):
        return missing(name, "no paired examples")
    groups = _strata(d, strata)
    est = _observed(groups)
    if np.all(d == 0):
        return TestResult(name, 0.0, 1.0, 0.0, 0.0, 0.0, len(d), "identical predictions on every example")
    draws = _bootstrap_draws(groups, n_resamples, np.random.default_rng(seed))
    low_tail = (1 + np.sum(draws <= 0)) / (n_resamples + 1)
    high_tail = (1 + np.sum(draws >= 0)) / (n_resamples + 1)
    q = (1 - confidence) / 2
    lo, hi = np.quantile(draws, [q, 1 - q])
    return TestResult(name, est, float(min(1.0, 2 * min(low_tail, high_tail))), float(lo), float(hi), est, len(d))


def approximate_randomization(a, b, strata=None, n_resamples: int = 9999, seed: int = 0) -> TestResult:
    """Approximate randomisation (Noreen 1989; Riezler & Maxwell 2005): swap A's and B's output per example.

    Under H0 (the arms are exchangeable on every example) each example's difference keeps its size and gets
    a random sign; p = (1 + #{|delta*| >= |delta|}) / (R + 1).
    """
    name = "ar"
    d = _prepare(a, b, strata, name)
    if not len(d):
        return missing(name, "no paired examples")
    groups = _strata(d, strata)
    est = _observed(groups)
    if np.all(d == 0):
        return TestResult(name, 0.0, 1.0, statistic=0.0, n=len(d), note="identical predictions on every example")
    draws = _flip_draws(groups, n_resamples, np.random.default_rng(seed))
    hits = np.sum(np.abs(draws) >= abs(est) - 1e-12)
    return TestResult(name, est, float((1 + hits) / (n_resamples + 1)), statistic=est, n=len(d))


def paired_examples(a: Mapping[int, pd.DataFrame], b: Mapping[int, pd.DataFrame], split: str,
                    langs: Sequence[str]) -> pd.DataFrame:
    """Per-example correctness of A and B, joined on (seed, lang, uid): columns seed, lang, uid, a, b.

    `a` and `b` map a seed to that run's predictions (split, lang, uid, label, pred). A pairing is only as good
    as its join, so: an example listed twice in one run, or labelled differently by the two runs (they did not
    read the same data), is a ValueError; examples or seeds only one arm has are left out and *said*: the frame's
    `attrs["coverage"]` holds (seed, lang, used, expected) and `attrs["notes"]` one sentence per gap.
    """
    parts, coverage, notes = [], [], []
    for arm, runs, other in (("A", a, b), ("B", b, a)):
        lonely = sorted(set(runs) - set(other))
        if lonely:
            notes.append(f"seed(s) {', '.join(map(str, lonely))} only in {arm}: left out")
    for seed in sorted(set(a) & set(b)):
        sides = []
        for preds, col in ((a[seed], "a"), (b[seed], "b")):
            p = preds[(preds["split"] == split) & preds["lang"].isin(list(langs))]
            dupes = p[p.duplicated(["lang", "uid"], keep=False)]
            if len(dupes):
                first = dupes.iloc[0]
                raise ValueError(f"{col.upper()}'s run of seed {seed} lists example {first['uid']} ({first['lang']}) "
                                 f"{int((dupes['uid'] == first['uid']).sum())} times in its predictions: a paired test "
                                 "would count it twice; the predictions artifact is corrupt")
            sides.append(p.assign(**{col: (p["pred"] == p["label"]).astype(float)})[["lang", "uid", "label", col]]
                         .rename(columns={"label": f"label_{col}"}))
        joined = sides[0].merge(sides[1], on=["lang", "uid"], how="inner")
        clash = joined[joined["label_a"] != joined["label_b"]]
        if len(clash):
            first = clash.iloc[0]
            raise ValueError(f"example {first['uid']} ({first['lang']}, seed {seed}) has label {first['label_a']} in "
                             f"A's predictions and {first['label_b']} in B's: the two runs did not read the same data")
        for lang in langs:
            used = int((joined["lang"] == lang).sum())
            expected = max(int((sides[0]["lang"] == lang).sum()), int((sides[1]["lang"] == lang).sum()))
            coverage.append((seed, lang, used, expected))
            if used < expected:
                notes.append(f"paired {used} of {expected} {lang} examples (seed {seed})")
        parts.append(joined.assign(seed=seed))
    columns = ["seed", "lang", "uid", "a", "b"]
    out = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    out.attrs["coverage"] = pd.DataFrame(coverage, columns=["seed", "lang", "used", "expected"])
    out.attrs["notes"] = notes
    return out
