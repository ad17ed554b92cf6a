"""The life of a study's MLflow runs: one parent per study revision, one child run per trial; every write.

A worker that dies leaves its run RUNNING, so every trial records its owner (harness.liveness) and
`end_stale_runs` ends the orphans KILLED with the reason.
"""
from __future__ import annotations

import json
import logging
import random
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from harness import provenance
from harness.liveness import Owner
from harness.tracking.readback import Reader, tagged_owner
from harness.tracking.results import MANIFEST, as_float, result_metrics, sample_manifest, write_artifacts
from harness.tracking.store import sqlite_path
from harness.tracking.tags import (DATA_REVISION, DEGENERATE, ERROR, MANIFEST_TAG, MAX_ERROR, MODEL_REVISION, NOTE,
                                   OWNER, PARENT_TAG, REVISION, ROLE, STUDY, data_revision, member_tag, param_str,
                                   tag_str, truncate)

log = logging.getLogger(__name__)
PARENT_SETTLE_S = 2.0  # with no shared lock only: how long parent creators wait before agreeing on the oldest
CURVES = {"loss": "train_loss", "lr": "lr", "epoch": "epoch", "selection_acc": "selection_acc"}


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _status(status: str, allowed: tuple[str, ...]) -> str:
    if status not in allowed:
        raise ValueError(f"run status must be one of {', '.join(allowed)}, got {status!r}")
    return status


