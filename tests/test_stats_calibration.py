"""Fast calibration: on simulated A/A studies every test rejects at about alpha = 0.05; the MDE from the true SD
is found with 80% power and the plan's seed count is the fewest reaching it.

The recorded, larger run is validation/CALIBRATION.md (`.venv/bin/python validation/calibrate.py`). Here the
counts are small enough for seconds and the seeds fixed, so the rates are deterministic; 1000 simulations
put a calibrated test inside [0.03, 0.07] with probability above 99%.
"""
import math

import numpy as np
import pytest

from harness.stats import calibration as cal
from harness.stats import power_calibration as pc

LOW, HIGH = 0.03, 0.07


def test_seed_level_false_positive_rates():
    rates = cal.seed_rejections(1000, cal.SeedModel(n_seeds=10), 0.05, seed=11, n_resamples=2047)
    for test, rate in rates.items():
        assert LOW <= rate <= HIGH, (test, rate)


def test_rank_and_permutation_tests_cannot_reject_with_five_seeds():
    rates = cal.seed_rejections(200, cal.SeedModel(n_seeds=5, shift=0.1), 0.05, seed=12, tests=("wilcoxon", "sign-flip"))
    assert rates == {"wilcoxon": 0.0, "sign-flip": 0.0}  # 2 / 2**5 = 0.0625 > 0.05, even for a huge shift


def test_example_level_false_positive_rates():
    rates = cal.example_rejections(1000, cal.ExampleModel(n_examples=300, n_seeds=5), 0.05, seed=13,
                                   n_resamples=499)
    for test, rate in rates.items():
        assert LOW <= rate <= HIGH, (test, rate)


def test_power_grows_with_the_shift():
    small = cal.seed_rejections(200, cal.SeedModel(n_seeds=10, shift=0.01), seed=14, tests=("t",))["t"]
    large = cal.seed_rejections(200, cal.SeedModel(n_seeds=10, shift=0.05), seed=14, tests=("t",))["t"]
    assert small < large and large > 0.9


def test_holm_controls_the_family_wise_error_across_languages():
    r = cal.family_rates(400, 14, 0, cal.SeedModel(n_seeds=5), 0.05, seed=15)
    assert r["fwer_holm"] <= HIGH and r["pc_over"] <= HIGH and r["fdr_bh"] <= HIGH


def test_aso_rarely_declares_dominance_between_identical_arms():
    assert cal.aso_dominance(300, cal.SeedModel(n_seeds=10), 0.05, seed=16, n_bootstrap=300) <= HIGH


def test_true_eps_of_normals():
    assert cal.true_eps_normal(0, 1, 0, 2) == pytest.approx(0.5)
    assert cal.true_eps_normal(1, 1, 0, 1) == 0.0 and cal.true_eps_normal(0, 1, 1, 1) == 1.0
    assert cal.true_eps_normal(0, 1, 0.5, 1.5) + cal.true_eps_normal(0.5, 1.5, 0, 1) == pytest.approx(1.0)


# ------------------------------------------------------------------ power: the MDE and the plan's seed counts
def test_the_mde_and_power_are_inverse():
    from harness.stats.power import Spread, mde, power
    for n, level in ((3, 0.05), (5, 0.0125), (10, 0.003125)):
        s = Spread(2.0 / math.sqrt(n), n - 1, n)
        assert power(mde(s, level), s, level) == pytest.approx(0.8, abs=1e-6)


@pytest.mark.parametrize("n,m", [(3, 1), (5, 4), (10, 16)])
def test_power_at_the_mde_from_the_true_sd_is_eighty_percent(n, m):
    r = pc.mde_power(4000, n, m, seed=21 + n + m)  # +-0.013 at 95%
    assert abs(r.power_true_sd - 0.8) <= 0.03, r
    assert r.power_observed_sd < r.power_true_sd - 0.03  # the printed, observed-SD MDE is optimistic on average
    assert r.power_holm_alone >= r.power_true_sd - 0.03  # Holm's first step is Bonferroni's


def test_seeds_needed_is_monotone():
    from harness.stats.power import seeds_needed
    grid = [seeds_needed(sd, 1.4, 0.05 / m) for sd in (0.5, 1.0, 2.0, 4.0) for m in (1, 4, 16)]
    assert all(k is not None for k in grid)
    table = np.array(grid).reshape(4, 3)
    assert (np.diff(table, axis=0) >= 0).all() and (np.diff(table, axis=1) >= 0).all()  # more SD, larger m: more
    assert [seeds_needed(2.0, e, 0.05) for e in (1.0, 1.4, 2.0, 4.0)] == sorted(
        [seeds_needed(2.0, e, 0.05) for e in (1.0, 1.4, 2.0, 4.0)], reverse=True)  # larger effect: fewer
    assert seeds_needed(0.0, 1.4, 0.05) is None and seeds_needed(1.0, 0.0, 0.05) is None


@pytest.mark.parametrize("sd,m", [(0.5, 16), (1.0, 1), (1.0, 4), (2.0, 16)])
def test_the_plans_seed_count_is_the_fewest_with_eighty_percent_power(sd, m):
    r = pc.plan_power(20_000, sd, m, 1.4, seed=31 + m)  # +-0.006 at 95%
    at_k, below = r.power_at
    assert at_k >= 0.8 > below  # by the noncentral t, exactly
    assert r.simulated_at[0] == pytest.approx(at_k, abs=0.01) and r.simulated_at[1] == pytest.approx(below, abs=0.01)
    if below < 0.79:  # where the curve leaves room for the simulation to tell k from k - 1
        assert r.simulated_at[0] >= 0.8 - 0.01 and r.simulated_at[1] < 0.8
