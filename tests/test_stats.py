"""harness.stats against scipy on fixed inputs, against brute force where we draw in closed form, and
against known answers (ASO, Holm, partial conjunction). Fast: seconds."""
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.stats import (benjamini_hochberg, compare_examples, compare_seeds, describe, holm,
                           mean_difference, paired_bootstrap, paired_examples, paired_t, partial_conjunction,
                           sign_flip, violation_ratio, welch, wilcoxon)
from harness.stats.aso import TAU, aso
from harness.stats.calibration import true_eps_normal
from harness.stats.examples import approximate_randomization
from harness.stats.multiple import adjust
from harness.stats.registry import TESTS

A = np.array([0.712, 0.698, 0.735, 0.701, 0.722, 0.690, 0.731])
B = np.array([0.680, 0.701, 0.699, 0.688, 0.705, 0.679, 0.700])


# --------------------------------------------------------------------------------------------- seed level

def test_paired_t_matches_scipy():
    res, ref = paired_t(A, B), stats.ttest_rel(A, B)
    assert res.pvalue == pytest.approx(ref.pvalue) and res.statistic == pytest.approx(ref.statistic)
    ci = ref.confidence_interval(0.95)
    assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high))
    assert res.estimate == pytest.approx(np.mean(A - B)) and res.n == 7 and not res.note


def test_wilcoxon_matches_scipy():
    res, ref = wilcoxon(A, B), stats.wilcoxon(A, B)
    assert res.pvalue == pytest.approx(ref.pvalue) and res.statistic == pytest.approx(ref.statistic)


def test_sign_flip_matches_scipy_and_enumeration():
    res = sign_flip(A, B)
    ref = stats.permutation_test((A, B), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                                 permutation_type="samples", n_resamples=9999)
    assert res.pvalue == pytest.approx(ref.pvalue)
    d = A - B  # exact by hand: all 2^7 sign patterns, two-sided as scipy (2 x the smaller tail)
    means = np.array([np.mean(d * s) for s in itertools.product([1, -1], repeat=len(d))])
    obs = d.mean()
    tails = min(np.mean(means >= obs - 1e-15), np.mean(means <= obs + 1e-15))
    assert res.pvalue == pytest.approx(min(1.0, 2 * tails))
    assert not res.note  # 128 patterns: exact


def test_sign_flip_monte_carlo_when_patterns_exceed_resamples():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.7, 0.03, 16), rng.normal(0.7, 0.03, 16)
    res = sign_flip(x, y, n_resamples=999, seed=1)
    assert "Monte Carlo" in res.note
    exact = stats.permutation_test((x, y), lambda a, b, axis: np.mean(a - b, axis=axis), vectorized=True,
                                   permutation_type="samples", n_resamples=2 ** 16)
    assert res.pvalue == pytest.approx(exact.pvalue, abs=0.05)


def test_welch_matches_scipy():
    res, ref = welch(A, B[:5]), stats.ttest_ind(A, B[:5], equal_var=False)
    assert res.pvalue == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high))


def test_compare_seeds_pairs_by_seed_not_position():
    a = pd.Series(A, index=range(7))
    b = pd.Series(B, index=range(7)).sample(frac=1, random_state=0)  # shuffled order
    assert compare_seeds(a, b).pvalue == pytest.approx(stats.ttest_rel(A, B).pvalue)
    part = compare_seeds(a, b.drop([0, 1]))
    assert part.pvalue == pytest.approx(stats.ttest_rel(A[2:], B[2:]).pvalue)
    assert "paired on 5 common seeds" in part.note


