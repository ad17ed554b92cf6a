"""The one reader of a study's MLflow records: trial runs (with their cells), parent runs, predictions.

Status, resume and the report all read runs through `Reader`: searched page by page (one call returns
at most 1000), selected by the study's tags, decoded into `TrialRun`s whose `cell` is the typed record.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from typing import Iterator, Mapping

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import ViewType

from harness.liveness import Owner
from harness.records import CELL_TAG, Cell
from harness.tracking.results import PREDICTIONS
from harness.tracking.tags import ERROR, OWNER, PARENT_TAG, REVISION, ROLE, STUDY, member_tag, quote


def tagged_owner(tags: Mapping[str, str]) -> Owner:
    """The owner a run's tags record (harness.tracking.tags.OWNER)."""
    return Owner.from_strings({k: tags.get(tag) for k, tag in OWNER.items()})


def _time(ms: int | None) -> pd.Timestamp:
    return pd.to_datetime(ms, unit="ms", utc=True) if ms else pd.NaT


@dataclass(frozen=True)
class TrialRun:
    run_id: str
    experiment_id: str
    name: str
    status: str
    cell: Cell | None  # None for a child run without a record (another tool's)
    params: Mapping[str, str]
    tags: Mapping[str, str]
    metrics: Mapping[str, float]  # latest value of each metric
    start_time: pd.Timestamp
    end_time: pd.Timestamp

    @classmethod
    def from_run(cls, run) -> TrialRun:
        tags = dict(run.data.tags)
        return cls(run.info.run_id, run.info.experiment_id, run.info.run_name, run.info.status, Cell.from_tags(tags),
                   dict(run.data.params), tags, dict(run.data.metrics), _time(run.info.start_time),
                   _time(run.info.end_time))

    @property
    def owner(self) -> Owner:
        return tagged_owner(self.tags)

    @property
    def error(self) -> str | None:
        return self.tags.get(ERROR)

    @property
    def parent_id(self) -> str | None:
        return self.tags.get(PARENT_TAG)


class Reader:
    """Reads one store; a study's runs are looked for in `experiment_id`, by default the experiment named
    after the study (where `harness.tracking.store.prepare_store` puts them)."""

    def __init__(self, tracking_uri: str, experiment_id: str | None = None):
        self.tracking_uri, self._experiment = tracking_uri, experiment_id
        self.client = MlflowClient(tracking_uri)

    def experiment_id(self, study: str) -> str | None:
        if self._experiment is not None:
            return self._experiment
        exp = self.client.get_experiment_by_name(study)
        return None if exp is None or exp.lifecycle_stage == "deleted" else exp.experiment_id

    def search(self, experiment_ids: list[str], filter_string: str) -> Iterator:
        """Every matching run, page by page, oldest first."""
        token = None
        while True:
            page = self.client.search_runs(experiment_ids, filter_string, ViewType.ACTIVE_ONLY, max_results=1000,
                                           order_by=["attributes.start_time ASC"], page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    def trial_runs(self, study: str, *, revision: str | None = None, status: str | None = "FINISHED",
                   parent: str | None = None, cell_id: str | None = None) -> list[TrialRun]:
        """The study's trial runs: of one revision, with one status (None: any), under one parent, of one cell."""
        exp = self.experiment_id(study)
        if exp is None:
            return []
        flt = f"tags.`{STUDY}` = {quote(study)} and tags.`{ROLE}` = 'trial'"
        if revision is not None:
            flt += f" and tags.`{member_tag(revision)}` = '1'"
        if status is not None:
            flt += f" and attributes.status = {quote(status)}"
        if parent is not None:
            flt += f" and tags.`{PARENT_TAG}` = {quote(parent)}"
        if cell_id is not None:
            flt += f" and tags.`{CELL_TAG}` = {quote(cell_id)}"
        return [TrialRun.from_run(r) for r in self.search([exp], flt)]

    def finished_run(self, study: str, cell_id: str, metric: str) -> TrialRun | None:
        """A FINISHED run of this cell that recorded `metric` (any revision: the cell id is its content).

        MLflow is the record of truth: a worker killed between finishing a run and telling Optuna leaves a
        recorded result, which a retry reuses instead of adding a second run.
        """
        return next((r for r in self.trial_runs(study, cell_id=cell_id) if metric in r.metrics), None)

    def parents(self, study: str, revision: str | None = None) -> list:
        """The study's parent runs (one per revision), oldest first; `revision` may be a prefix."""
        exp = self.experiment_id(study)
        if exp is None:
            return []
        runs = self.search([exp], f"tags.`{STUDY}` = {quote(study)} and tags.`{ROLE}` = 'parent'")
        found = [r for r in runs if revision is None or r.data.tags.get(REVISION, "").startswith(revision)]
        return sorted(found, key=lambda r: (r.info.start_time, r.info.run_id))

    def stored_study(self, study: str, revision: str) -> dict:
        """The resolved study (`StudySpec.to_dict`) that the parent of a revision (or a unique prefix) logged."""
        parents = self.parents(study, revision)
        found = sorted({p.data.tags.get(REVISION) for p in parents})
        if len(found) != 1:
            known = sorted({p.data.tags.get(REVISION) for p in self.parents(study)} - {None})
            raise ValueError(f"revision {revision!r} of study {study!r} is "
                             f"{'ambiguous' if found else 'not in ' + self.tracking_uri}; revisions: "
                             f"{', '.join(known) or 'none'}")
        with tempfile.TemporaryDirectory(prefix="salt-study-") as tmp:
            path = self.client.download_artifacts(parents[0].info.run_id, "study/resolved_study.json", tmp)
            with open(path, encoding="utf-8") as f:
                return json.load(f)

    def predictions(self, run_id: str) -> pd.DataFrame:
        """The per-example predictions (split, lang, uid, label, pred) a trial logged, for paired statistics."""
        present = {a.path for a in self.client.list_artifacts(run_id)}
        name = next((p for p in PREDICTIONS if p in present), None)
        if name is None:
            raise FileNotFoundError(f"run {run_id} has no predictions artifact ({' or '.join(PREDICTIONS)}) "
                                    f"in {self.tracking_uri}")
        with tempfile.TemporaryDirectory(prefix="salt-predictions-") as tmp:
            path = self.client.download_artifacts(run_id, name, tmp)
            return pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)


def runs_frame(runs: list[TrialRun]) -> pd.DataFrame:
    """One row per run for analysis by hand: arm, setting, seed, status, then params.*, tags.*, metrics.*."""
    rows = []
    for r in runs:
        row = {"run_id": r.run_id, "arm": r.cell.arm if r.cell else None,
               "setting": r.cell.setting_label if r.cell else None, "seed": r.cell.seed if r.cell else None,
               "cell": r.cell.id if r.cell else None, "status": r.status, "start_time": r.start_time,
               "end_time": r.end_time}
        row.update({f"params.{k}": v for k, v in r.params.items()})
        row.update({f"tags.{k}": v for k, v in r.tags.items()})
        row.update({f"metrics.{k}": v for k, v in r.metrics.items()})
        rows.append(row)
    return pd.DataFrame(rows)
