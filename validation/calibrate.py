"""Calibration of harness.stats on simulated studies with known truth; writes validation/CALIBRATION.md.

    .venv/bin/python validation/calibrate.py            # the recorded run (about 10 minutes on 2 cores)
    .venv/bin/python validation/calibrate.py --scale 0.1 --out /tmp/cal.md   # a quick look

False-positive rates come from A/A studies (both arms from one distribution, paired by seed and by
example), power from known shifts; each false-positive rate carries its Wilson 95% interval, so a rate is "calibrated"
when that interval contains alpha. Simulation models: harness/stats/calibration.py. The fast check of the
same code paths is tests/test_stats_calibration.py.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from harness.stats import calibration as cal  # noqa: E402

ALPHA = 0.05


def rate(r: float, n: int) -> str:
    lo, hi = cal.binomial_interval(r, n)
    return f"{r:.3f} [{lo:.3f}, {hi:.3f}]"


def table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def machine() -> str:
    try:
        git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True,  # noqa: E731
                                        timeout=10).stdout.strip()
        commit = git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if git("status", "--porcelain") else "")
    except OSError:
        commit = "unknown"
    cpu = platform.processor() or platform.machine()
    return (f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}; git {commit}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every simulation count (default 1)")
    p.add_argument("--out", type=Path, default=ROOT / "validation" / "CALIBRATION.md")
    args = p.parse_args(argv)
    n = lambda base: max(50, int(base * args.scale))  # noqa: E731
    start = time.perf_counter()
    out = ["# Calibration of harness.stats", "",
           f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
           f"- machine: {machine()}",
           f"- command: `{' '.join(['.venv/bin/python', 'validation/calibrate.py', *(argv or sys.argv[1:])])}`",
           f"- alpha = {ALPHA}; false-positive rates and coverages carry their Wilson 95% interval over the simulations.", ""]

    # ---------------------------------------------------------------- seed level
    sims = n(4000)
    seed_model = cal.SeedModel()
    out += ["## Seed-level tests", "",
            f"Model: per-seed accuracy a_s = {seed_model.mu} + u_s + e_as, b_s = {seed_model.mu} + u_s + e_bs + shift, "
            f"shared seed part u_s ~ N(0, {seed_model.seed_sd}), arm noise e ~ N(0, {seed_model.arm_sd}) (the seed "
            "spread the design notes measured, 0.03-0.05). Welch is run on unpaired arms (its use). "
            f"Sign-flip: exact when 2^n <= 9999 sign patterns. {sims} simulated studies per cell.", "",
            "### False-positive rate (A/A)", ""]
    rows = []
    for k in (3, 5, 10, 20):
        r = cal.seed_rejections(sims, cal.SeedModel(n_seeds=k), ALPHA, seed=100 + k)
        rows.append([str(k)] + [rate(r[t], sims) for t in cal.SEED_TESTS])
    out += [table(["seeds", *cal.SEED_TESTS], rows), "",
            "With n seeds the Wilcoxon and sign-flip tests cannot give a two-sided p below 2/2^n (0.25 for 3, "
            "0.0625 for 5): below 6 seeds they never reject at 0.05, hence their rate of 0. The report says so "
            "in the table when it happens.", "", "### Power (true gain of B over A, accuracy points)", ""]
    sims_p = n(2000)
    rows = []
    for k in (5, 10):
        for shift in (0.01, 0.02, 0.04):
            r = cal.seed_rejections(sims_p, cal.SeedModel(n_seeds=k, shift=shift), ALPHA, seed=200 + k + int(shift * 1000))
            rows.append([str(k), f"{100 * shift:.0f}"] + [f"{r[t]:.3f}" for t in cal.SEED_TESTS])
    out += [table(["seeds", "shift (points)", *cal.SEED_TESTS], rows), "", f"{sims_p} simulations per cell.", ""]

    # ---------------------------------------------------------------- example level
    sims_e = n(2000)
    em = cal.ExampleModel(n_examples=1000, n_seeds=5)
    out += ["## Example-level tests", "",
            f"Model: {em.n_examples} test examples with difficulty p_i ~ Beta({em.beta_a}, {em.beta_b}) (accuracy "
            f"about 0.67), {em.n_seeds} seeds; in each seed each arm answers example i correctly with probability "
            "p_i (+ shift for B), independently; strata = seeds. 999 resamples per test. "
            f"{sims_e} simulations per cell.", "", "### False-positive rate (A/A)", ""]
    rows = []
    r = cal.example_rejections(sims_e, em, ALPHA, seed=300)
    rows.append(["same models (fixed per example)"] + [rate(r[t], sims_e) for t in cal.EXAMPLE_TESTS])
    noisy = cal.ExampleModel(n_examples=1000, n_seeds=5, seed_logit_sd=0.15)
    sims_n = n(1000)
    r = cal.example_rejections(sims_n, noisy, ALPHA, seed=301)
    rows.append(["arms differ by seed only (logit sd 0.15 per arm and seed)"]
                + [rate(r[t], sims_n) for t in cal.EXAMPLE_TESTS])
    out += [table(["A/A scenario", *cal.EXAMPLE_TESTS], rows), "",
            "The second row is the caveat of example-level tests: they treat each trained model as fixed, so two "
            "arms of one method that differ only by training seed look different far more often than alpha. Use "
            "them for \"do these trained models differ on this test set\", and the seed-level tests for "
            "\"is the method better\".", "", "### Power", ""]
    rows = []
    for shift in (0.005, 0.01, 0.02):
        r = cal.example_rejections(n(1000), cal.ExampleModel(n_examples=1000, n_seeds=5, shift=shift), ALPHA,
                                   seed=310 + int(shift * 1000))
        rows.append([f"{100 * shift:.1f}"] + [f"{r[t]:.3f}" for t in cal.EXAMPLE_TESTS])
    out += [table(["shift (points)", *cal.EXAMPLE_TESTS], rows), "", f"{n(1000)} simulations per cell.", ""]

    # ---------------------------------------------------------------- ASO
    sims_a = n(2000)
    out += ["## Almost Stochastic Order", "",
            f"eps_min at alpha = {ALPHA} (one comparison), 500 bootstrap draws, dominance declared when eps_min < "
            f"{cal.TAU} (Ulmer et al. 2022). Scores per seed from the seed-level model, arms unpaired. "
            f"{sims_a} simulations per cell.", "", "### False dominance (A/A) and power", ""]
    rows = []
    for k in (3, 5, 10, 20):
        cells = [rate(cal.aso_dominance(sims_a, cal.SeedModel(n_seeds=k), ALPHA, seed=400 + k), sims_a)]
        for shift in (0.02, 0.04):
            cells.append(f"{cal.aso_dominance(n(1000), cal.SeedModel(n_seeds=k, shift=shift), ALPHA, seed=410 + k):.3f}")
        rows.append([str(k), *cells])
    out += [table(["seeds", "A/A: B declared dominant", "shift 2 points", "shift 4 points"], rows), "",
            "With 3 seeds a complete separation of the two samples (probability 1/20 per direction under A/A) "
            "makes every bootstrap draw give eps = 0, so eps_min = 0 whatever alpha: ASO needs more seeds than "
            "that; the report flags ASO on fewer than 5 seeds per arm.", "",
            "### Coverage of eps_min as an upper confidence bound", "",
            "Normal score distributions with a known violation ratio (computed by numerical integration); "
            "coverage = share of simulations with true eps <= eps_min, nominal 0.95.", ""]
    rows = []
    sims_c = n(1000)
    for mu_b, sd_a, sd_b in ((0.5, 1.0, 1.5), (0.2, 1.0, 2.0), (0.0, 2.0, 1.0), (-0.5, 1.0, 1.5)):
        for k in (5, 10, 50):
            truth, cov = cal.aso_coverage(sims_c, k, 0.0, sd_a, mu_b, sd_b, ALPHA, seed=500 + k)
            rows.append([f"N(0, {sd_a}) vs N({mu_b}, {sd_b})", f"{truth:.3f}", str(k), rate(cov, sims_c)])
    out += [table(["A vs B", "true eps(A over B)", "n per arm", "coverage"], rows), "",
            f"{sims_c} simulations per cell. The bootstrap bound is asymptotic (del Barrio et al. 2018): read "
            "eps_min from a handful of seeds as a description, not a guarantee.", ""]

    # ---------------------------------------------------------------- across languages
    sims_f = n(2000)
    langs = 14
    out += ["## Across languages", "",
            f"{langs} target languages (XNLI), 5 seeds, paired t per language, languages independent. "
            "FWER: any language without an effect rejected after Holm; FDR: mean share of false BH rejections; "
            "over-count: the partial-conjunction count (Bonferroni) exceeds the true number of languages with an "
            f"effect. Effects: +4 points. {sims_f} simulations per cell.", ""]
    rows = []
    for effects_n in (0, 4, 10):
        r = cal.family_rates(sims_f, langs, effects_n, cal.SeedModel(shift=0.04), ALPHA, seed=600 + effects_n)
        rows.append([str(effects_n), rate(r["fwer_holm"], sims_f), f"{r['fdr_bh']:.3f}", rate(r["pc_over"], sims_f)])
    out += [table(["languages with an effect", "Holm FWER", "BH FDR", "count over-estimated"], rows), ""]

    # ---------------------------------------------------------------- intervals
    sims_i = n(1000)
    out += ["## Confidence intervals", "",
            "Every table names its interval (`Δ [95% CI, paired t]`). Coverage of the true mean difference (+1 "
            "point) by each interval a table can show: the paired t interval (beside the t, Wilcoxon and sign-flip "
            "tests), the Welch t interval (unpaired arms), and the BCa bootstrap over seeds (1999 resamples; in "
            f"the CSV only, for reference). Nominal 0.95; {sims_i} simulations per cell.", ""]
    rows = []
    for k in (3, 5, 10):
        c = cal.ci_coverage(sims_i, cal.SeedModel(n_seeds=k, shift=0.01), seed=700 + k)
        rows.append([str(k), *(rate(c[m], sims_i) for m in ("paired t", "Welch t", "bootstrap over seeds"))])
    out += [table(["seeds", "paired t", "Welch t", "bootstrap over seeds (CSV only)"], rows), "",
            "The bootstrap over a handful of seeds is too narrow (a resample of 3 values cannot show their spread), "
            "so no table shows it: a rank or sign-flip test is shown with the paired t interval of the same seeds.",
            ""]
    rows = []
    for k in (3, 5, 10):
        em_k = cal.ExampleModel(n_examples=1000, n_seeds=k, shift=0.01)
        rows.append([str(k), rate(cal.example_ci_coverage(n(500), em_k, seed=720 + k), n(500))])
    out += ["### Example bootstrap interval (beside the bootstrap and AR tests)", "",
            "Coverage of the accuracy difference of the two fixed models in expectation over test sets (what an "
            f"example-level test is about; it ignores seed variance by design). {n(500)} simulations, 999 "
            "resamples.", "", table(["seeds", "example bootstrap"], rows), ""]
    rows = []
    for k in (3, 5, 10):
        for mu in (0.7, 0.96):
            rows.append([str(k), f"{mu:.2f}", rate(cal.arm_ci_coverage(sims_i, k, mu, seed=710 + k), sims_i),
                         rate(cal.arm_ci_coverage(sims_i, k, mu, seed=710 + k, bounded=False), sims_i)])
    out += ["### One arm's mean accuracy", "",
            "The sample-count table and the plots' bands show each arm's mean with a Student t interval built on "
            "the logit scale, so it stays within [0, 100] (a plain t interval around 96 +- 2.3 reached 101.4). "
            f"Scores N(mu, 0.03) clipped to [0, 1]. {sims_i} simulations.", "",
            table(["seeds", "true mean", "logit-t (shown)", "plain t"], rows), "",
            f"Total run time: {time.perf_counter() - start:.0f} s.", ""]
    args.out.write_text("\n".join(out), encoding="utf-8")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
