"""Adding an arm or a task is one registration: validation, cells, the trainer, the report and the CLI follow."""
from dataclasses import replace

import pandas as pd
import pytest
import yaml

from salt.arms import ARMS, Arm, register_arm
from salt.data.tasks import SYNTHETIC_NLI, TASKS, Smoke, Task, register_task
from salt.synthetic import world_languages
from salt.data.types import TaskData, TaskInputs, TaskSpec

TOY_TASK = "toy-nli"
TOY_ARM = "salt-no-mixup"


def load_toy(cfg) -> TaskInputs:
    """The tiny world's NLI task under another name, with half its training pairs."""
    from salt.synthetic import load_world

    world = load_world(cfg.world)
    nli = world.task(SYNTHETIC_NLI.name)
    splits = {split: {lang: rows[: len(rows) // 2] if split == "train" else rows for lang, rows in by_lang.items()}
              for split, by_lang in nli.splits.items()}
    return TaskInputs(TaskData(TaskSpec(TOY_TASK, nli.spec.labels, nli.spec.languages), splits), world.corpora,
                      world.lexicon)


@pytest.fixture
def registered():
    task = register_task(Task(TaskSpec(TOY_TASK, SYNTHETIC_NLI.labels, SYNTHETIC_NLI.languages), load_toy,
                              ("synthetic",), Smoke(TOY_TASK), "a toy task", languages_of=world_languages))
    arm = register_arm(Arm(TOY_ARM, lambda c: replace(ARMS["salt"].apply(c), mixup=replace(c.mixup, enabled=False)),
                           "SALT without mixup", "#123456", "SALT's code-switched ids, no embedding mixup",
                           ignores=("mixup",), controls="salt"))
    yield task, arm
    TASKS.pop(TOY_TASK)
    ARMS.pop(TOY_ARM)


def test_registration_reaches_validation_and_the_cli(registered, tmp_path):
    from harness.cli import build_parser
    from harness.study import StudyError, load_study

    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({"name": "toy", "task": TOY_TASK, "data": {"world": "tiny"},
                                    "arms": ["baseline", TOY_ARM], "axes": {"mixup.alpha": [0.5, 2.0]}, "seeds": 2}))
    spec = load_study(path)
    assert spec.base.task == TOY_TASK and spec.base.model == "synthetic:tiny" and spec.base.data_source == "synthetic"
    assert len(spec.cells()) == 2 + 2  # the toy arm ignores mixup, as declared: one cell per seed
    args = build_parser().parse_args(["compare", "--task", TOY_TASK, "--arms", TOY_ARM])
    assert args.task == TOY_TASK and args.arms == [TOY_ARM]
    with pytest.raises(ValueError, match="already registered"):
        register_arm(registered[1])
    with pytest.raises(ValueError, match="controls 'nothing', which is not registered"):
        register_arm(Arm("x", lambda c: c, "x", "#000000", "x", controls="nothing"))
    ARMS.pop(TOY_ARM)
    with pytest.raises(StudyError, match=r"arms\[1\]: 'salt-no-mixup' is not one of"):
        load_study(path)
    ARMS[TOY_ARM] = registered[1]


@pytest.mark.slow
def test_a_toy_arm_and_task_run_end_to_end_through_the_report(registered, tmp_path, salt_cache, monkeypatch):
    from harness.cli import main
    from harness.scheduler import run_study
    from harness.storage import locate
    from harness.study import load_study
    from harness.tracking.readback import Reader

    monkeypatch.setenv("SALT_CACHE", str(salt_cache))
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({
        "name": "toy", "task": TOY_TASK, "data": {"world": "tiny"}, "languages": {"targets": ["fr", "de"]},
        "train": {"epochs": 1, "max_eval_examples": 30}, "augment": {"threshold": 0.1, "samples_per_lang": 40},
        "arms": ["baseline", "salt", TOY_ARM], "seeds": [0, 1], "output": {"dir": str(tmp_path / "mlruns")}}))
    spec = load_study(path)
    summary = run_study(spec, workers=1, progress=False)
    assert summary["complete"] == summary["cells"] == 6
    runs = Reader(locate(spec).tracking_uri).trial_runs(spec.name, revision=spec.revision)
    toy = [r for r in runs if r.cell.arm == TOY_ARM]
    assert len(toy) == 2 and all(r.params["task"] == TOY_TASK and r.params["mixup.enabled"] == "False" for r in toy)
    assert all(r.params["arm"] == r.cell.arm for r in runs)
    assert all(r.metrics["n_source"] == 150 for r in runs)  # the toy loader's half of the 300 training pairs
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out), "--format", "csv", "--no-plots", "--no-log"]) == 0
    comparisons = list(dict.fromkeys(pd.read_csv(out / "comparisons.csv")["comparison"]))
    # from the registry: every arm against the reference, then the toy arm as the control it declares
    assert comparisons == ["salt vs baseline", f"{TOY_ARM} vs baseline", f"salt vs {TOY_ARM}"]
