"""Budgets per language and the intermediate-task schedule, followed to what the trainer receives."""
from dataclasses import replace

import pytest

import salt.run
from salt.augment.budget import allocate
from salt.config import AugmentConfig, BudgetConfig, ConfigError, PerLanguage, RunConfig, TrainConfig, check_config


def test_a_shared_total_follows_its_rule_and_never_exceeds_a_pool():
    pools = {"fr": 100, "de": 400, "sw": 1600}
    assert allocate(900, pools, "uniform", 0.7) == {"fr": 100, "de": 400, "sw": 400}
    assert allocate(600, pools, "uniform", 0.7) == {"fr": 100, "de": 250, "sw": 250}  # fr capped, its rest shared
    prop = allocate(1050, pools, "proportional", 0.7)
    assert prop == {"fr": 50, "de": 200, "sw": 800}
    temp = allocate(1050, pools, "temperature", 0.7)
    assert sum(temp.values()) == 1050
    # the temperature rule lies between uniform and proportional: small pools gain, large ones give
    assert prop["fr"] < temp["fr"] < 1050 / 3 and prop["sw"] > temp["sw"] > 1050 / 3
    assert allocate(10_000, pools, "temperature", 0.7) == pools  # more than the pools hold: every pool whole
    assert allocate(7, {"fr": 5, "de": 0}, "uniform", 0.7) == {"fr": 5, "de": 0}
    assert allocate(5, {"a": 10, "b": 10, "c": 10}, "uniform", 0.7) == {"a": 2, "b": 2, "c": 1}


def test_a_budget_and_a_count_together_are_refused():
    cfg = RunConfig(augment=AugmentConfig(samples_per_lang=200, budget=BudgetConfig(total=400)))
    with pytest.raises(ConfigError, match="augment.budget.total"):
        check_config(cfg)


@pytest.fixture(scope="module")
def base(tiny_world, salt_cache):
    return RunConfig(task="synthetic-nli", world="tiny", model="synthetic:tiny", cache_dir=str(salt_cache),
                     target_langs=("fr", "de"), augment=AugmentConfig(threshold=0.05),
                     train=TrainConfig(learning_rate=1e-3, epochs=1, batch_size=16, max_train_examples=160,
                                       max_eval_examples=20, log_every=2))


@pytest.fixture
def received(monkeypatch):
    """What `train_and_evaluate` was called with: augmented examples per language, and the stages it ran."""
    seen = {}
    real = salt.run.train_and_evaluate

    def spy(model, pad_id, source, augmented, *args, **kwargs):
        result = real(model, pad_id, source, augmented, *args, **kwargs)
        seen["per_lang"] = {lang: sum(a.lang == lang for a in augmented) for lang in ("fr", "de")}
        seen["stages"] = result.stages
        seen["n_source"] = len(source)
        return result
    monkeypatch.setattr(salt.run, "train_and_evaluate", spy)
    return seen


def test_a_mapping_budget_reaches_the_trainer(base, received):
    cfg = replace(base, augment=replace(base.augment, samples_per_lang=PerLanguage.of({"fr": 30, "de": 70})))
    res = salt.run.run(cfg)
    assert received["per_lang"] == {"fr": 30, "de": 70} and res.degenerate == {}
    assert res.augmentation.requested == {"fr": 30, "de": 70}


def test_a_mapping_must_name_every_target_and_no_other(base):
    cfg = replace(base, augment=replace(base.augment, samples_per_lang=PerLanguage.of({"fr": 30, "es": 70})))
    with pytest.raises(ConfigError, match="names es, fr but the target languages are fr, de"):
        salt.run.run(cfg)


def test_a_budget_with_every_pool_empty_is_an_error_before_training(base, received):
    """Otherwise the cell trains as the baseline under SALT's name."""
    cfg = replace(base, augment=replace(base.augment, threshold=1.0, budget=BudgetConfig(total=90)))
    with pytest.raises(ValueError, match=r"every target language's pool of code-switched candidates is empty \(fr 0, "
                                         r"de 0\), so the cell would train as the baseline"):
        salt.run.run(cfg)
    assert "per_lang" not in received  # nothing was trained


def test_the_step_matched_control_records_the_n_it_is_matched_to_not_the_sample(base, received):
    """equal-steps trains on source rows: it logs the per-language counts it stands in for, and no augmentation
    of its own (no manifest, digest or aug/* statistics of SALT's sample)."""
    from salt.arms import apply_arm

    from harness.tracking.results import examples_at, matched_metric, result_metrics

    cfg = replace(base, augment=replace(base.augment, samples_per_lang=40))
    res = salt.run.run(apply_arm(cfg, "equal-steps"))
    assert res.augmentation is None and res.matched == {"fr": 40, "de": 40} and received["per_lang"] == {"fr": 0, "de": 0}
    metrics = result_metrics(res)
    assert metrics[matched_metric("fr")] == 40 and not any(k.startswith("aug/") for k in metrics)
    assert examples_at(metrics, "de") == 40


