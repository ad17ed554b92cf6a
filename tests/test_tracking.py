"""harness.tracking against a real SQLite MLflow store in tmp_path; results are fabricated, nothing trains."""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from net import free_port
from mlflow import MlflowClient

from harness.liveness import Owner
from harness.tracking import runs as tracking_runs
from harness.tracking.readback import Reader
from harness.tracking.results import result_metrics
from harness.tracking.runs import StudyTracker
from harness.tracking.store import TrackingError, default_tracking_uri, prepare_store
from harness.tracking.tags import data_revision, param_str

# Heavy imports (salt.run pulls in torch) stay inside fixtures: spawned workers import this module.


def _predictions(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(split, lang, f"{split}-{lang}-{i}") for split in ("dev", "test") for lang in ("en", "fr", "de")
            for i in range(5)]
    frame = pd.DataFrame(rows, columns=["split", "lang", "uid"])
    frame["label"] = rng.integers(0, 3, len(frame))
    frame["pred"] = rng.integers(0, 3, len(frame))
    return frame


CURVES = [{"step": 20, "loss": 1.05, "lr": 1e-3, "epoch": 0.5}, {"step": 20, "selection_acc": 0.55},
          {"step": 40, "loss": 0.71, "lr": 5e-4, "epoch": 1.0}, {"step": 40, "selection_acc": 0.62}]


@pytest.fixture(scope="module")
def run_result():
    """A RunResult built from the real dataclasses: 25 augmented examples per language (20 get sampled)."""
    from salt.augment import AugmentationResult
    from salt.augment.switch import Augmented
    from salt.config import AugmentConfig, RunConfig
    from salt.run import RunResult, summarize
    from salt.train import TrainResult

    cfg = RunConfig(target_langs=("fr", "de"), seed=3, augment=AugmentConfig(threshold=0.4))
    preds = _predictions()
    acc = {s: {l: float((g.label == g.pred).mean()) for l, g in preds[preds.split == s].groupby("lang")}
           for s in ("dev", "test")}
    examples = {lang: [Augmented(uid=f"train-{i}|{lang}|0", source_index=i, lang=lang, label=i % 3,
                                 aug_ids=np.array([2, 10 + i, 11, 12, 3]), positions=np.array([1, 3]),
                                 probs=np.array([0.9, 0.5], np.float32), synonym=np.array([False, True]))
                       for i in range(25)] for lang in ("fr", "de")}
    stats = {lang: {"n_selected": 25.0, "substitution_rate": 0.3, "precision": 0.8} for lang in ("fr", "de")}
    train = TrainResult(accuracy=acc, predictions=preds, curves=CURVES, best_step=40, steps=40, n_source=100,
                        n_augmented=50, seconds=2.5)
    return RunResult(cfg, train, AugmentationResult(examples, stats, 64, 1.5, False), summarize(acc, "en"), 4.0)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """One store for the module (creating a database costs about a second); tests differ by study name."""
    root = tmp_path_factory.mktemp("store")
    uri = default_tracking_uri(root)
    study_file = root / "study.yaml"
    study_file.write_text("name: abl\narms: [baseline, salt]\n")
    return SimpleNamespace(uri=uri, exp=prepare_store(uri, "ablation"), file=study_file, root=root)


@pytest.fixture
def store(shared_store, request, tmp_path):
    return SimpleNamespace(**vars(shared_store), study=request.node.name, tmp=tmp_path)


def test_prepare_store_is_idempotent_and_places_everything_under_mlruns(tmp_path):
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    exp_id = prepare_store(uri, "ablation")
    assert prepare_store(uri, "ablation") == exp_id
    assert prepare_store(uri, "other") != exp_id
    exp = MlflowClient(uri).get_experiment(exp_id)
    assert exp.artifact_location == (tmp_path.resolve() / "mlruns" / "artifacts").as_uri()
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and (tmp_path / "mlruns" / "artifacts").is_dir()
    plain = prepare_store(uri, "plain-path", str(tmp_path / "arts"))  # a plain path becomes an absolute URI
    assert MlflowClient(uri).get_experiment(plain).artifact_location == (tmp_path / "arts").resolve().as_uri()