class StudyTracker:
    """Parent and child runs of one experiment. Make one per process (it holds an MlflowClient)."""

    def __init__(self, tracking_uri: str, experiment_id: str):
        self.tracking_uri, self.experiment_id = tracking_uri, str(experiment_id)
        self.client = MlflowClient(tracking_uri)
        self.reader = Reader(tracking_uri, self.experiment_id)
        self._parents_seen: dict[str, tuple[str, str]] = {}  # parent id -> (experiment id, study name)
        self._db = sqlite_path(tracking_uri)  # a local database can be locked; a server cannot
        self._git: dict[str, str] | None = None  # computed once: a git call per trial would add up

    # ---- parent
    def parent_run(self, study: str, revision: str, resolved: dict, study_file: Path | str | None = None,
                   description: str = "", extra_tags: dict | None = None, lock: Any = None) -> str:
        """Get or create the parent run of this study revision and leave it RUNNING.

        Workers that start together must agree on one parent, so get-or-create runs under a lock they all
        share: `lock` (the Optuna storage's, harness.storage.shared_lock) or, on SQLite, a file lock next to
        the database. Only without either (a tracking server and a storage with no lock) each creator waits
        `PARENT_SETTLE_S`, then keeps the oldest parent and deletes its own: a process that found a parent
        another then deleted would fail its writes, and a creator stalled past the wait leaves two parents.
        """
        with lock if lock is not None else self._lock():
            found = self.reader.parents(study, revision)
            found = [r for r in found if r.data.tags.get(REVISION) == revision]
            if found:
                run = found[0]
                if run.info.status != "RUNNING":
                    self.client.update_run(run.info.run_id, status="RUNNING")
                return run.info.run_id
            git = provenance.git_info()
            tags = {STUDY: study, REVISION: revision, ROLE: "parent", NOTE: description,
                    OWNER["host"]: provenance.hostname(),
                    "salt.git_commit": git["git_commit"], "salt.git_dirty": git["git_dirty"],
                    "mlflow.source.git.commit": git["git_commit"],
                    **{f"salt.version.{k}": v for k, v in provenance.package_versions().items()},
                    **(extra_tags or {})}
            if study_file:
                tags["salt.study_file"] = str(Path(study_file).resolve())
            run_id = self.client.create_run(self.experiment_id, tags={k: tag_str(v) for k, v in tags.items()},
                                            run_name=f"{study} @{revision[:8]}").info.run_id
        if lock is None and self._db is None:
            time.sleep(PARENT_SETTLE_S)
            winner = [r for r in self.reader.parents(study, revision) if r.data.tags.get(REVISION) == revision]
            if winner and winner[0].info.run_id != run_id:
                self.client.delete_run(run_id)
                return winner[0].info.run_id
        if study_file and Path(study_file).is_file():
            self.client.log_artifact(run_id, str(study_file), "study")
        self.client.log_dict(run_id, resolved, "study/resolved_study.json")
        return run_id

    def _lock(self):
        if self._db is None:
            return nullcontext()
        return FileLock(str(self._db) + ".lock", timeout=300)

    def describe_experiment(self, description: str) -> None:
        """The study's `description` as the experiment's description in the MLflow UI."""
        if description:
            self._tag_experiment(NOTE, description)

    def save_view(self, axes: list[str], metrics: list[str], group_axes: bool = True) -> None:
        """The runs table grouped by arm and axes, as the experiment's shared view (harness.tracking.view)."""
        from harness.tracking.view import study_view, view_tag

        self._tag_experiment(*view_tag(study_view(axes, metrics, group_axes)))

    def _tag_experiment(self, key: str, value: str, tries: int = 3) -> None:
        """Set an experiment tag unless it already holds `value`. `run`s started at once on a fresh store all
        write the same tags, and MLflow's upsert (a read, then an insert) lets two inserts race: PostgreSQL
        refuses the second (a unique-key violation), after which the row exists and a retry updates it."""
        for attempt in range(tries):
            if self.client.get_experiment(self.experiment_id).tags.get(key) == value:
                return
            try:
                self.client.set_experiment_tag(self.experiment_id, key, value)
                return
            except MlflowException:
                if attempt == tries - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def log_summary(self, parent_id: str, values: dict[str, float]) -> dict[str, float]:
        """The study summary (harness.report.summary) as metrics of the parent run."""
        now = int(time.time() * 1000)
        for chunk in _chunks([Metric(k, v, now, 0) for k, v in values.items()], 1000):
            self.client.log_batch(parent_id, metrics=chunk, synchronous=True)
        return values

    def claim_parent(self, run_id: str) -> None:
        """Record this process (`run`) as the parent's owner: it ends the parent when its work ends, so a
        stopped `worker` leaves the parent to it while it lives (`parent_owner`)."""
        with self._lock():  # on SQLite, one writer at a time while every `run` starts (as for `parent_run`)
            self.client.log_batch(run_id, tags=[RunTag(OWNER[k], v) for k, v in Owner.current().as_strings().items()],
                                  synchronous=True)

    def parent_owner(self, run_id: str) -> Owner:
        return tagged_owner(self.client.get_run(run_id).data.tags)

    def finish_parent(self, run_id: str, status: str = "FINISHED", reason: str | None = None) -> None:
        """End the parent run; FAILED or KILLED say why (tag salt.error), which a later FINISHED clears."""
        status = _status(status, ("FINISHED", "FAILED", "KILLED"))
        if reason:
            self.client.set_tag(run_id, ERROR, truncate(reason, MAX_ERROR))
        elif ERROR in self.client.get_run(run_id).data.tags:
            self.client.delete_tag(run_id, ERROR)
        self.client.set_terminated(run_id, status)

    # ---- trials
    def start_trial(self, parent_id: str, name: str, params: dict[str, Any], tags: dict | None = None,
                    revision: str | None = None) -> str:
        """A RUNNING child run with its params, the owner's tags and (with `revision`) its membership.

        Tags without a namespace get `salt.`.
        """
        exp_id, study = self._parent(parent_id)
        git = self._git = self._git or provenance.git_info()
        base = {PARENT_TAG: parent_id, ROLE: "trial", STUDY: study,
                **{OWNER[k]: v for k, v in Owner.current().as_strings().items()},
                "salt.git_commit": git["git_commit"], "salt.git_dirty": git["git_dirty"],
                "mlflow.source.git.commit": git["git_commit"]}
        if revision:
            base[member_tag(revision)] = "1"
        for key, value in (tags or {}).items():
            base[key if "." in key else f"salt.{key}"] = value
        run = self.client.create_run(exp_id, tags={k: tag_str(v) for k, v in base.items()}, run_name=name)
        run_id = run.info.run_id
        try:
            flat = [Param(k, param_str(v)) for k, v in params.items()]
            for chunk in _chunks(flat, 100):  # MAX_PARAMS_TAGS_PER_BATCH
                self.client.log_batch(run_id, params=chunk, synchronous=True)
        except Exception as err:
            self.fail_trial(run_id, f"logging params failed: {err}")
            raise
        return run_id

    def add_to_revision(self, run_id: str, revision: str) -> None:
        """A finished run that a later revision reuses counts for that revision too."""
        self.client.set_tag(run_id, member_tag(revision), "1")

    def _parent(self, parent_id: str) -> tuple[str, str]:
        if parent_id not in self._parents_seen:
            run = self.client.get_run(parent_id)
            self._parents_seen[parent_id] = (run.info.experiment_id, run.data.tags.get(STUDY, ""))
        return self._parents_seen[parent_id]

    def log_result(self, run_id: str, result: Any, render: Callable[[list[int]], list[str]] | None = None) -> None:
        """Metrics, curves and artifacts of a salt `RunResult`, then end the run FINISHED.

        `render` (e.g. `tokenizer.convert_ids_to_tokens`) adds tokens to the augmented sample; without it
        only ids are stored. On an exception the run stays RUNNING: the caller decides (`fail_trial`).
        """
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, 0) for k, v in result_metrics(result).items()]
        for point in result.train.curves:
            step = int(point.get("step", 0))
            metrics += [Metric(CURVES[k], f, now, step) for k, v in point.items()
                        if k in CURVES and (f := as_float(v)) is not None]
        for chunk in _chunks(metrics, 1000):  # MAX_METRICS_PER_BATCH
            self.client.log_batch(run_id, metrics=chunk, synchronous=True)
        if getattr(result, "degenerate", None):
            self.client.set_tag(run_id, DEGENERATE, tag_str(json.dumps(result.degenerate)))
        if getattr(result, "model_revision", None):
            self.client.set_tag(run_id, MODEL_REVISION, result.model_revision)
        if getattr(result, "data_revisions", None):
            self.client.set_tag(run_id, DATA_REVISION, data_revision(result.data_revisions))
        # Built once for the digest, the dataset input and the artifact: millions of rows at N = all.
        frame = sample_manifest(result.augmentation) if getattr(result, "augmentation", None) is not None else None
        if frame is not None:
            self._log_manifest(run_id, frame)
        with tempfile.TemporaryDirectory(prefix="salt-artifacts-") as tmp:
            write_artifacts(Path(tmp), result, render, frame)
            self.client.log_artifacts(run_id, tmp)
        self.client.set_terminated(run_id, "FINISHED")

    def _log_manifest(self, run_id: str, frame: Any) -> None:
        """The selected augmented examples as an MLflow dataset input (the UI's Datasets column) and a tag,
        so runs that trained on the same sample are found by its digest."""
        from mlflow.entities import DatasetInput, InputTag

        from salt.augment.manifest import digest

        key = digest(frame)
        entity = manifest_dataset(frame, f"augmented-{key[:12]}", key[:36])
        self._log_inputs(run_id, [DatasetInput(entity, [InputTag("mlflow.data.context", "augmented")])])
        self.client.set_tag(run_id, MANIFEST_TAG, key)

    def _log_inputs(self, run_id: str, inputs: list, attempts: int = 5) -> None:
        """`log_inputs`, tried again after a failure. Trials that trained on the same sample log the same dataset,
        and MLflow's store inserts a dataset after looking it up, so two trials ending together race on the
        datasets table's key (experiment, name, digest): one fails with a unique violation (a server answers
        BAD_REQUEST). A second attempt finds the dataset and adds only this run's input; the call is
        idempotent (an input already logged to the run is not logged again)."""
        for attempt in range(attempts):
            try:
                return self.client.log_inputs(run_id, inputs)
            except MlflowException:
                if attempt == attempts - 1:
                    raise
                log.debug("log_inputs of run %s failed (attempt %d); trying again", run_id, attempt + 1)
                time.sleep(0.05 * 2 ** attempt * (1 + random.random()))

    def fail_trial(self, run_id: str, error: str, status: str = "FAILED") -> None:
        """End a trial FAILED (an error) or KILLED (interrupted, pruned); the full text goes to error.txt."""
        status = _status(status, ("FAILED", "KILLED"))
        self.client.set_tag(run_id, ERROR, truncate(str(error), MAX_ERROR))
        try:
            self.client.log_text(run_id, str(error), "error.txt")
        finally:
            self.client.set_terminated(run_id, status)

    def end_stale_runs(self, study: str, reason: str | Callable[[Owner], str] = "owner process is gone",
                       is_alive: Callable[[Owner], bool] = Owner.alive) -> list[str]:
        """End KILLED every trial run of the study left RUNNING by a dead owner, with the reason (a text, or
        one made from the owner); return their ids."""
        ended = []
        for run in self.reader.trial_runs(study, status="RUNNING"):
            if not is_alive(run.owner):
                self.fail_trial(run.run_id, reason(run.owner) if callable(reason) else reason, status="KILLED")
                ended.append(run.run_id)
        return ended


SCHEMA_ROWS = 1000


def manifest_dataset(frame: Any, name: str, digest: str):
    """The manifest as an MLflow dataset entity: MLflow's own (`from_pandas`), with the schema inferred from the first
    `SCHEMA_ROWS` rows. MLflow infers it by testing every value of every column (47 s for the 5.5M rows of N = all
    on XNLI); a manifest's columns have one type each and no missing values, so its first rows give the same schema.
    The profile (row and element counts) is the whole frame's."""
    import mlflow.data
    from mlflow.entities import Dataset

    with warnings.catch_warnings():  # schema inference's hints about integer columns and source guessing
        warnings.simplefilter("ignore")
        head = mlflow.data.from_pandas(frame.head(SCHEMA_ROWS), source=MANIFEST, name=name, digest=digest)
        whole = mlflow.data.from_pandas(frame, source=MANIFEST, name=name, digest=digest)
        entity = head._to_mlflow_entity()  # infers the schema (the integer-column hint)
    return Dataset(entity.name, entity.digest, entity.source_type, entity.source, entity.schema,
                   json.dumps(whole.profile))
