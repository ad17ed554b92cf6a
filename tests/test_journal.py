"""The Optuna journal survives torn writes: a torn last record is cut off, anything else is a clear error."""
import os
import subprocess
import sys
import time

import optuna
import pytest

from harness.journal import FlockLock, JournalError, first_bad_line, truncate_at
from harness.storage import open_storage


def journal_with_trials(path, n=4):
    storage = open_storage(f"journal:{path}")
    study = optuna.create_study(study_name="s", storage=storage)
    for i in range(n):
        study.enqueue_trial({"x": i})
        study.optimize(lambda t: t.suggest_float("x", 0, 10), n_trials=1)
    return study


def trials(path):
    return optuna.load_study(study_name="s", storage=open_storage(f"journal:{path}")).get_trials()


def test_a_torn_last_record_is_cut_off_kept_and_said(tmp_path, capsys):
    path = tmp_path / "s.journal"
    journal_with_trials(path)
    whole = path.read_bytes()
    path.write_bytes(whole[:-25])  # a write that stopped 25 bytes short of its newline
    capsys.readouterr()
    got = trials(path)
    err = capsys.readouterr().err
    assert f"repaired {path}: its last record was cut short" in err and len(err.strip().splitlines()) == 1
    assert [t.params["x"] for t in got if t.state.name == "COMPLETE"] == [0.0, 1.0, 2.0]  # the 4th's tell was torn
    assert (tmp_path / "s.journal.torn").read_bytes().rstrip(b"\n") == whole[:-25].rsplit(b"\n", 1)[1]
    study = optuna.load_study(study_name="s", storage=open_storage(f"journal:{path}"))
    study.optimize(lambda t: t.suggest_float("x", 0, 10), n_trials=1)  # appends cleanly afterwards
    assert first_bad_line(path) is None and len(trials(path)) == 5 and capsys.readouterr().err == ""


def test_a_torn_record_with_a_complete_one_appended_keeps_the_complete_one(tmp_path, capsys):
    """A live worker appended after another died mid-write: Optuna alone could never read this again."""
    path = tmp_path / "s.journal"
    journal_with_trials(path, 2)
    lines = path.read_bytes().splitlines(keepends=True)
    last = lines[-1]
    path.write_bytes(b"".join(lines[:-1]) + last[:17] + last)  # torn copy, then the whole record
    plain = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    assert [t.state.name for t in optuna.load_study(study_name="s", storage=plain).get_trials()] == \
        ["COMPLETE", "RUNNING"]  # Optuna alone drops the whole line, and the next append breaks every read
    assert [t.state.name for t in trials(path)] == ["COMPLETE", "COMPLETE"]
    assert "repaired" in capsys.readouterr().err and first_bad_line(path) is None


def test_a_bad_record_before_the_last_names_the_line_and_both_recoveries(tmp_path):
    path = tmp_path / "s.journal"
    journal_with_trials(path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = b'{"op_code":4,"wor' + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError) as err:
        trials(path)
    message = str(err.value)
    assert f"{path} line 5: not a complete Optuna journal record" in message
    assert "salt-harness repair <study file> --truncate" in message and "--rebuild" in message
    assert truncate_at(path, 5) == len(lines) - 4
    assert first_bad_line(path) is None and len(trials(path)) >= 1


def test_the_journal_lock_dies_with_its_owner(tmp_path):
    """A process killed while holding the lock does not make the next one wait (Optuna's own lock: 30 s)."""
    path = tmp_path / "s.journal"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import time
from harness.journal import FlockLock
FlockLock({str(path)!r}).acquire()
print("held", flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    start = time.perf_counter()
    lock = FlockLock(path)
    assert lock.acquire() and time.perf_counter() - start < 2
    lock.release()


def test_repair_rebuilds_a_broken_journal_from_mlflow_without_training(tmp_path, monkeypatch, capsys):
    """The journal is lost mid-line; `repair --rebuild` writes a new one from the MLflow runs, and the next
    `run` trains nothing: every finished cell is COMPLETE again."""
    from fakes import study_file, write_store

    import salt.run
    from harness.cli import main
    from harness.scheduler import run_study
    from harness.storage import create_revision, locate

    path = study_file(tmp_path, "fixme", seeds=2)
    spec, uri, _ = write_store(path)
    loc = locate(spec)
    create_revision(spec, loc)  # the journal `run` would have made, then broken in its middle
    lines = loc.journal.read_bytes().splitlines(keepends=True)
    loc.journal.write_bytes(b"".join(lines[:1]) + b'{"op_code":0,"w\n' + b"".join(lines[1:]))
    assert main(["status", str(path)]) == 2
    assert "line 2: not a complete Optuna journal record" in capsys.readouterr().err
    assert main(["repair", str(path), "--rebuild"]) == 0
    out = capsys.readouterr().out
    assert f"rebuilt {loc.journal} from MLflow: revisions {spec.revision} (10 finished runs)" in out
    assert f"{spec.revision}: 10 complete cells in Optuna, 10 finished runs in MLflow" in out
    assert list(tmp_path.glob("store/optuna/fixme.journal.*.broken"))

    def no_training(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr(salt.run, "run", no_training)
    summary = run_study(spec, progress=False)
    assert summary["complete"] == summary["cells"] == 10