def test_compare_seeds_degenerate_inputs_say_why():
    one = compare_seeds({0: 0.7}, {0: 0.6})
    assert math.isnan(one.pvalue) and "one seed" in one.note and one.estimate == pytest.approx(0.1)
    gone = compare_seeds({0: 0.7, 1: 0.71}, {})
    assert math.isnan(gone.pvalue) and "no scores for B" in gone.note
    same = compare_seeds({0: 0.7, 1: 0.6, 2: 0.65}, {0: 0.7, 1: 0.6, 2: 0.65})
    assert same.pvalue == 1.0 and "identical" in same.note
    for test in ("wilcoxon", "sign-flip"):
        r = compare_seeds({0: 0.7, 1: 0.6, 2: 0.65}, {0: 0.7, 1: 0.6, 2: 0.65}, test)
        assert r.pvalue == 1.0 and "identical" in r.note
    assert compare_seeds({0: 0.7, 1: 0.6, 2: 0.65}, {0: 0.7, 1: 0.6, 2: 0.65}, "welch").pvalue == pytest.approx(1.0)
    flat = compare_seeds({0: 0.7, 1: 0.7}, {0: 0.7, 1: 0.7}, "welch")
    assert flat.pvalue == 1.0 and "identical" in flat.note
    const = compare_seeds({0: 0.7, 1: 0.6}, {0: 0.69, 1: 0.59})
    assert math.isnan(const.pvalue) and "same difference" in const.note
    unpaired = compare_seeds({0: 0.7, 1: 0.72}, {5: 0.6, 6: 0.61})
    assert unpaired.test == "welch" and "Welch" in unpaired.note and unpaired.ok
    with pytest.raises(ValueError, match="unknown test"):
        compare_seeds({0: 1.0}, {0: 1.0}, "anova")


def test_min_attainable_p():
    assert TESTS["wilcoxon"].min_p(5) == 0.0625 and TESTS["sign-flip"].min_p(5) == 0.0625 and TESTS["t"].min_p(5) == 0
    assert stats.wilcoxon(A[:5], B[:5]).pvalue >= 0.0625


# --------------------------------------------------------------------------------------------- example level

def _binary(n=400, seeds=3, gap=0.05, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.3, 0.9, n)
    a = np.concatenate([rng.random(n) < np.clip(p + gap, 0, 1) for _ in range(seeds)]).astype(float)
    b = np.concatenate([rng.random(n) < p for _ in range(seeds)]).astype(float)
    return a, b, np.repeat(np.arange(seeds), n)


def test_paired_bootstrap_closed_form_matches_index_resampling():
    a, b, strata = _binary()
    res = paired_bootstrap(a, b, strata, n_resamples=4000, seed=1)
    per = [np.mean(a[strata == s] - b[strata == s]) for s in range(3)]
    assert res.estimate == pytest.approx(np.mean(per))
    rng = np.random.default_rng(2)  # Koehn's procedure, literally: resample example indices per seed
    d = a - b
    naive = np.zeros(4000)
    for s in range(3):
        idx = np.flatnonzero(strata == s)
        naive += d[rng.choice(idx, size=(4000, len(idx)))].mean(axis=1) / 3
    assert (res.ci_low, res.ci_high) == pytest.approx(tuple(np.quantile(naive, [0.025, 0.975])), abs=0.004)
    p_naive = min(1.0, 2 * min((1 + np.sum(naive <= 0)) / 4001, (1 + np.sum(naive >= 0)) / 4001))
    assert res.pvalue == pytest.approx(p_naive, abs=0.02)


def test_approximate_randomization_matches_exact_enumeration():
    d_a = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0], float)
    d_b = np.array([0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0], float)
    d = d_a - d_b
    flips = np.array([np.mean(d * s) for s in itertools.product([1, -1], repeat=len(d))])
    exact = np.mean(np.abs(flips) >= abs(d.mean()) - 1e-12)
    res = approximate_randomization(d_a, d_b, n_resamples=20000, seed=0)
    assert res.pvalue == pytest.approx(exact, abs=0.01)
    assert res.estimate == pytest.approx(d.mean())


