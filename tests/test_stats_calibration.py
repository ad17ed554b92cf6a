"""Fast calibration: on simulated A/A studies every test rejects at about alpha = 0.05.

The recorded, larger run is validation/CALIBRATION.md (`.venv/bin/python validation/calibrate.py`). Here the
counts are small enough for seconds and the seeds fixed, so the rates are deterministic; 1000 simulations
put a calibrated test inside [0.03, 0.07] with probability above 99%.
"""
import pytest

from harness.stats import calibration as cal

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
