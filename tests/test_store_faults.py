"""Stores that fail: a full disk, a read-only mount, a killed worker. The user sees one paragraph naming the
cause and the fix, never a framework traceback, and the suggested recovery ends exact (every cell finished
once, nothing left RUNNING). Mounts need root (CI runs as root); elsewhere these skip with the reason."""
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from harness.storage import load_revision, locate
from harness.study import load_study
from harness.tracking.readback import Reader

pytestmark = pytest.mark.slow

STUDY = {"name": "faults", "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
         "languages": {"source": "en", "targets": ["fr", "de"]},
         "train": {"epochs": 1, "max_eval_examples": 30, "log_every": 5}, "augment": {"threshold": 0.1},
         "arms": ["baseline", "salt", "random-selection"], "axes": {"augment.samples_per_lang": [20, 60]},
         "seeds": [0, 1]}  # 10 cells


def disk_full(text: str) -> bool:
    """The cause as the OS or SQLite words it (which one depends on which write hit the full disk first)."""
    return "No space left on device" in text or "database or disk is full" in text


def start(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "SALT_PROGRESS_EVERY": "0", **(env or {})})


def end_state(spec) -> dict:
    loc = locate(spec)
    trials = load_revision(spec.name, loc, spec.revision)[0].get_trials()
    runs = Reader(loc.tracking_uri).trial_runs(spec.name, status=None)
    finished = [r.cell.id for r in runs if r.status == "FINISHED"]
    return {"trials": Counter(t.state.name for t in trials), "runs": Counter(r.status for r in runs),
            "finished_cells": len(set(finished)), "finished_dupes": len(finished) - len(set(finished)),
            "complete_cells": len({t.user_attrs["cell"] for t in trials if t.state.name == "COMPLETE"})}


def assert_exact(state, cells=10):
    assert state["finished_cells"] == state["complete_cells"] == cells and state["finished_dupes"] == 0, state
    assert not state["trials"].get("RUNNING") and not state["trials"].get("WAITING"), state
    assert not state["runs"].get("RUNNING"), state


@pytest.fixture
def tmpfs(tmp_path):
    """A small filesystem of its own for the store, so it can be filled or made read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "store"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def write_study(path: Path, store: Path) -> Path:
    path.write_text(yaml.safe_dump({**STUDY, "output": {"dir": str(store / "mlruns")}}))
    return path


def wait_for_done(proc, n: int) -> None:
    done = 0
    for line in proc.stderr:
        done += " done in " in line
        if done >= n:
            return


def test_disk_full_is_one_paragraph_and_freeing_space_recovers_exactly(tmp_path, tmpfs, salt_cache):
    path = write_study(tmp_path / "faults.yaml", tmpfs)
    env = {"SALT_CACHE": str(salt_cache)}
    proc = start("run", str(path), env=env)
    wait_for_done(proc, 2)
    filler = tmpfs / "filler"
    # fill the disk while the run writes to it: dd stops at "No space left on device"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
    assert os.statvfs(tmpfs).f_bavail * os.statvfs(tmpfs).f_frsize < 1 << 20
    out, err = proc.communicate(timeout=600)
    err = "".join(line for line in err.splitlines(keepends=True) if " step " not in line)
    assert proc.returncode == 2 and "Traceback" not in err, err[-3000:]
    message = err.strip().splitlines()[-1]
    # where the disk filled decides who reports it: the worker (a trial's writes) or `run` (the summary after)
    assert re.match(r"salt-harness run: error: (worker w0: )?the study's records could not be written: ", message)
    assert disk_full(message) and "Free space" in message
    filler.unlink()  # the suggested recovery: free space, run again
    again = start("run", str(path), "--quiet", env={**env, "SALT_OWNERLESS_GRACE": "0"})
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert "the last run of study 'faults' stopped with:" in err and disk_full(err)
    spec = load_study(path)
    state = end_state(spec)
    print("disk full, then freed:", state)
    assert_exact(state)
    killed = [r for r in Reader(locate(spec).tracking_uri).trial_runs(spec.name, status=None) if r.status != "FINISHED"]
    assert all(disk_full(r.error) for r in killed if r.error)  # the real cause, not "died"


def test_a_read_only_store_is_one_paragraph(tmp_path, tmpfs, salt_cache):
    path = write_study(tmp_path / "faults.yaml", tmpfs)
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "arms": ["baseline"], "seeds": [0]}))
    env = {"SALT_CACHE": str(salt_cache)}
    first = start("run", str(path), "--quiet", env=env)
    assert first.wait(timeout=600) == 0
    done = load_study(path).revision
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "seeds": [0, 1]}))  # a revision to write
    proc = start("run", str(path), "--quiet", env=env)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "Read-only file system" in err
    status = start("status", str(path), "--revision", done, env=env)  # reading still works
    out, err = status.communicate(timeout=300)
    assert status.returncode == 0 and "1/1 cells complete" in out and "Traceback" not in err, err


def test_a_killed_worker_fails_the_run_and_is_reconciled_before_it_exits(tmp_path, salt_cache):
    path = write_study(tmp_path / "faults.yaml", tmp_path)
    proc = start("run", str(path), "--workers", "2", env={"SALT_CACHE": str(salt_cache)})
    for line in proc.stderr:  # w0 is training (killed between two cells, it would lose nothing): kill it alone
        if line.startswith("[w0]") and " step " in line:
            break
    children = sorted(subprocess.run(["pgrep", "-f", "-P", str(proc.pid), "multiprocessing.spawn"],
                                     capture_output=True, text=True).stdout.split(), key=int)
    assert children, "no worker processes found"
    os.kill(int(children[0]), signal.SIGKILL)  # w0: the workers start in order, so it has the lowest pid
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 1, (out, err[-2000:])  # a cell failed: not "4/5 complete ... 1 running" and exit 0
    spec = load_study(path)
    state = end_state(spec)
    print("worker killed:", state)
    assert not state["trials"].get("RUNNING") and not state["runs"].get("RUNNING"), state  # reconciled now
    assert state["trials"]["FAIL"] >= 1 and state["complete_cells"] >= 9
    failed = [t for t in load_revision(spec.name, locate(spec), spec.revision)[0].get_trials() if t.state.name == "FAIL"]
    assert any(f"(pid {children[0]}) killed by signal 9" in t.user_attrs.get("fail_reason", "") for t in failed)
    again = start("run", str(path), "--quiet", env={"SALT_CACHE": str(salt_cache)})
    assert again.wait(timeout=600) == 0
    assert_exact(end_state(spec))
