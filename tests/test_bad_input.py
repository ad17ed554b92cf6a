"""Bad input never breaks anything: fuzzed study files end in one StudyError naming the key, and
bad stores fail before any work, with nothing written."""
import os
import subprocess
import sys

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.records import Cell
from harness.study import DEFAULT_MAX_CELLS, StudyError, load_study
from salt.config import check_config

GOOD = {"name": "fuzz", "task": "synthetic-nli", "arms": ["baseline", "salt"],
        "axes": {"augment.samples_per_lang": [10, 20]}, "seeds": [0, 1],
        "augment": {"threshold": 0.3}, "train": {"epochs": 1}}
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3))
keys = st.sampled_from(["name", "task", "data", "model", "languages", "arms", "axes", "seeds", "sampler", "output",
                        "train", "augment", "mixup", "vocab", "colour", "augment.threshold"])
sub_keys = st.sampled_from(["source", "targets", "threshold", "epochs", "type", "n_trials", "mode", "dir",
                            "augment.threshold", "augment.mode", "mixup.alpha", "bogus", "learning_rate"])


@st.composite
def mutated(draw):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "set", "nest"]))
        key = draw(keys)
        if op == "drop":
            data.pop(key, None)
        elif op == "set":
            data[key] = draw(scalars)
        else:
            data[key] = {draw(sub_keys): draw(st.one_of(scalars, st.lists(scalars, max_size=3)))}
    return data


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=mutated())
def test_fuzzed_study_files_fail_with_a_named_key(tmp_path, data):
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data))
    try:  # the CLI's size guard: `seeds: 277503` is refused, not expanded into half a million cells
        spec = load_study(path, max_cells=DEFAULT_MAX_CELLS)
    except StudyError as err:
        message = str(err)
        assert message.startswith(str(path)) and "\n" not in message and "Traceback" not in message
        return
    # An accepted file means what it says: its keys reached the study, every cell is a valid run config
    # and is recorded and read back as itself, and the study's identity does not depend on when it was read.
    assert spec.name == data["name"] and list(spec.arms) == data["arms"]
    assert spec.revision == load_study(path, max_cells=DEFAULT_MAX_CELLS).revision
    for cell in spec.cells()[:200]:
        check_config(spec.config(cell))
        assert Cell.from_tags(cell.tags()) == cell and cell.arm in data["arms"]
    if spec.sampler.type == "grid":
        per_seed = {c.id for c in spec.cells() if c.seed == spec.seeds[0]}
        assert len(spec.cells()) == len(per_seed) * len(spec.seeds)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_arbitrary_text_is_a_clear_error_or_valid(tmp_path, text):
    path = tmp_path / "junk.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_study(path)
    except StudyError as err:
        assert str(path) in str(err)


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, **(env or {})})


def test_bad_study_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**GOOD, "arms": ["salt", "magic"], "output": {"dir": str(tmp_path / "store")}}))
    out = cli("run", str(bad))
    assert out.returncode == 2 and "arms[1]" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "store").exists()


def test_unwritable_store_and_unreachable_storage_fail_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({**GOOD, "output": {"dir": str(blocker / "mlruns")}}))
    out = cli("run", str(study))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert str(blocker) in out.stderr
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({**GOOD, "output": {"dir": str(tmp_path / "mlruns")}}))
    out = cli("run", str(ok), "--storage", "postgresql://nobody@127.0.0.1:1/none")
    assert out.returncode == 2 and "cannot open Optuna storage" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "mlruns").exists()  # nothing recorded
    out = cli("run", str(ok), "--tracking-uri", "http://127.0.0.1:1")
    assert out.returncode == 2 and "Traceback" not in out.stderr and "127.0.0.1:1" in out.stderr