def test_general_scores_take_the_same_path():
    rng = np.random.default_rng(5)
    x, y = rng.normal(0.1, 1, 300), rng.normal(0, 1, 300)
    boot, ar = paired_bootstrap(x, y, seed=0), approximate_randomization(x, y, seed=0)
    t = stats.ttest_rel(x, y)
    assert boot.pvalue == pytest.approx(t.pvalue, abs=0.03) and ar.pvalue == pytest.approx(t.pvalue, abs=0.03)


def test_example_degenerate_cases():
    same = paired_bootstrap([1, 0, 1], [1, 0, 1])
    assert same.pvalue == 1.0 and "identical" in same.note
    assert "no paired examples" in approximate_randomization([], []).note
    with pytest.raises(ValueError, match="paired"):
        paired_bootstrap([1, 0], [1])


def test_paired_examples_joins_on_seed_lang_uid():
    def preds(correct, seed_shift=0):
        return pd.DataFrame({"split": "test", "lang": ["fr"] * 4 + ["de"] * 2,
                             "uid": [f"u{i}" for i in range(6)], "label": [0, 1, 2, 0, 1, 2],
                             "pred": [l if c else (l + 1) % 3 for l, c in zip([0, 1, 2, 0, 1, 2], correct)]})
    a = {0: preds([1, 1, 0, 1, 1, 1]), 1: preds([1, 0, 0, 1, 1, 0])}
    b = {0: preds([0, 1, 0, 1, 1, 0]).iloc[::-1], 2: preds([1, 1, 1, 1, 1, 1])}  # order must not matter
    pairs = paired_examples(a, b, "test", ["fr"])
    assert list(pairs["seed"].unique()) == [0] and len(pairs) == 4
    assert pairs.set_index("uid").loc["u0", ["a", "b"]].tolist() == [1.0, 0.0]
    res = compare_examples(pairs, "bootstrap", n_resamples=999)
    assert res.estimate == pytest.approx(0.25) and "one seed" in res.note
    assert "seed(s) 1 only in A: left out" in res.note and "seed(s) 2 only in B: left out" in res.note
    assert "no examples" in compare_examples(paired_examples(a, {}, "test", ["fr"]), "ar").note


def test_pairing_says_what_it_left_out_and_refuses_what_it_cannot_pair():
    rng = np.random.default_rng(0)

    def preds(n, drop=0):
        labels = rng.integers(0, 3, n)
        return pd.DataFrame({"split": "test", "lang": "fr", "uid": [f"u{i}" for i in range(n)], "label": labels,
                             "pred": np.where(rng.random(n) < 0.7, labels, (labels + 1) % 3)}).iloc[drop:]

    full = {0: preds(3000)}
    partial = {0: full[0].iloc[1200:].copy()}  # B lacks 40% of the fr examples
    pairs = paired_examples(full, partial, "test", ["fr"])
    assert len(pairs) == 1800 and pairs.attrs["coverage"].to_dict("records") == [
        {"seed": 0, "lang": "fr", "used": 1800, "expected": 3000}]
    assert "paired 1800 of 3000 fr examples (seed 0)" in compare_examples(pairs, "ar", n_resamples=99).note
    twice = {0: pd.concat([full[0], full[0].iloc[:1]])}
    with pytest.raises(ValueError, match="lists example u0 \\(fr\\) 2 times"):
        paired_examples(twice, full, "test", ["fr"])
    relabelled = {0: full[0].assign(label=(full[0]["label"] + 1) % 3)}
    with pytest.raises(ValueError, match="did not read the same data"):
        paired_examples(full, relabelled, "test", ["fr"])


# --------------------------------------------------------------------------------------------- ASO

def _brute_eps(a, b, grid=400_000):
    t = (np.arange(grid) + 0.5) / grid
    qa = np.sort(a)[np.ceil(t * len(a)).astype(int) - 1]
    qb = np.sort(b)[np.ceil(t * len(b)).astype(int) - 1]
    d = qa - qb
    return np.sum(d[d < 0] ** 2) / np.sum(d ** 2)


