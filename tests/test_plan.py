"""`salt-harness plan`: the seeds each comparison needs for a target effect, checked against a simulated power
curve of the paired t-test, and the cost of the seeds still missing."""
import math

import numpy as np
import pytest
from scipy import stats

from harness.cli import main
from harness.report import Options
from harness.report.plan import cost_frame, plan_frame
from tests.fakes import report_of, study_file, write_store

SAMPLES = "augment.samples_per_lang"


def accuracy(cell):
    """Target accuracy: a seed effect shared by the arms, SALT +3 points, and a per-(arm, seed) wobble of known size."""
    wobble = 0.01 * math.sin(3.7 * cell.seed + (1.3 if cell.arm == "salt" else 0.0))
    gain = 0.03 if cell.arm == "salt" else 0.0
    return {lang: 0.55 + (0.3 if lang == "en" else 0.0) + 0.02 * (cell.seed % 3) + gain + wobble
            for lang in ("en", "fr", "de")}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    path = study_file(tmp, "plan", seeds=5, arms=("baseline", "salt"), axes={SAMPLES: [100]})
    spec, uri, _ = write_store(path, accuracy=accuracy)
    return path, spec, uri


def simulated_power(n, sd, effect, level, reps=20_000, seed=0):
    """Rejection rate of the two-sided paired t-test at `level`, normal differences: the curve the plan must meet."""
    d = np.random.default_rng(seed).normal(effect, sd, (reps, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    return float(np.mean(2 * stats.t.sf(np.abs(t), n - 1) < level))


def test_the_seed_count_meets_a_simulated_power_curve(store):
    _, spec, uri = store
    report = report_of(spec, uri, Options(n_resamples=999))
    plan = plan_frame(report, effect=0.014)
    row = plan[(plan["row"] == "avg_targets")].iloc[0]
    n, sd, level = int(row["seeds_needed"]), row["sd"], row["level"]
    assert row["seeds"] == 5 and row["family_size"] == 2 and level == pytest.approx(0.05 / 2)  # avg and avg_targets
    assert sd > 0 and n > 5
    # the plan's n reaches 80% power; one seed fewer does not (20,000 replicates: +-0.006)
    assert simulated_power(n, sd, 0.014, level) >= 0.8 - 0.01
    assert simulated_power(n - 1, sd, 0.014, level) < 0.8 + 0.01
    # and its `power now` is the curve at the seeds there are
    assert row["power_now"] == pytest.approx(simulated_power(5, sd, 0.014, level), abs=0.02)


def test_the_cost_counts_the_missing_seeds_of_every_side(store):
    _, spec, uri = store
    report = report_of(spec, uri, Options(n_resamples=999))
    plan = plan_frame(report, effect=0.014)
    cost = cost_frame(report, plan, throughput=50.0).set_index("arm")
    n = int(plan[plan["row"] == "avg_targets"].iloc[0]["seeds_needed"])
    assert cost.loc["salt", "seeds_needed"] == cost.loc["baseline", "seeds_needed"] == n
    assert cost.loc["salt", "extra_updates"] == (n - 5) * 150 and cost.loc["baseline", "extra_updates"] == (n - 5) * 100
    assert cost.loc["salt", "extra_hours"] == pytest.approx((n - 5) * 150 / 50 / 3600)


def test_cli_writes_plan_md_and_refuses_bad_input(store, tmp_path, capsys):
    path, *_ = store
    assert main(["plan", str(path), "--out", str(tmp_path), "--resamples", "999"]) == 0
    text = (tmp_path / "plan.md").read_text()
    assert text.startswith("# Seed plan: plan") and "seeds for +1.4" in text and "Total:" in text
    assert (tmp_path / "plan.csv").exists()
    capsys.readouterr()
    assert main(["plan", str(path), "--effect", "0", "--out", str(tmp_path)]) == 2
    assert "--effect is in accuracy points" in capsys.readouterr().err
    assert main(["plan", str(path), "--test", "bootstrap", "--out", str(tmp_path)]) == 2
    assert "the plan sizes paired seed-level tests (t, wilcoxon, sign-flip)" in capsys.readouterr().err
    assert main(["plan", str(path), "--pilot", "9", "--out", str(tmp_path)]) == 2
    assert "declares only 5 seeds" in capsys.readouterr().err