def test_prepare_store_unwritable_names_the_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(TrackingError, match="writable") as err:
        prepare_store(default_tracking_uri(blocker / "sub"), "x")
    assert str(blocker) in str(err.value)
    (tmp_path / "mlruns" / "mlflow.db").mkdir(parents=True)  # unopenable: MLflow alone would retry ~100 s
    with pytest.raises(TrackingError, match="mlflow.db"):
        prepare_store(default_tracking_uri(tmp_path), "x")


def test_prepare_store_unreachable_server_fails_fast():
    port = free_port()
    with pytest.raises(TrackingError, match=f"127.0.0.1:{port}.*unreachable"):
        prepare_store(f"http://127.0.0.1:{port}", "x")


def test_prepare_store_deleted_experiment_says_how_to_restore(store):
    MlflowClient(store.uri).delete_experiment(prepare_store(store.uri, "doomed"))
    with pytest.raises(TrackingError, match="restore"):
        prepare_store(store.uri, "doomed")


def test_parent_is_created_once_per_revision_and_resumed(store):
    tracker = StudyTracker(store.uri, store.exp)
    resolved = {"name": store.study, "seeds": [0, 1]}
    parent = tracker.parent_run(store.study, "rev1", resolved, store.file, "what it is for",
                                extra_tags={"salt.note": "x"})
    assert tracker.parent_run(store.study, "rev1", resolved, store.file) == parent
    client = MlflowClient(store.uri)
    run = client.get_run(parent)
    assert run.info.status == "RUNNING" and run.info.run_name == f"{store.study} @rev1"
    assert run.data.tags["salt.role"] == "parent" and run.data.tags["salt.note"] == "x"
    assert run.data.tags["salt.revision"] == "rev1" and run.data.tags["mlflow.note.content"] == "what it is for"
    assert run.data.tags["salt.version.mlflow"].startswith("3.")
    assert len(run.data.tags["salt.git_commit"]) in (40, len("unknown"))
    assert {a.path for a in client.list_artifacts(parent, "study")} == {"study/study.yaml",
                                                                         "study/resolved_study.json"}
    assert Reader(store.uri, store.exp).stored_study(store.study, "rev") == resolved
    tracker.finish_parent(parent)
    assert client.get_run(parent).info.status == "FINISHED"
    assert StudyTracker(store.uri, store.exp).parent_run(store.study, "rev1", resolved) == parent  # resume
    assert client.get_run(parent).info.status == "RUNNING"
    other = tracker.parent_run(store.study, "rev2", {"name": store.study, "seeds": [0]})
    assert other != parent and [r.info.run_id for r in Reader(store.uri, store.exp).parents(store.study)] == [parent, other]
    with pytest.raises(ValueError, match="ambiguous"):
        Reader(store.uri, store.exp).stored_study(store.study, "rev")


@pytest.mark.parametrize("how", ["sqlite-lock", "shared-lock", "server-settle"])
def test_parents_started_together_agree(store, how, monkeypatch, tmp_path):
    """Workers starting at once get one parent: under a file lock on SQLite or the storage's lock shared by
    every process (then none is created and dropped), else settle-and-keep-oldest on a server."""
    from filelock import FileLock
    from mlflow.entities import ViewType

    monkeypatch.setattr(tracking_runs, "PARENT_SETTLE_S", 1.0)
    trackers = [StudyTracker(store.uri, store.exp) for _ in range(4)]
    for t in trackers:
        t._db = t._db if how == "sqlite-lock" else None  # as if the store were a tracking server
    ids, errors = [], []

    def go(tracker):
        lock = FileLock(str(tmp_path / "parent.lock")) if how == "shared-lock" else None
        try:
            ids.append(tracker.parent_run(store.study, "r", {}, store.file, lock=lock))
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=go, args=(t,)) for t in trackers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 1
    client = MlflowClient(store.uri)
    live = client.search_runs([store.exp], f"tags.salt.study = '{store.study}'")
    assert [r.info.run_id for r in live] == ids[:1]
    dropped = client.search_runs([store.exp], f"tags.salt.study = '{store.study}'", ViewType.DELETED_ONLY)
    if how != "server-settle":
        assert dropped == []


def _cell(arm="salt", seed=3):
    from harness.records import Cell

    return Cell(arm, (("augment.threshold", 0.4),), seed, "ab" * 32)


