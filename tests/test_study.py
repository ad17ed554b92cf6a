"""Study files: every shipped study validates; bad input names file, key and what is allowed."""
from pathlib import Path

import pytest
import yaml

from harness.study import StudyError, load_study

STUDIES = sorted((Path(__file__).resolve().parents[1] / "studies").glob("*.yaml"))

GOOD = {
    "name": "t", "task": "synthetic-nli", "arms": ["baseline", "salt", "random-selection"],
    "axes": {"augment.samples_per_lang": [10, 20], "mixup.distribution": ["uniform", "beta"]},
    "seeds": [0, 1],
}


def write(tmp_path, data) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("path", STUDIES, ids=[p.name for p in STUDIES])
def test_shipped_studies_validate(path):
    spec = load_study(path)
    if spec.sampler.type == "grid":
        cells = spec.cells()
        assert len(cells) == len({c.id for c in cells}) > 0
        for cell in cells:
            spec.config(cell)


def test_cells_expand_arms_axes_seeds(tmp_path):
    spec = load_study(write(tmp_path, GOOD))
    cells = spec.cells()
    # baseline ignores augmentation axes: one cell per seed; the others 2 x 2 x 2
    assert sum(c.arm == "baseline" for c in cells) == 2
    assert len(cells) == 2 + 2 * 8
    cfg = spec.config(next(c for c in cells if c.arm == "random-selection" and c.seed == 1))
    assert cfg.augment.selection == "random" and cfg.seed == 1 and cfg.augment.samples_per_lang in (10, 20)
    assert not spec.config(cells[0]).augment.enabled