@pytest.mark.parametrize("n,m", [(5, 5), (5, 7), (13, 4), (1, 3)])
def test_violation_ratio_is_the_exact_quantile_integral(n, m):
    rng = np.random.default_rng(n * 100 + m)
    a, b = rng.normal(0, 1, n), rng.normal(0.3, 1.4, m)
    assert violation_ratio(a, b) == pytest.approx(_brute_eps(a, b), abs=1e-4)
    assert violation_ratio(a, b) + violation_ratio(b, a) == pytest.approx(1.0)


def test_aso_known_answers():
    high, low = np.array([0.80, 0.82, 0.81, 0.85, 0.83]), np.array([0.70, 0.71, 0.69, 0.72, 0.75])
    dom = aso(high, low)
    assert dom.eps_hat == 0 and dom.eps_min == 0 and dom.eps_min_reverse == 1 and dom.dominates()
    assert aso(low, high).eps_min == 1 and aso(low, high).dominated()
    same = aso([0.7, 0.71, 0.72], [0.72, 0.7, 0.71])
    assert not same.ok and "identical" in same.note
    one = aso([0.7], [0.6, 0.65])
    assert not one.ok and "at least 2 seeds" in one.note
    # one distribution: no dominance either way (eps_min near or above 0.5, never below tau on average)
    rng = np.random.default_rng(0)
    eps = np.array([aso(rng.normal(0, 1, 20), rng.normal(0, 1, 20), n_bootstrap=300, seed=i).eps_min
                    for i in range(60)])
    assert eps.mean() > 0.5 and np.mean(eps < TAU) <= 0.1
    # a known violation ratio: large samples find it
    truth = true_eps_normal(0.0, 1.0, 0.2, 2.0)
    x, y = rng.normal(0.0, 1.0, 20000), rng.normal(0.2, 2.0, 20000)
    assert violation_ratio(x, y) == pytest.approx(truth, abs=0.03)


def test_aso_eps_min_formula_and_bonferroni():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.72, 0.02, 8), rng.normal(0.70, 0.02, 8)
    r1, r5 = aso(a, b, 0.05, 1, seed=0), aso(a, b, 0.05, 5, seed=0)
    assert r1.eps_min == pytest.approx(min(1.0, r1.eps_hat + stats.norm.ppf(0.95) * r1.sigma))
    # the paper's form: eps_hat - sqrt((n+m)/nm) * sigma_{sqrt(nm/(n+m)) eps*} * Phi^-1(alpha)
    n = m = 8
    paper = r1.eps_hat - math.sqrt((n + m) / (n * m)) * (math.sqrt(n * m / (n + m)) * r1.sigma) * stats.norm.ppf(0.05)
    assert r1.eps_min == pytest.approx(min(1.0, paper))
    assert r5.alpha == 0.01 and r5.eps_min >= r1.eps_min
    assert r1.eps_min_reverse == pytest.approx(min(1.0, 1 - r1.eps_hat + stats.norm.ppf(0.95) * r1.sigma))


# --------------------------------------------------------------------------------------------- corrections

def test_holm_by_hand_keeps_order_and_nan():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> max so far 0.06
    assert holm(p)[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and np.isnan(holm(p)[4])
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])
    assert len(holm([])) == 0


def test_bh_is_scipys_and_keeps_order():
    p = np.array([0.04, 0.001, 0.03, 0.2])
    assert benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p))
    assert np.isnan(benjamini_hochberg([np.nan, 0.01])[0])
    assert adjust(p, "none") == pytest.approx(p)
    with pytest.raises(ValueError):
        adjust(p, "sidak")