def test_trial_round_trip(store, run_result):
    from salt.config import flatten

    tracker = StudyTracker(store.uri, store.exp)
    parent = tracker.parent_run(store.study, "r1", {}, store.file)
    cell = _cell()
    run_id = tracker.start_trial(parent, cell.label, cell.run_params(run_result.config), {**cell.tags(), "trial": 7},
                                 revision="r1")
    from dataclasses import replace

    hub_commit = "a" * 40  # as a hub model's run records it (salt.models.model_revision)
    data_commit = "b" * 40  # ... and a hub dataset's (salt.data.hub.hub_revision), one commit for its configs
    tracker.log_result(run_id, replace(run_result, model_revision=hub_commit,
                                       data_revisions={"en": data_commit, "de": data_commit}),
                       render=lambda ids: [f"tok{i}" for i in ids])

    client = MlflowClient(store.uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "salt threshold=0.4 s3"
    tags = run.data.tags
    assert tags["salt.model.revision"] == hub_commit and tags["salt.data.revision"] == data_commit
    assert tags["mlflow.parentRunId"] == parent and tags["salt.role"] == "trial" and tags["salt.cell"] == cell.id
    assert (tags["salt.trial"], tags["salt.study"], tags["salt.member.r1"]) == ("7", store.study, "1")
    assert tags["salt.pid"] == str(os.getpid())
    params = run.data.params
    assert params["arm"] == "salt" and len(params) == len(flatten(run_result.config)) + 1
    assert params["augment.threshold"] == "0.4" and params["seed"] == "3"
    assert params["target_langs"] == '["fr", "de"]' and params["cache_dir"] == "None"
    expected = result_metrics(run_result)
    curves_last = {"train_loss": 0.71, "lr": 5e-4, "epoch": 1.0, "selection_acc": 0.62}  # latest = highest step
    assert run.data.metrics == pytest.approx({**expected, **curves_last})
    assert expected["test_acc_avg_targets"] == run_result.metrics["test_acc_avg_targets"]
    assert {"train_steps", "best_step", "n_source", "n_augmented", "wall_seconds", "aug/fr/precision"} <= set(expected)
    loss = client.get_metric_history(run_id, "train_loss")
    assert sorted((m.step, m.value) for m in loss) == [(20, 1.05), (40, 0.71)]
    assert [m.value for m in client.get_metric_history(run_id, "selection_acc")] == [0.55, 0.62]

    arts = {a.path for a in client.list_artifacts(run_id)}
    assert {"predictions.parquet", "augmented_sample.jsonl", "augmentation_stats.json", "run_config.json"} <= arts
    lines = Path(client.download_artifacts(run_id, "augmented_sample.jsonl", str(store.tmp))).read_text().splitlines()
    sample = [json.loads(line) for line in lines]
    assert len(sample) == 40 and {s["lang"] for s in sample} == {"fr", "de"}
    assert sample[0]["aug_ids"] == [2, 10, 11, 12, 3] and sample[0]["substitutes"] == ["tok10", "tok12"]
    # the manifest: every selected example, as an artifact, a dataset input and a digest tag
    from salt.augment.manifest import digest, manifest

    listed = pd.read_parquet(client.download_artifacts(run_id, "manifest.parquet", str(store.tmp)))
    n_aug = sum(len(v) for v in run_result.augmentation.examples.values())
    assert len(listed) == n_aug and set(listed.lang) == {"fr", "de"}
    assert tags["salt.manifest"] == digest(listed) == digest(manifest(run_result.augmentation.examples))
    # the digest is the sha256 of the sorted tab-joined rows (the definition digests recorded earlier used)
    lines = sorted(listed[["lang", "uid", "source_index", "content"]].astype(str).agg("\t".join, axis=1))
    assert tags["salt.manifest"] == hashlib.sha256("\n".join(lines).encode()).hexdigest()
    [used] = run.inputs.dataset_inputs
    assert used.dataset.name == f"augmented-{tags['salt.manifest'][:12]}" and used.tags[0].value == "augmented"

    reader = Reader(store.uri, store.exp)
    pd.testing.assert_frame_equal(reader.predictions(run_id), run_result.train.predictions)
    [back] = reader.trial_runs(store.study, revision="r1")
    assert back.run_id == run_id and back.cell == cell and back.owner == Owner.current()
    assert back.metrics["test_acc_avg"] == pytest.approx(run_result.metrics["test_acc_avg"])
    assert reader.finished_run(store.study, cell.id, "test_acc_avg").run_id == run_id
    assert reader.finished_run(store.study, cell.id, "no_such_metric") is None
    assert reader.trial_runs(store.study, revision="r2") == [] and reader.trial_runs("no-such-study") == []
    tracker.add_to_revision(run_id, "r2")  # a later revision reuses the run
    assert [r.run_id for r in reader.trial_runs(store.study, revision="r2")] == [run_id]


def test_params_are_truncated_and_batched(store):
    tracker = StudyTracker(store.uri, store.exp)
    parent = tracker.parent_run(store.study, "r", {}, store.file)
    params = {"long": "x" * 7000, **{f"nested.k{i}": i for i in range(250)}}
    run_id = tracker.start_trial(parent, "c", params, {})
    stored = MlflowClient(store.uri).get_run(run_id).data.params
    assert len(stored) == 251 and stored["nested.k249"] == "249"
    assert stored["long"] == param_str("x" * 7000) and len(stored["long"]) == 6000
    assert stored["long"].endswith("[truncated]")


def test_fail_trial_and_trial_runs(store):
    tracker = StudyTracker(store.uri, store.exp)
    parent = tracker.parent_run(store.study, "r", {}, store.file)
    ok = tracker.start_trial(parent, "a", {"x": 1}, _cell("baseline", 0).tags())
    bad = tracker.start_trial(parent, "b", {"x": 2}, {**_cell("salt", 1).tags(), "trial": 5})
    error = "Traceback ...\nTrainingDiverged: loss became nan" + "!" * 6000
    tracker.fail_trial(bad, error)
    client = MlflowClient(store.uri)
    run = client.get_run(bad)
    assert run.info.status == "FAILED" and len(run.data.tags["salt.error"]) == 5000
    assert run.data.tags["salt.error"].startswith("Traceback")
    assert Path(client.download_artifacts(bad, "error.txt", str(store.tmp))).read_text() == error
    runs = {r.name: r for r in Reader(store.uri, store.exp).trial_runs(store.study, status=None, parent=parent)}
    assert runs["a"].status == "RUNNING" and runs["b"].status == "FAILED" and runs["a"].run_id == ok
    assert (runs["a"].cell.arm, runs["b"].cell.seed) == ("baseline", 1) and runs["b"].error.startswith("Traceback")
    assert runs["b"].tags["salt.trial"] == "5" and "salt.trial" not in runs["a"].tags
    assert pd.isna(runs["a"].end_time) and not pd.isna(runs["b"].end_time)
    assert Reader(store.uri, store.exp).trial_runs(store.study) == []  # none FINISHED
    with pytest.raises(ValueError):
        tracker.fail_trial(ok, "x", status="FINISHED")


def test_end_stale_runs_kills_only_dead_owners(store):
    tracker = StudyTracker(store.uri, store.exp)
    parent = tracker.parent_run(store.study, "r", {}, store.file)
    live = tracker.start_trial(parent, "live", {}, {})
    dead = tracker.start_trial(parent, "dead", {}, {})
    elsewhere = tracker.start_trial(parent, "elsewhere", {}, {})
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    client = MlflowClient(store.uri)
    client.set_tag(dead, "salt.pid", gone.stdout.strip())
    client.set_tag(elsewhere, "salt.host", "another-machine")
    client.set_tag(elsewhere, "salt.pid", gone.stdout.strip())
    assert tracker.end_stale_runs(store.study, reason="worker died") == [dead]
    run = client.get_run(dead)
    assert run.info.status == "KILLED" and run.data.tags["salt.error"] == "worker died"
    assert client.get_run(live).info.status == "RUNNING" and client.get_run(elsewhere).info.status == "RUNNING"
    assert tracker.end_stale_runs(store.study, is_alive=lambda owner: owner.host == "another-machine",
                                  reason="x") == [live]


def test_one_liveness_rule_for_trials_and_runs():
    me = Owner.current()
    assert me.alive() and Owner("elsewhere", 1 << 30).alive() and Owner(me.host, None).alive()
    assert Owner.from_strings(me.as_strings()) == me  # what trials (user attrs) and runs (tags) store
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert not Owner(me.host, int(gone.stdout)).alive()
    if Path("/proc/self/stat").exists():
        assert not Owner(me.host, os.getpid(), "1").alive()  # the pid now belongs to another process


# ---- concurrency: 8 spawned processes write trials at once into one prepared store

def _light_result(seed: int) -> SimpleNamespace:
    """The attributes log_result reads, without importing torch in every spawned worker."""
    preds = _predictions(seed)
    train = SimpleNamespace(predictions=preds, curves=CURVES, best_step=40, steps=40, n_source=100, n_augmented=0,
                            seconds=1.0)
    return SimpleNamespace(config=None, train=train, augmentation=None, seconds=2.0,
                           metrics={"test_acc_avg": float((preds.label == preds.pred).mean()), "seed": float(seed)})


def _worker(uri: str, exp: str, parent: str, seed: int, barrier, out) -> None:
    try:
        tracker = StudyTracker(uri, exp)
        barrier.wait(timeout=120)  # every worker has imported and connected: now write together
        run_id = tracker.start_trial(parent, f"cell-{seed}", {"seed": seed, "train.lr": 1e-3}, {"seed": seed},
                                     revision="r")
        tracker.log_result(run_id, _light_result(seed))
        out.put((seed, run_id, None))
    except Exception as err:
        out.put((seed, None, repr(err)))


def test_eight_processes_log_trials_concurrently(store):
    parent = StudyTracker(store.uri, store.exp).parent_run(store.study, "r", {}, store.file)
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(store.uri, store.exp, parent, seed, barrier, out)) for seed in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [r for r in results if r[2]] == []
    reader = Reader(store.uri, store.exp)
    runs = reader.trial_runs(store.study, revision="r")
    assert len(runs) == 8 and {r.parent_id for r in runs} == {parent}
    by_seed = {int(r.params["seed"]): r for r in runs}
    for seed, run_id, _ in results:
        assert by_seed[seed].run_id == run_id and by_seed[seed].metrics["seed"] == seed
        pd.testing.assert_frame_equal(reader.predictions(run_id), _predictions(seed))


