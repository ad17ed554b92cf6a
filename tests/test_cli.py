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
    ({"task": "xnli", "model": "bert-base-multilingual-cassed"}, "(did you mean 'bert-base-multilingual-cased'"),
])
def test_validate_finds_what_would_fail_after_training_starts(tmp_path, change, fragment, capsys):
    import yaml

    from harness.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "v", "task": "synthetic-nli", "arms": ["salt"], "seeds": 1, **change}))
    assert main(["validate", str(path)]) == 2  # tests run offline (conftest): the hub id must be cached
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and not (tmp_path / "mlruns").exists()


def test_every_option_of_every_command_has_help_and_shows_its_default():
    import argparse

    from harness.cli import build_parser, subparsers

    parsers = list(subparsers(build_parser()))
    assert {p.prog.split()[1] for p in parsers} >= {"run", "worker", "validate", "status", "ui", "dashboard", "repair",
                                                    "data", "augment", "compare", "report"}
    for parser in parsers:
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{parser.prog} {action.option_strings or action.dest}: no help text"
            default = action.default
            if action.option_strings and default not in (None, False, argparse.SUPPRESS):
                forms = {" ".join(map(str, default))} if isinstance(default, (list, tuple)) else {str(default)}
                if isinstance(default, int):
                    forms.add(f"{default:,}")
                assert "default" in text and any(f in text for f in forms), \
                    f"{parser.prog} {action.option_strings}: default {default!r} not shown"


def test_version_and_the_bare_command_print_without_an_error():
    from harness.cli import version

    bare = cli()
    assert bare.returncode == 0 and bare.stdout.startswith("usage: salt-harness") and "report" in bare.stdout
    assert bare.stderr == ""
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"salt-harness {version()}" and version()[0].isdigit()


def test_counts_in_messages_agree_with_their_number():
    from harness.text import count

    assert [count(n, "seed") for n in (0, 1, 2)] == ["0 seeds", "1 seed", "2 seeds"]
    assert count(1, "axis") == "1 axis" and count(3, "axis") == "3 axes" and count(12000, "cell") == "12,000 cells"


def _stored_study(tmp_path, name="served"):
    """A study file whose stores exist (MLflow database, Optuna journal), nothing trained."""
    import yaml

    from harness.storage import create_revision, locate
    from harness.study import load_study
    from harness.tracking.store import prepare_store

    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
                                    "model": "synthetic:tiny", "arms": ["baseline"], "seeds": 1,
                                    "output": {"dir": str(tmp_path / "mlruns")}}))
    spec = load_study(path)
    loc = locate(spec)
    create_revision(spec, loc)
    prepare_store(loc.tracking_uri, spec.name, str(loc.root / "artifacts"))
    return path


@pytest.mark.parametrize("command", ["ui", "dashboard"])
def test_a_server_on_a_port_in_use_fails_before_it_prints_a_url(tmp_path, command):
    import socket

    path = _stored_study(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = cli(command, str(path), "--port", str(port))
    assert out.returncode == 2 and "http://" not in out.stdout and "Traceback" not in out.stderr
    assert f"--port {port} on 127.0.0.1 is already in use" in out.stderr and "choose another with --port N" in out.stderr


def test_a_server_for_a_study_never_run_says_so(tmp_path):
    import yaml

    path = tmp_path / "never.yaml"
    path.write_text(yaml.safe_dump({"name": "never", "task": "synthetic-nli", "arms": ["baseline"], "seeds": 1,
                                    "output": {"dir": str(tmp_path / "mlruns")}}))
    ui = cli("ui", str(path))
    assert ui.returncode == 2 and "has no MLflow store yet" in ui.stderr and f"salt-harness run {path}" in ui.stderr
    dash = cli("dashboard", str(path))
    assert dash.returncode == 2 and "has no Optuna journal yet" in dash.stderr
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def test_dashboard_without_the_package_is_a_clear_error(tmp_path):
    path = _stored_study(tmp_path)
    blocker = tmp_path / "no_dashboard"
    blocker.mkdir()
    (blocker / "optuna_dashboard.py").write_text("raise ImportError('simulated: not installed')\n")
    out = cli("dashboard", str(path), env={"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])})
    assert out.returncode == 2 and "optuna-dashboard is not installed: `pip install optuna-dashboard`" in out.stderr


def test_library_chatter_only_with_verbose(tmp_path, salt_cache):
    """A run prints our lines; Optuna's "A new study created" and other INFO lines need --verbose."""
    import yaml

    def run(name, *flags):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
                                        "model": "synthetic:tiny", "arms": ["baseline"], "seeds": 1,
                                        "languages": {"source": "en", "targets": ["fr"]},
                                        "train": {"epochs": 1, "max_eval_examples": 20},
                                        "output": {"dir": str(tmp_path / name)}}))
        return cli("run", str(path), *flags, env={"SALT_CACHE": str(salt_cache)})

    plain = run("plain")
    assert plain.returncode == 0, plain.stderr
    assert "A new study created" not in plain.stderr and " INFO " not in plain.stderr and "Warning" not in plain.stderr
    assert "[w0] trial 0 baseline s0 done in" in plain.stderr and "[study] cell 1/1" in plain.stderr
    loud = run("loud", "--verbose")
    assert loud.returncode == 0 and "A new study created" in loud.stderr
