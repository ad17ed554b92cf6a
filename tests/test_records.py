"""The typed experiment record: a cell's identity is the content of its run, a study's is its content."""
import json
from dataclasses import replace

import pytest
import yaml

from harness.records import MAX_RECORD, Cell, setting_label
from harness.study import StudySpec, describe_changes, load_study

STUDY = {"name": "rec", "task": "synthetic-nli", "data": {"world": "tiny"},
         "languages": {"source": "en", "targets": ["fr", "de"]},
         "arms": ["baseline", "salt", "random-selection", "equal-steps"],
         "augment": {"threshold": 0.3}, "train": {"epochs": 2},
         "axes": {"augment.samples_per_lang": [20, "all"], "mixup.enabled": [True, False]}, "seeds": [0, 1]}


def spec_of(tmp_path, **changes) -> StudySpec:
    path = tmp_path / f"s{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **changes}))
    return load_study(path)


def ids(spec):
    return {c.label: c.id for c in spec.cells()}


def test_cells_expand_by_what_each_arm_uses(tmp_path):
    spec = spec_of(tmp_path)
    by_arm = {}
    for c in spec.cells():
        by_arm.setdefault(c.arm, []).append(c)
    # baseline ignores augment/mixup/vocab; equal-steps ignores mixup (it trains on no augmented rows)
    assert len(by_arm["baseline"]) == 2 and len(by_arm["equal-steps"]) == 2 * 2
    assert len(by_arm["salt"]) == len(by_arm["random-selection"]) == 2 * 2 * 2
    assert [k for k, _ in by_arm["equal-steps"][0].settings] == ["augment.samples_per_lang"]
    cell = by_arm["salt"][3]  # seeds vary fastest
    assert cell.settings == (("augment.samples_per_lang", 20), ("mixup.enabled", False)) and cell.seed == 1
    assert cell.label == "salt N=20 enabled=false s1"  # short names: MLflow cuts long run names
    assert spec.config(cell).mixup.enabled is False and spec.config(cell).augment.samples_per_lang == 20


def test_identity_is_the_content_of_the_run(tmp_path):
    spec = spec_of(tmp_path)
    assert ids(spec) == ids(spec_of(tmp_path)) and spec.revision == spec_of(tmp_path).revision
    # what cannot change a result changes nothing
    same = spec_of(tmp_path, name="rec", description="other words", output={"dir": str(tmp_path / "x")},
                   train={"epochs": 2, "threads": 2, "log_every": 3, "eval_batch_size": 7})
    assert ids(same) == ids(spec) and same.revision == spec.revision
    # a setting only the augmenting arms read changes only their cells
    thr = spec_of(tmp_path, augment={"threshold": 0.6})
    assert thr.revision != spec.revision
    changed = {label for label in ids(spec) if ids(spec)[label] != ids(thr)[label]}
    assert changed == {c.label for c in spec.cells() if c.arm != "baseline"}
    # a training setting changes every cell
    epochs = spec_of(tmp_path, train={"epochs": 3})
    assert not set(ids(epochs).values()) & set(ids(spec).values())
    # two arms with the same config are still two cells
    assert len({c.id for c in spec.cells()}) == len(spec.cells())


def test_cell_round_trips_through_its_tags_and_params(tmp_path):
    spec = spec_of(tmp_path)
    for cell in spec.cells():
        assert Cell.from_tags(cell.tags()) == cell
        assert cell.params() == {"arm": cell.arm, **dict(cell.settings), "seed": cell.seed}
        assert "'" not in cell.id and '"' not in cell.id and len(cell.id) < 120
    assert Cell.from_tags({}) is None
    hostile = Cell("x", (("vocab.text_split", "it's \"quoted\" " * 50),), 0, "f" * 64)
    assert "'" not in hostile.id and '"' not in hostile.id and len(hostile.id) < 120
    assert Cell.from_json(hostile.to_json()) == hostile and len(hostile.to_json()) < MAX_RECORD


def test_setting_labels_keep_keys_that_share_a_name_apart():
    assert setting_label([("train.batch_size", 16), ("augment.batch_size", 64)]) == \
        "train.batch_size=16,augment.batch_size=64"
    assert setting_label([("augment.samples_per_lang", None), ("augment.threshold", 0.3)]) == \
        "samples_per_lang=all,threshold=0.3"
    assert setting_label([]) == "-"


def test_stored_study_round_trips_and_guards_its_revision(tmp_path):
    spec = spec_of(tmp_path)
    data = json.loads(json.dumps(spec.to_dict()))  # what the stores keep
    back = StudySpec.from_dict(data)
    assert back.revision == spec.revision and back.base == spec.base and ids(back) == ids(spec)
    with pytest.raises(ValueError, match="claims revision"):
        StudySpec.from_dict({**data, "seeds": [0, 1, 2]})


def test_changes_name_every_changed_key(tmp_path):
    old, new = spec_of(tmp_path), spec_of(tmp_path, train={"epochs": 5}, augment={"threshold": 0.6}, seeds=[0, 1, 2])
    assert describe_changes(old.content(), new.content()) == [
        "augment.threshold: 0.3 -> 0.6", "seeds: [0, 1] -> [0, 1, 2]", "train.epochs: 2.0 -> 5.0"]
    assert describe_changes(old.content(), replace(old, description="x").content()) == []