def test_augmentation_metrics_are_grouped_and_old_names_still_read():
    from harness.tracking.results import aug_metric, read_aug_metric

    assert aug_metric("fr", "n_selected") == "aug/fr/n_selected"  # MLflow's chart section "aug", after the accuracies
    assert read_aug_metric({"aug/fr/n_selected": 7.0}, "fr", "n_selected") == 7.0
    assert read_aug_metric({"aug.fr.n_selected": 5.0}, "fr", "n_selected") == 5.0  # a store written before
    assert read_aug_metric({}, "fr", "n_selected") is None


def test_the_study_view_groups_by_arm_and_axes_and_its_link_opens_it(store):
    from harness.tracking.view import SHARED_VIEW, VIEW_KEY, study_view, view_url

    view = study_view(["augment.samples_per_lang", "augment.threshold"], ["dev_acc_avg_targets"])
    assert [k["groupByData"] for k in view["groupBy"]["groupByKeys"]] == ["arm", "augment.samples_per_lang",
                                                                           "augment.threshold"]
    assert view["selectedColumns"][0] == "params.`arm`" and view["selectedColumns"][-1] == "metrics.`dev_acc_avg_targets`"
    assert [k["groupByData"] for k in study_view(["mixup.alpha"], [], group_axes=False)["groupBy"]["groupByKeys"]] == [
        "arm"]  # TPE: sampled values are not groups
    client = MlflowClient(store.uri)
    exp = client.create_experiment("viewed")
    StudyTracker(store.uri, exp).save_view(["augment.samples_per_lang", "augment.threshold"], ["dev_acc_avg_targets"])
    assert json.loads(client.get_experiment(exp).tags[SHARED_VIEW + VIEW_KEY]) == view
    assert view_url("http://127.0.0.1:5000/", exp) == f"http://127.0.0.1:5000/#/experiments/{exp}/runs?viewStateShareKey={VIEW_KEY}"