def test_partial_conjunction_counts_languages():
    p = [0.001, 0.01, 0.04, 0.5]
    pc = partial_conjunction(p, 0.05)
    # u=1: 4*0.001, u=2: 3*0.01, u=3: 2*0.04=0.08, u=4: 0.5
    assert pc.pvalues == pytest.approx([0.004, 0.03, 0.08, 0.5]) and pc.count == 2 and pc.n == 4
    rng = np.random.default_rng(0)
    for _ in range(200):  # with Bonferroni, the count is the number of Holm rejections
        q = rng.uniform(0, 0.1, 6) ** rng.uniform(0.5, 3)
        assert partial_conjunction(q, 0.05).count == int(np.sum(holm(q) <= 0.05))
    fisher = partial_conjunction([0.01, 0.02, 0.03], 0.05, "fisher")
    assert fisher.pvalues[-1] == pytest.approx(0.03) and fisher.pvalues[0] == pytest.approx(
        stats.combine_pvalues([0.01, 0.02, 0.03]).pvalue)
    assert partial_conjunction([1.0, 0.9]).count == 0 and partial_conjunction([np.nan]).n == 0


# --------------------------------------------------------------------------------------------- effects

def test_describe_and_mean_difference():
    s = describe(A, bounded=False)
    assert (s.mean, s.std, s.n) == pytest.approx((A.mean(), A.std(ddof=1), 7))
    half = stats.t.ppf(0.975, 6) * A.std(ddof=1) / math.sqrt(7)
    assert (s.low, s.high) == pytest.approx((A.mean() - half, A.mean() + half))
    z = np.log(A / (1 - A))  # bounded (the default): the t interval of the logits, mapped back
    zh = stats.t.ppf(0.975, 6) * z.std(ddof=1) / math.sqrt(7)
    b = describe(A)
    assert (b.low, b.high) == pytest.approx((1 / (1 + np.exp(-(z.mean() - zh))), 1 / (1 + np.exp(-(z.mean() + zh)))))
    assert describe([0.7]).note and describe([]).n == 0
    e = mean_difference(dict(enumerate(A)), dict(enumerate(B)), seed=0)
    ref = stats.bootstrap((A - B,), np.mean, n_resamples=9999, rng=np.random.default_rng(0)).confidence_interval
    assert e.paired and e.estimate == pytest.approx(np.mean(A - B)) and (e.low, e.high) == pytest.approx((ref.low, ref.high))
    un = mean_difference({0: 0.7, 1: 0.72, 2: 0.71}, {5: 0.6, 6: 0.62})
    assert not un.paired and "unpaired" in un.note and un.low < un.estimate < un.high
    assert mean_difference({0: 0.7}, {0: 0.6}).note == "one seed: no CI"
    flat = mean_difference({0: 0.7, 1: 0.6}, {0: 0.6, 1: 0.5})
    assert (flat.low, flat.high) == pytest.approx((0.1, 0.1)) and "no spread" in flat.note


def test_variance_components_recover_seed_and_draw_spread():
    """A simulated seeds x draws table: the estimates find which factor carries the spread."""
    from harness.stats.components import variance_components

    rng = np.random.default_rng(0)
    seeds, draws = 40, 40
    table = 0.7 + rng.normal(0, 0.03, (seeds, 1)) + rng.normal(0, 0.01, (1, draws)) + rng.normal(0, 0.005, (seeds, draws))
    c = variance_components(table)
    assert c.sd_seed == pytest.approx(0.03, rel=0.3) and c.sd_draw == pytest.approx(0.01, rel=0.3)
    assert c.sd_residual == pytest.approx(0.005, rel=0.1) and c.mean == pytest.approx(table.mean())
    flipped = variance_components(table.T)  # the same table with the factors swapped
    assert flipped.sd_seed == pytest.approx(c.sd_draw) and flipped.sd_draw == pytest.approx(c.sd_seed)
    assert "2+ levels of every factor" in variance_components(table[:, :1]).note
    # three crossed factors with known effects: seed SD 0.03, data order 0.02, draw 0.01, residual 0.004
    rng = np.random.default_rng(5)
    cube = (0.7 + rng.normal(0, 0.03, (12, 1, 1)) + rng.normal(0, 0.02, (1, 10, 1)) + rng.normal(0, 0.01, (1, 1, 8))
            + rng.normal(0, 0.004, (12, 10, 8)))
    three = variance_components(cube, ("seed", "data", "draw"))
    assert three.of("seed") == pytest.approx(0.03, rel=0.35) and three.of("data") == pytest.approx(0.02, rel=0.35)
    assert three.of("draw") == pytest.approx(0.01, rel=0.35) and three.sd_residual == pytest.approx(0.004, rel=0.1)
    with pytest.raises(ValueError, match="3-way table but 2 factor names"):
        variance_components(cube)