@pytest.mark.parametrize("change,key,fragment", [
    ({"task": "qnli"}, "task", "not one of xnli, pawsx"),
    ({"arms": ["salt", "oracle"]}, "arms[1]", "'oracle' is not one of baseline"),
    ({"arms": []}, "arms", "non-empty list"),
    ({"seeds": []}, "seeds", "non-empty list"),
    ({"seeds": [0, 0]}, "seeds", "twice"),
    ({"axes": {"augment.treshold": [0.1]}}, "axes.augment.treshold", "unknown setting; augment has:"),
    ({"axes": {"seed": [0, 1]}}, "axes.seed", "not a setting; axes are <section>.<setting>"),
    ({"axes": {"train.threads": [1, 2]}}, "axes.train.threads", "does not change results"),
    ({"axes": {"augment.threshold": []}}, "axes.augment.threshold", "non-empty list"),
    ({"axes": {"augment.threshold": [0.3, 1.5]}}, "axes.augment.threshold[1]", "[0, 1]"),
    ({"axes": {"augment.mode": ["visible", "hidden"]}}, "axes.augment.mode[1]", "not one of visible, masked"),
    ({"axes": {"augment.samples_per_lang": ["many"]}}, "axes.augment.samples_per_lang[0]",
     "expected an integer >= 0 or {language: count, ...} or all (or null)"),
    ({"axes": {"augment.samples_per_lang": [0, "al"]}}, "axes.augment.samples_per_lang[1]", "or all"),
    ({"axes": {"augment.samples_per_lang": [None, "all"]}}, "axes.augment.samples_per_lang", "twice"),
    ({"train": {"epochs": "three"}}, "train.epochs", "expected a number"),
    ({"train": {"epochs": 0}}, "train.epochs", "must be > 0"),
    ({"train": {"learning_rate": "1e-5"}}, "train.learning_rate", "write 1.0e-5"),
    ({"augment": {"threshold": "0.3"}}, "augment.threshold", "remove the quotes"),
    ({"augment": {"copies": 0}}, "augment.copies", "must be >= 1"),
    ({"mixup": {"alpha": -1.0}}, "mixup.alpha", "must be > 0"),
    ({"train": {"learning_rat": 1e-3}}, "train.learning_rat", "unknown setting; train has:"),
    ({"train": 3}, "train", "must be a mapping"),
    ({"data": {"world": "huge"}}, "data.world", "'huge' is not one of default, tiny"),
    ({"sampler": {"n_trials": 0}}, "sampler.n_trials", "must be >= 1"),
    ({"languages": {"targets": ["fr", "xx"]}}, "languages.targets[1]", "'xx' is not a target language"),
    ({"languages": {"source": "de", "targets": ["de"]}}, "languages.targets[0]", "not a target language"),
    ({"sampler": {"type": "tpe"}}, "sampler.n_trials", "trial budget"),
    ({"sampler": {"type": "bayes"}}, "sampler.type", "not one of grid, tpe"),
    ({"data": {"source": "hub"}}, "data.source", "not allowed for task synthetic-nli"),
    ({"colour": "blue"}, "colour", "unknown key"),
    ({"name": "a b"}, "name", "letters, digits"),
])
def test_errors_name_file_and_key(tmp_path, change, key, fragment):
    path = write(tmp_path, {**GOOD, **change})
    with pytest.raises(StudyError) as info:
        load_study(path)
    assert info.value.key == key
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "name: t\ntask: [unclosed\n")
    with pytest.raises(StudyError, match=r"line \d+.*not valid YAML"):
        load_study(path)
    with pytest.raises(StudyError, match="must be a YAML mapping"):
        load_study(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(StudyError, match="no such study file"):
        load_study(tmp_path / "missing.yaml")


def test_local_data_dir_is_resolved_against_the_study_file(tmp_path, real_dir):
    spec = load_study(write(tmp_path, {"name": "x", "task": "xnli", "model": "bert-base-multilingual-cased",
                                       "data": {"source": "local", "dir": str(real_dir)},
                                       "languages": {"targets": "all"}, "arms": ["salt"], "seeds": 1}))
    assert len(spec.base.target_langs) == 14 and spec.base.data_dir == str(real_dir)
    with pytest.raises(StudyError, match="data.dir"):
        load_study(write(tmp_path, {"name": "x", "task": "xnli", "model": "m", "arms": ["salt"], "seeds": 1,
                                    "data": {"source": "local", "dir": "nowhere"}}))


def test_a_grid_bigger_than_the_limit_is_refused_before_it_is_built(tmp_path):
    from harness.cli import main

    big = {**GOOD, "axes": {"augment.samples_per_lang": list(range(2000)), "mixup.distribution": ["uniform", "beta"]},
           "seeds": list(range(3))}
    path = write(tmp_path, big)
    with pytest.raises(StudyError, match=r"axes: 24,003 cells \(3 arms, 2000 augment.samples_per_lang x 2 "
                                         r"mixup.distribution, 3 seeds\) is more than the limit of 100"):
        load_study(path, max_cells=100)
    assert load_study(path).cell_count() == 2 * 2000 * 3 * 2 + 3
    assert main(["validate", str(path)]) == 2  # the default limit, 10,000
    small = write(tmp_path, {**GOOD, "seeds": [0]})
    assert main(["validate", str(small), "--max-cells", "9"]) == 0
    assert main(["validate", str(small), "--max-cells", "8"]) == 2


def test_the_smoke_store_is_keyed_by_content_not_name(tmp_path, monkeypatch):
    import yaml

    from harness.study import smoke_spec

    monkeypatch.setenv("SALT_SMOKE_DIR", str(tmp_path / "smoke"))
    base = {"name": "same", "task": "xnli", "model": "bert-base-multilingual-cased", "arms": ["baseline", "salt"],
            "seeds": [0, 1]}
    paths = []
    for i, extra in enumerate(({}, {}, {"augment": {"threshold": 0.5}})):
        paths.append(tmp_path / f"s{i}.yaml")
        paths[-1].write_text(yaml.safe_dump({**base, **extra}))
    a, b, c = (smoke_spec(load_study(p)) for p in paths)
    assert a.output.dir == b.output.dir == str(tmp_path / "smoke" / f"same-{a.revision}")
    assert c.output.dir != a.output.dir and c.name == a.name == "same-smoke"


def test_settings_added_or_renamed_later_leave_stored_cells_as_they_were():
    """The findings store of the sample-curve study (docs/findings/sample-curve) is revision 5e933dbae437; a setting
    added since (vocab.hub_revision, at its default) or renamed (vocab.max_lines -> max_texts) must not move it, or
    every finished cell of every existing store would run again."""
    from dataclasses import replace

    from salt.config import RunConfig, identity

    root = Path(__file__).resolve().parents[1]
    assert load_study(root / "studies" / "sample-curve.yaml").revision == "5e933dbae437"
    assert "5e933dbae437" in (root / "docs" / "findings" / "sample-curve" / "FINDINGS.md").read_text()
    base = identity(RunConfig())
    assert "vocab.hub_revision" not in base and base["vocab.max_lines"] == 100_000 and "vocab.max_texts" not in base
    pinned = identity(replace(RunConfig(), vocab=replace(RunConfig().vocab, hub_revision="abc")))
    assert pinned["vocab.hub_revision"] == "abc"  # set, it is part of the cell like any setting