def test_an_experiment_tag_written_by_a_racing_run_is_not_an_error(store):
    """MLflow's tag upsert is a read then an insert: a `run` started at the same moment can insert first, and
    PostgreSQL then refuses this one's insert (seen in CI with eight runs starting at once)."""
    from mlflow.exceptions import MlflowException

    tracker = StudyTracker(store.uri, store.exp)
    real = tracker.client.set_experiment_tag
    calls = []

    def racing(exp, key, value):  # the other run's write lands first, then ours fails as the insert would
        calls.append(key)
        if len(calls) == 1:
            real(exp, key, value)
            raise MlflowException("duplicate key value violates unique constraint \"experiment_tag_pk\"")
        real(exp, key, value)

    tracker.client.set_experiment_tag = racing
    tracker.describe_experiment("what differs between the arms")
    assert calls == ["mlflow.note.content"]  # after the race the value is there: not written again
    tracker.describe_experiment("what differs between the arms")
    assert calls == ["mlflow.note.content"]  # already holds the value: no write at all
    tracker.describe_experiment("a changed description")
    assert len(calls) == 2 and tracker.client.get_experiment(store.exp).tags["mlflow.note.content"] == (
        "a changed description")

    def always(exp, key, value):
        raise MlflowException("the store is gone")

    tracker.client.set_experiment_tag = always
    with pytest.raises(MlflowException, match="the store is gone"):  # a store that cannot be written still fails
        tracker.describe_experiment("another description")