def test_ties_between_count_ratios_are_ties():
    """Accuracies are ratios of counts: equal differences must rank and flip as equal (the issue's example)."""
    from harness.stats.seeds import sign_flip, wilcoxon

    a = np.array([1404, 1381, 1390, 1396, 1404, 1388]) / 2000
    b = np.array([1409, 1391, 1389, 1391, 1400, 1393]) / 2000
    assert sign_flip(a, b).pvalue == pytest.approx(0.625)  # exact: 40 of the 64 sign patterns reach |mean|
    # the same differences as exact integers over 2000: ranks and the exact p-value agree
    d = (np.array([1404, 1381, 1390, 1396, 1404, 1388]) - np.array([1409, 1391, 1389, 1391, 1400, 1393])) / 2000
    assert wilcoxon(a, b).pvalue == pytest.approx(stats.wilcoxon(d).pvalue)
    assert wilcoxon(a, b).pvalue != pytest.approx(stats.wilcoxon(a, b).pvalue)  # scipy on raw floats breaks ties


def test_nan_never_gives_a_p_value():
    from harness.stats.seeds import paired_t, sign_flip, welch, wilcoxon

    a, b = [0.7, 0.71, np.nan, 0.69], [0.6, 0.62, 0.61, 0.6]
    for fn in (paired_t, wilcoxon, sign_flip, welch):
        res = fn(a, b)
        assert not res.ok and "NaN" in res.note


def test_zero_differences_do_not_count_towards_the_attainable_p():
    from harness.stats.seeds import sign_flip, wilcoxon

    a = [0.70, 0.71, 0.72, 0.73, 0.74, 0.75]
    b = [0.70, 0.71, 0.70, 0.70, 0.70, 0.70]  # two seeds tie: 4 carry a sign
    for res in (wilcoxon(a, b), sign_flip(a, b)):
        assert res.n == 4 and "tied" in res.note
        assert TESTS[res.test].min_p(res.n) == 0.125  # not 2 / 2**6


def test_aso_at_another_level_needs_no_new_bootstrap():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.72, 0.02, 8), rng.normal(0.70, 0.02, 8)
    assert aso(a, b, 0.05, 6).eps_min == pytest.approx(aso(a, b, 0.05, 1).at(0.05, 6).eps_min)
    assert aso(a, b, 0.05, 6).alpha == aso(a, b, 0.05, 1).at(0.05, 6).alpha == pytest.approx(0.05 / 6)


def test_an_accuracy_interval_stays_within_0_and_1():
    """The issue's case: baseline en 96.0 +- 2.3 over 3 seeds gave [90.6, 101.4] with a plain t interval."""
    s = describe([0.935, 0.962, 0.983])
    assert 0 <= s.low < s.mean < s.high <= 1 and s.high < 1.0
    plain = describe([0.935, 0.962, 0.983], bounded=False)
    assert plain.high > 1.0 and s.mean == plain.mean
    mid = describe([0.48, 0.5, 0.52, 0.5])  # near 0.5 the logit interval is the t interval, nearly
    mid_t = describe([0.48, 0.5, 0.52, 0.5], bounded=False)
    assert (mid.low, mid.high) == pytest.approx((mid_t.low, mid_t.high), abs=2e-3)
