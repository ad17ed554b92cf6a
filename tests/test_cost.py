"""`validate --cost`: the figures are the counts a real run records, from the same functions (salt.cost)."""
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from harness.cost import device_hours, render_cost, study_cost, total_line
from harness.study import load_study
from salt.arms import apply_arm
from salt.config import AugmentConfig, RunConfig, TrainConfig
from salt.cost import data_size, probe, run_cost
from salt.run import run


@pytest.fixture(scope="module")
def cfg(tiny_world, salt_cache):
    return RunConfig(task="synthetic-nli", world="tiny", model="synthetic:tiny", cache_dir=str(salt_cache),
                     target_langs=("fr", "de"), augment=AugmentConfig(threshold=0.1, samples_per_lang=12),
                     train=TrainConfig(learning_rate=1e-3, epochs=1, batch_size=16, max_train_examples=150,
                                       max_eval_examples=20, log_every=2, evals_per_epoch=1))


@pytest.mark.parametrize("arm,schedule", [("baseline", "mixed"), ("salt", "mixed"), ("salt", "intermediate"),
                                          ("random-selection", "mixed"), ("equal-steps", "mixed"),
                                          ("equal-steps", "intermediate")])
def test_the_estimate_is_what_the_run_trains(cfg, arm, schedule):
    """Updates and rows per epoch as the trainer counts them, for every stage layout (the step-matched control
    resamples source rows for the augmented ones; the intermediate schedule trains them in a stage of their own)."""
    c = apply_arm(replace(cfg, train=replace(cfg.train, schedule=schedule, grad_accum=2)), arm)
    est = run_cost(c, data_size(c))
    res = run(c)
    assert not res.degenerate  # N = 12 per language is selected in full: the estimate is exact, not a bound
    assert not est.upper_bound
    assert est.updates == res.train.steps
    assert est.rows == res.train.examples_seen  # one epoch per stage: each stage's rows once
    assert est.source_rows == 150 and est.augmented_rows == res.train.n_augmented
    assert est.matched_rows == sum(res.matched.values())
    assert est.proposal_sentences == (150 if c.augment.enabled else 0)


def test_all_is_an_upper_bound(cfg):
    c = apply_arm(replace(cfg, augment=replace(cfg.augment, samples_per_lang=None)), "salt")
    est = run_cost(c, data_size(c))
    res = run(c)
    assert est.upper_bound and est.augmented_rows == 2 * 150  # one candidate per source sentence, per language
    assert est.augmented_rows >= res.train.n_augmented and est.updates >= res.train.steps


def test_a_probe_times_real_updates(cfg):
    p = probe(cfg, steps=1, warmup=1)
    assert p.updates_per_s > 0 and p.device.startswith("cpu") and "batch 16 x 1" in p.detail


STUDY = {"name": "cost", "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
         "model": "synthetic:tiny", "languages": {"source": "en", "targets": ["fr", "de"]},
         "train": {"epochs": 1, "max_train_examples": 150, "max_eval_examples": 20, "batch_size": 16},
         "augment": {"threshold": 0.1},
         "arms": ["baseline", "salt"], "axes": {"augment.samples_per_lang": [12, "all"]}, "seeds": [0, 1]}


@pytest.fixture()
def study_file(write_study):
    return write_study(STUDY)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "SALT_PROGRESS_EVERY": "0"})


def test_the_study_total_counts_each_cell_and_each_proposal_pass_once(study_file):
    spec = load_study(study_file)
    cost = study_cost(spec, throughput=2.0)
    by_label = {c.cell.label: c.cost for c in cost.cells}
    assert len(cost.cells) == 6  # baseline x 2 seeds, salt x {12, all} x 2 seeds
    total = cost.total()
    assert total["updates"] == sum(c.updates for c in by_label.values())
    assert total["passes"] == 1 and total["sentences"] == 150  # every salt cell shares one proposal pass
    assert total["bound"] and total["hours"] == pytest.approx(device_hours(total["updates"], 2.0))
    assert total["hours"] == pytest.approx(total["updates"] / 2.0 / 3600)
    text = render_cost(cost)
    assert f"{total['updates']:,}" in text and "<= " in text and "2 updates/s (given)" in text
    assert total_line(cost).startswith("cost: 6 cells, <= ")


def test_cli_cost_and_its_flags(study_file):
    out = cli("validate", str(study_file), "--cost", "--throughput", "4")
    assert out.returncode == 0, out.stderr
    assert "cost of study 'cost'" in out.stdout and "device-hours: updates / 4 updates/s (given)" in out.stdout
    for flags, says in [(["--throughput", "4"], "add --cost"), (["--cost", "--throughput", "-1"], "positive"),
                        (["--cost", "--throughput", "4", "--probe"], "give one"), (["--cost", "--probe", "0"], "at least 1")]:
        bad = cli("validate", str(study_file), *flags)
        assert bad.returncode == 2 and says in bad.stderr, (flags, bad.stderr)


def test_run_says_the_total_before_it_spends(study_file):
    out = cli("run", str(study_file), "--quiet")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first == total_line(study_cost(load_study(study_file)))
