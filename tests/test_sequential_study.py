"""Sequential seeds in a study file: rounds add seeds only to the comparisons the group-sequential rule has not
decided, and the report marks by the rule's decisions."""
import math

import pytest
import yaml

from harness.report.build import study_report
from harness.report.sequential import decisions, next_seeds
from harness.storage import locate
from harness.study import StudyError, load_study
from tests.fakes import study_file, write_store


def accuracy(cell):
    """fr: SALT far ahead on every seed; de: no difference beyond a wobble (undecided until max)."""
    gain = {"fr": 0.2, "de": 0.0, "en": 0.0} if cell.arm == "salt" else {"fr": 0.0, "de": 0.0, "en": 0.0}
    wobble = 0.01 * math.sin(2.3 * cell.seed + (1.0 if cell.arm == "salt" else 0.0))
    return {l: 0.5 + (0.3 if l == "en" else 0) + 0.02 * cell.seed % 0.05 + gain[l] + (wobble if l == "de" else 0)
            + 0.003 * math.cos(cell.seed) * (cell.arm == "salt") for l in ("en", "fr", "de")}


def test_a_round_adds_the_next_seed_only_where_a_comparison_is_undecided(tmp_path):
    path = study_file(tmp_path, "seq", arms=("baseline", "salt"), axes={"augment.samples_per_lang": [100]})
    raw = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**raw, "seeds": {"min": 3, "max": 5}}))
    spec = load_study(path)
    assert spec.seeds == (0, 1, 2, 3, 4) and len(spec.cells()) == 10 and len(spec.first_round()) == 6
    later = {c.id for c in spec.cells() if c.seed >= 3}
    spec, uri, _ = write_store(path, skip=later, accuracy=accuracy)
    report = study_report(spec, locate(spec).tracking_uri)
    frame = decisions(report, spec.rounds.design()).set_index("row")
    assert frame.loc["fr", "decision"] == "significant" and frame.loc["de", "decision"] == "undecided"
    assert frame["family_size"].tolist() == [2, 2] and (frame["seeds"] == 3).all()
    assert next_seeds(report, spec.rounds.design(), spec.seeds) == {("salt", "samples_per_lang=100"): [3],
                                                                    ("baseline", "-"): [3]}
    # marks follow the rule; the rule is named in the table's family and the report has its section
    [table] = report.tables
    marks = dict(zip(table.rows["row"], table.rows["mark"]))
    assert marks["fr"] == "*" and marks["de"] == "" and "Sequential seeds" in table.family
    from harness.report.tables import render_markdown

    assert "## Sequential seeds" in render_markdown(report)


def test_sequential_seeds_are_checked_by_the_design(tmp_path):
    path = study_file(tmp_path, "bad", arms=("baseline", "salt"))
    raw = yaml.safe_load(path.read_text())
    for seeds, fragment in [({"min": 1, "max": 5}, "a paired t-test needs at least 2 seeds"),
                            ({"min": 3}, "seeds.max: required"), ({"min": 3, "max": 5, "until": "max"}, "seeds.until"),
                            ({"min": 3, "max": 5, "stop": 1}, "seeds.stop: unknown key")]:
        path.write_text(yaml.safe_dump({**raw, "seeds": seeds}))
        with pytest.raises(StudyError, match=fragment):
            load_study(path)


@pytest.mark.slow
def test_a_sequential_study_runs_rounds_until_decided(tmp_path, salt_cache, monkeypatch):
    from harness.scheduler import run_study

    monkeypatch.setenv("SALT_CACHE", str(salt_cache))
    path = tmp_path / "rounds.yaml"
    path.write_text(yaml.safe_dump({
        "name": "rounds", "task": "synthetic-nli", "data": {"world": "tiny"}, "languages": {"targets": ["fr", "de"]},
        "train": {"epochs": 1, "max_train_examples": 200, "max_eval_examples": 40},
        "augment": {"samples_per_lang": 50, "threshold": 0.1}, "arms": ["baseline", "salt"],
        "seeds": {"min": 3, "max": 4}, "output": {"dir": str(tmp_path / "mlruns")}}))
    spec = load_study(path)
    said = []
    summary = run_study(spec, progress=False, say=said.append)
    report = study_report(spec, locate(spec).tracking_uri)
    frame = decisions(report, spec.rounds.design())
    undecided_after_3 = (frame["seeds"] == 4).any()
    assert summary["complete"] == summary["cells"] == (8 if undecided_after_3 else 6)
    assert any("sequential seeds" in line for line in said) == undecided_after_3
    assert not (frame["decision"] == "undecided").any()  # every comparison decided, or at max
