"""Scale-out and crash scenarios with exact end states: PostgreSQL + an MLflow server, and the file journal.

PostgreSQL tests need SALT_TEST_POSTGRES_URL (scripts/postgres-test-server prints one); they skip
with that reason when it is unset, except under SALT_REQUIRE_POSTGRES=1 (CI), where they fail.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import mlflow
import optuna
import pytest
from net import free_port, wait_for_health

from harness.storage import locate, open_storage, optuna_name
from harness.study import load_study

pytestmark = pytest.mark.slow

STUDY = {
    "name": "dist", "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
    "languages": {"source": "en", "targets": ["fr", "de"]},
    "train": {"epochs": 2, "max_eval_examples": 30, "log_every": 2},
    "arms": ["baseline", "salt", "random-selection"],
    "axes": {"augment.samples_per_lang": [20, 60]},
    "seeds": [0, 1],
}  # 10 cells
N_CELLS = 10


@pytest.fixture(scope="session")
def pg_url():
    url = os.environ.get("SALT_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("SALT_REQUIRE_POSTGRES"):
            pytest.fail("SALT_REQUIRE_POSTGRES is set but SALT_TEST_POSTGRES_URL is not: start scripts/postgres-test-server")
        pytest.skip("no PostgreSQL: set SALT_TEST_POSTGRES_URL (scripts/postgres-test-server prints one)")
    return url


def fresh_database(pg_url: str) -> str:
    import psycopg

    name = f"salt_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture()
def mlflow_server(pg_url, tmp_path):
    """`mlflow server` with a PostgreSQL backend and an artifact directory, as in the multi-machine recipe."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", fresh_database(pg_url),
                             "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    if not wait_for_health(url, 180):
        pytest.fail("mlflow server did not start")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


@pytest.fixture()
def study_file(write_study):
    return write_study(STUDY)


def start(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "SALT_PROGRESS_EVERY": "0", **(env or {})})


def kill_mid_trial(proc) -> None:
    """SIGKILL once a cell is training (a 'step' progress line), the harshest crash there is."""
    for line in proc.stderr:
        if " step " in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)