def test_a_temperature_budget_reaches_the_trainer(base, received):
    cfg = replace(base, augment=replace(base.augment, budget=BudgetConfig(total=90, rule="temperature", alpha=0.5)))
    res = salt.run.run(cfg)
    pools = {lang: int(st["n_pool"]) for lang, st in res.augmentation.stats.items()}
    assert received["per_lang"] == allocate(90, pools, "temperature", 0.5)
    assert sum(received["per_lang"].values()) == 90


def test_the_intermediate_schedule_trains_augmented_examples_first_then_the_task(base, received):
    cfg = replace(base, augment=replace(base.augment, samples_per_lang=40),
                  train=replace(base.train, schedule="intermediate", intermediate_epochs=2.0,
                                intermediate_learning_rate=5e-4))
    res = salt.run.run(cfg)
    first, second = received["stages"]
    assert [first["name"], second["name"]] == ["intermediate", "task"]
    # stage 1: the 80 augmented examples alone, twice, at its own learning rate; then the 160 source examples
    assert first["augmented_rows"] == 80 and first["examples_seen"] == 160 and first["learning_rate"] == 5e-4
    assert first["steps"] == 10 and second["first_step"] == 11
    assert second["augmented_rows"] == 0 and second["examples_seen"] == 160 and second["steps"] == 10
    assert res.train.steps == 20 and res.train.best_step > 10  # the checkpoint comes from the task stage
    losses = [c for c in res.train.curves if "loss" in c]
    assert {c["stage"] for c in losses if c["step"] <= 10} == {"intermediate"}


def test_the_step_matched_control_matches_each_stage(base, received):
    from salt.arms import apply_arm

    train = replace(base.train, schedule="intermediate", intermediate_epochs=2.0)
    salt_run = salt.run.run(replace(base, augment=replace(base.augment, samples_per_lang=40), train=train))
    salt_stages = received["stages"]
    matched = salt.run.run(apply_arm(replace(base, augment=replace(base.augment, samples_per_lang=40), train=train),
                                     "equal-steps"))
    assert [(s["name"], s["steps"], s["examples_seen"]) for s in received["stages"]] == \
        [(s["name"], s["steps"], s["examples_seen"]) for s in salt_stages]
    assert received["stages"][0]["augmented_rows"] == 0 and matched.train.steps == salt_run.train.steps


def _study(tmp_path, **extra):
    import yaml

    from harness.study import load_study

    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump({"name": "b", "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
                                    "languages": {"source": "en", "targets": ["fr", "de"]}, "arms": ["salt"],
                                    "seeds": [0], **extra}))
    return load_study(path)


def test_budgets_in_study_files_grid_and_tpe(tmp_path):
    from harness.objective import distributions
    from harness.study import StudyError

    spec = _study(tmp_path, augment={"budget": {"rule": "temperature", "alpha": 0.5}},
                  axes={"augment.budget.total": [100, 400]})
    assert [spec.config(c).augment.budget for c in spec.cells()] == [
        BudgetConfig(100, "temperature", 0.5), BudgetConfig(400, "temperature", 0.5)]
    tpe = _study(tmp_path, augment={"budget": {"rule": "uniform"}}, axes={"augment.budget.total": {"low": 10, "high": 1000}},
                 sampler={"type": "tpe", "arm": "salt", "n_trials": 4, "objective": "dev_acc_avg_targets"})
    assert distributions(tpe, "salt")["augment.budget.total"].high == 1000
    mapped = _study(tmp_path, augment={"samples_per_lang": {"fr": 10, "de": "all"}})
    assert spec.cells()[0].key != mapped.cells()[0].key
    assert mapped.config(mapped.cells()[0]).augment.samples_per_lang.as_dict() == {"de": None, "fr": 10}
    with pytest.raises(StudyError, match="a per-language mapping cannot be an axis value"):
        _study(tmp_path, axes={"augment.samples_per_lang": [{"fr": 1, "de": 2}, 5]})
    with pytest.raises(StudyError, match="augment.samples_per_lang.*fr: must be >= 0"):
        _study(tmp_path, augment={"samples_per_lang": {"fr": -1, "de": 2}})