def test_a_stopped_worker_leaves_the_parent_to_its_live_run_even_between_cells(store):
    """Between two cells the `run` that owns the parent has no RUNNING trial (seen in CI): a stopped `worker`
    must still not end the parent under it; once that `run` is gone, the worker ends it KILLED."""
    import optuna
    from mlflow.entities import RunTag

    from harness.liveness import _proc_start
    from harness.provenance import hostname
    from harness.scheduler import end_parent_after
    from harness.tracking.tags import OWNER

    tracker = StudyTracker(store.uri, store.exp)
    parent = tracker.parent_run(store.study, "rev1", {})
    study = optuna.create_study()  # no trial RUNNING: the `run` is between cells
    owner = subprocess.Popen(["sleep", "60"])
    try:
        tags = Owner(hostname(), owner.pid, _proc_start(owner.pid)).as_strings()
        tracker.client.log_batch(parent, tags=[RunTag(OWNER[k], v) for k, v in tags.items()])
        assert tracker.parent_owner(parent).alive()
        end_parent_after(KeyboardInterrupt("stopped by SIGTERM"), study, tracker, store.study, parent, lone_worker=True)
        assert tracker.client.get_run(parent).info.status == "RUNNING"
    finally:
        owner.kill()
        owner.wait()
    end_parent_after(KeyboardInterrupt("stopped by SIGTERM"), study, tracker, store.study, parent, lone_worker=True)
    run = tracker.client.get_run(parent)
    assert run.info.status == "KILLED" and "stopped by SIGTERM" in run.data.tags["salt.error"]
    tracker.claim_parent(parent)  # `run` itself: its own stop ends the parent it owns
    assert tracker.parent_owner(parent) == Owner.current()


def test_a_dataset_whose_configs_came_from_several_commits_names_each():
    assert data_revision({"en": "c1", "de": "c1"}) == "c1"
    assert data_revision({"en": "c2", "de": "c1"}) == "de c1; en c2"


def test_the_manifest_dataset_is_mlflows_own_with_the_schema_read_from_its_first_rows(run_result):
    """The same entity as MLflow's `from_pandas` makes (schema, profile and all), on a manifest longer than the
    rows the schema is read from."""
    import warnings

    import mlflow.data

    from harness.tracking import runs
    from salt.augment.manifest import manifest

    frame = manifest(run_result.augmentation.examples)
    frame = pd.concat([frame] * (runs.SCHEMA_ROWS // len(frame) + 2), ignore_index=True)
    assert len(frame) > runs.SCHEMA_ROWS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = mlflow.data.from_pandas(frame, source=runs.MANIFEST, name="augmented-x", digest="d" * 36)
        own = own._to_mlflow_entity()
    ours = runs.manifest_dataset(frame, "augmented-x", "d" * 36)
    fields = ("name", "digest", "source_type", "source", "schema", "profile")
    assert [getattr(ours, f) for f in fields] == [getattr(own, f) for f in fields]
    assert json.loads(ours.profile)["num_rows"] == len(frame)