def end_state(spec, storage, tracking_uri) -> dict:
    """Counts of Optuna trials and MLflow child runs by state: what each scenario asserts exactly."""
    study = optuna.load_study(study_name=optuna_name(spec.name, spec.revision), storage=open_storage(storage))
    trials = study.get_trials()
    complete = [t.user_attrs["cell"] for t in trials if t.state.name == "COMPLETE"]
    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(spec.name)
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    deleted = client.search_runs([exp.experiment_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    children = [r for r in runs if r.data.tags.get("salt.role") == "trial"]
    finished = [r.data.tags["salt.cell"] for r in children if r.info.status == "FINISHED"]
    return {
        "trials": Counter(t.state.name for t in trials),
        "complete_cells": len(set(complete)), "complete_dupes": len(complete) - len(set(complete)),
        "runs": Counter(r.info.status for r in children),
        "finished_cells": len(set(finished)), "finished_dupes": len(finished) - len(set(finished)),
        "parents": sum(r.data.tags.get("salt.role") == "parent" for r in runs),
        "deleted_parents": sum(r.data.tags.get("salt.role") == "parent" for r in deleted),
        "errors": [r.data.tags.get("salt.error", "") for r in children if r.info.status == "FAILED"],  # say why
    }


def assert_exact(state, cells=N_CELLS):
    assert state["complete_cells"] == cells and state["complete_dupes"] == 0, state
    assert state["finished_cells"] == cells and state["finished_dupes"] == 0, state
    assert state["runs"].get("RUNNING", 0) == 0 and state["parents"] == 1, state
    assert state["deleted_parents"] == 0, state  # agreed under the storage's lock: no parent made and dropped
    assert state["trials"].get("RUNNING", 0) == 0 and state["trials"].get("WAITING", 0) == 0, state


def test_three_workers_on_postgres_and_an_mlflow_server(study_file, pg_url, mlflow_server):
    storage = fresh_database(pg_url)
    flags = ["--storage", storage, "--tracking-uri", mlflow_server, "--quiet"]
    creator = start("run", str(study_file), *flags)
    spec = load_study(study_file)
    for _ in range(120):  # workers join once the study exists
        try:
            if optuna.load_study(study_name=optuna_name(spec.name, spec.revision), storage=storage).get_trials():
                break
        except KeyError:
            time.sleep(0.5)
    workers = [start("worker", str(study_file), *flags) for _ in range(2)]
    for p in [creator, *workers]:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-3000:]
    state = end_state(spec, storage, mlflow_server)
    print("3 workers:", state)
    assert_exact(state)
    assert state["runs"] == Counter({"FINISHED": N_CELLS}), state
    assert state["trials"].get("FAIL", 0) == 0


def test_sigkilled_worker_cell_is_retried_via_heartbeats(study_file, pg_url, mlflow_server):
    storage = fresh_database(pg_url)
    env = {"SALT_HEARTBEAT_INTERVAL": "1", "SALT_GRACE_PERIOD": "3"}
    flags = ["--storage", storage, "--tracking-uri", mlflow_server, "--quiet"]
    # two machines: the survivor cannot see the dead worker's pid, only its missing heartbeats
    kill_mid_trial(start("run", str(study_file), *flags[:-1], env={**env, "SALT_HOSTNAME": "machine-a"}))
    time.sleep(5)  # past the grace period: the dead worker's trial is stale
    survivor = start("worker", str(study_file), *flags, env={**env, "SALT_HOSTNAME": "machine-b"})
    out, err = survivor.communicate(timeout=900)
    assert survivor.returncode == 0, err[-3000:]
    state = end_state(load_study(study_file), storage, mlflow_server)
    print("heartbeat kill:", state)
    assert_exact(state)
    assert state["trials"]["FAIL"] == 1 and state["runs"]["KILLED"] == 1  # the dead cell, ended with a reason


def test_sigkilled_run_with_the_file_journal_is_recovered_on_restart(study_file):
    kill_mid_trial(start("run", str(study_file)))
    spec = load_study(study_file)
    loc = locate(spec)
    before = end_state(spec, loc.storage, loc.tracking_uri)
    assert before["trials"]["RUNNING"] == 1 and before["runs"]["RUNNING"] == 1, before  # what the crash left
    again = start("run", str(study_file), "--quiet")
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    state = end_state(spec, loc.storage, loc.tracking_uri)
    print("journal kill:", state)
    assert_exact(state)
    assert state["trials"]["FAIL"] == 1 and state["runs"]["KILLED"] == 1
    killed = [r for r in mlflow.MlflowClient(loc.tracking_uri).search_runs(
        [mlflow.MlflowClient(loc.tracking_uri).get_experiment_by_name(spec.name).experiment_id])
        if r.info.status == "KILLED"]
    assert "died" in killed[0].data.tags["salt.error"]


@pytest.mark.parametrize("backend", ["postgres", "local"])
def test_eight_runs_starting_at_once_on_a_fresh_store(study_file, backend, request):
    """No schema-migration race and no duplicate cell, whether on PostgreSQL + server or SQLite + journal."""
    if backend == "postgres":
        pg = request.getfixturevalue("pg_url")
        server = request.getfixturevalue("mlflow_server")
        flags = ["--storage", fresh_database(pg), "--tracking-uri", server]
    else:
        flags = []
    procs = [start("run", str(study_file), *flags, "--quiet") for _ in range(8)]
    for p in procs:
        out, err = p.communicate(timeout=1200)
        assert p.returncode == 0, out[-2000:] + "\n" + err[-3000:]  # the summary says which cells, stderr why
    spec = load_study(study_file)
    loc = locate(spec, *(flags[1::2] if flags else ()))
    state = end_state(spec, loc.storage, loc.tracking_uri)
    print(f"8 at once ({backend}):", state)
    assert_exact(state)
    assert state["runs"] == Counter({"FINISHED": N_CELLS}), state


@pytest.mark.parametrize("backend", ["postgres", "local"])
def test_trials_ending_together_on_the_same_sample_each_log_its_dataset(backend, request, tmp_path):
    """MLflow looks a dataset up and then inserts it: trials that trained on the same sample and end together race
    on the datasets table's key. Each must still end with the dataset as its input (it failed 23 of 120 on a
    PostgreSQL-backed server before `_log_inputs` tried again)."""
    import threading

    import pandas as pd

    from harness.tracking.runs import StudyTracker
    from salt.augment.manifest import COLUMNS, digest

    uri = request.getfixturevalue("mlflow_server") if backend == "postgres" else f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("same-sample")
    width, rounds = 6, 8
    for r in range(rounds):
        frame = pd.DataFrame([("fr", f"u{r}", r, "c")], columns=list(COLUMNS))
        runs = [client.create_run(exp).info.run_id for _ in range(width)]
        trackers = [StudyTracker(uri, exp) for _ in range(width)]  # one client each, as in separate workers
        gate, errors = threading.Barrier(width), []

        def log(tracker, run_id):
            gate.wait()
            try:
                tracker._log_manifest(run_id, frame)
            except Exception as err:  # noqa: BLE001 (collected, asserted below)
                errors.append(repr(err)[:300])

        threads = [threading.Thread(target=log, args=pair) for pair in zip(trackers, runs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for run_id in runs:
            run = client.get_run(run_id)
            assert run.data.tags["salt.manifest"] == digest(frame)
            assert [d.dataset.digest for d in run.inputs.dataset_inputs] == [digest(frame)[:36]]
