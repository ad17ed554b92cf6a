"""The CLI as a user runs it: exact real counts, the augmentation preview, clear errors."""
import json
import os
import subprocess
import sys

import pytest


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("task,rows,labels", [("xnli", 2490, {"entailment": 830, "neutral": 830, "contradiction": 830}),
                                              ("pawsx", 2000, None)])
def test_data_describe_reports_the_real_counts(real_dir, task, rows, labels):
    out = cli("data", "describe", "--task", task, "--data-dir", str(real_dir), "--json")
    assert out.returncode == 0, out.stderr
    dev = [r for r in json.loads(out.stdout)["rows"] if r["split"] == "dev"]
    assert len(dev) == (15 if task == "xnli" else 7) and all(r["rows"] == rows for r in dev)
    for r in dev:
        if labels:
            assert {k: r[k] for k in labels} == labels
    text = cli("data", "describe", "--task", task, "--data-dir", str(real_dir)).stdout
    assert f"  dev   fr  {rows}" in text


def test_augment_preview_side_by_side(salt_cache):
    out = cli("augment", "--task", "synthetic-nli", "--world", "tiny", "--model", "synthetic:tiny", "--lang", "fr",
              "--threshold", "0.1", "--max-source", "50", "--show", "2", env={"SALT_CACHE": str(salt_cache)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("  en: [CLS]") and lines[1].startswith("  fr: [CLS]") and "[" in lines[1][6:]
    assert "(+ gold, - not, ~ synonym)" in out.stdout  # the gold lexicon checks each substitution
    assert any(l.strip().startswith("precision") for l in lines) and "statistics (fr, 50 source examples)" in out.stdout


@pytest.mark.parametrize("args,fragment", [
    (["data", "describe", "--task", "xnli", "--data-dir", "/no/such/dir"], "--data-dir /no/such/dir: no such directory"),
    (["augment", "--task", "synthetic-nli", "--world", "tiny", "--model", "synthetic:tiny", "--lang", "xx"],
     "--lang 'xx': choose a target language of synthetic-nli: fr, de, es"),
    (["run", "studies/no-such.yaml"], "no such study file"),
    (["validate", "README.md"], "README.md"),
])
def test_bad_input_is_one_clear_line(args, fragment, salt_cache):
    out = cli(*args, env={"SALT_CACHE": str(salt_cache)})
    assert out.returncode == 2 and fragment in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args,fragment", [
    # every flag that sets a RunConfig value goes through salt's one validator, before any work
    (["compare", "--set", "train.epochs=two"], "--set train.epochs=two: train.epochs: expected a number, got 'two'"),
    (["compare", "--set", "augment.treshold=0.5"], "augment.treshold: unknown setting; augment has: enabled"),
    (["compare", "--set", "train.epochs"], "expected KEY=VALUE"),
    (["compare", "--arms", "salt", "oracle"], "invalid choice: 'oracle'"),
    (["augment", "--lang", "fr", "--threshold", "2"], "--threshold 2: must be in [0, 1], got 2.0"),
    (["augment", "--lang", "fr", "--samples", "-1"], "--samples -1: must be >= 0, got -1"),
    (["augment", "--lang", "fr", "--mode", "hidden"], "invalid choice: 'hidden'"),
])
def test_settings_from_flags_are_checked_like_study_files(args, fragment, capsys):
    from harness.cli import main

    try:
        code = main(args)
    except SystemExit as exit:  # argparse's own choices
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err


@pytest.mark.parametrize("change,fragment", [
    ({"model": "/no/such/model"}, "model: model '/no/such/model' is neither an existing directory nor a hub id"),
    ({"model": "synthetic:huge"}, "unknown synthetic model 'synthetic:huge'"),
    ({"sampler": {"objective": "dev_acc_avg_target"}}, "sampler.objective: 'dev_acc_avg_target' is not a metric"),
    ({"task": "xnli", "model": "bert-base-multilingual-cased"}, "is not in the Hugging Face cache"),
])
def test_validate_finds_what_would_fail_after_training_starts(tmp_path, change, fragment, capsys):
    import yaml

    from harness.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "v", "task": "synthetic-nli", "arms": ["salt"], "seeds": 1, **change}))
    assert main(["validate", str(path)]) == 2  # tests run offline (conftest): the hub id must be cached
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and not (tmp_path / "mlruns").exists()
