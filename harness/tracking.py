"""MLflow tracking for studies: one parent run per study, one child run per trial.

Why our own small layer instead of the fluent API or optuna-integration's MLflowCallback:
- every call names its run id explicitly (`MlflowClient`), so trials in threads or processes never
  share a global "active run"; the callback serialises threaded trials and ends failed ones FINISHED;
- a SQLite store must be created (schema migrations) and its experiment made once, before workers
  start: several processes opening a fresh database at once all fail in migration (`prepare_store`);
- a worker that dies leaves its run RUNNING forever, so every trial records its host and pid and
  `end_stale_runs` ends the orphans KILLED.

Tag names (all strings): `salt.study`, `salt.role` (parent|trial), `salt.cell`, `salt.host`, `salt.pid`,
`salt.pid_start`, `salt.error`, `salt.git_commit`, `salt.git_dirty`, `salt.version.<package>`; a trial's
extra tags without a namespace become `salt.<key>` (arm -> salt.arm, seed -> salt.seed, trial -> salt.trial;
`trial_runs` also reads the Optuna trial number from `optuna.trial`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlparse

import pandas as pd
from filelock import FileLock
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, ViewType
from mlflow.exceptions import MlflowException

from harness import provenance

log = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"  # what the MLflow UI nests children by
STUDY, ROLE, CELL, HOST, PID, PID_START, ERROR = (
    "salt.study", "salt.role", "salt.cell", "salt.host", "salt.pid", "salt.pid_start", "salt.error")
MAX_PARAM = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG = 8000  # ... MAX_TAG_VAL_LENGTH
MAX_ERROR = 5000
SAMPLE_PER_LANG = 20
PARENT_SETTLE_S = 2.0  # tracking servers only: how long parent creators wait before agreeing on the oldest
PREDICTIONS = ("predictions.parquet", "predictions.csv.gz")
_TRUNC = "...[truncated]"


class TrackingError(OSError):
    """The tracking store cannot be used (unwritable, unreachable, wrong schema): stop before any work."""


# --------------------------------------------------------------------------------------------- store

def default_tracking_uri(root: Path | str) -> str:
    """`sqlite:///<abs root>/mlruns/mlflow.db`: absolute, so every worker's cwd sees the same store."""
    return f"sqlite:///{(Path(root).resolve() / 'mlruns' / 'mlflow.db').as_posix()}"


def default_artifact_location(root: Path | str) -> str:
    return (Path(root).resolve() / "mlruns" / "artifacts").as_uri()


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (None for servers and other databases)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    if not path or path == ":memory:":
        raise TrackingError(f"tracking URI {uri!r} is an in-memory SQLite database: workers could not share it; "
                            "use sqlite:///<absolute path>/mlflow.db")
    return Path(path).resolve()


def prepare_store(tracking_uri: str, experiment_name: str, artifact_location: str | None = None) -> str:
    """Create the store (schema) and the experiment once, before workers start; return the experiment id.

    Idempotent and safe to call concurrently on one machine (a file lock serialises SQLite creation).
    For a SQLite store the artifacts default to `<db dir>/artifacts`, not MLflow's cwd-relative default.
    """
    scheme = urlparse(tracking_uri).scheme
    if scheme in ("http", "https"):
        _check_server(tracking_uri)
    db = _sqlite_path(tracking_uri)
    lock: Any = nullcontext()
    if db is not None:
        artifact_location = artifact_location or (db.parent / "artifacts").as_uri()
        if not urlparse(artifact_location).scheme:  # a plain path: absolute, so no worker's cwd matters
            artifact_location = Path(artifact_location).resolve().as_uri()
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            if artifact_location.startswith("file:"):
                Path(urlparse(artifact_location).path).mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(db) + ".lock", timeout=300)
            with lock:  # the lock file is the first thing written next to the database
                _probe_sqlite(db)
        except (OSError, sqlite3.Error) as err:
            raise TrackingError(f"cannot write the MLflow store at {db} (tracking URI {tracking_uri}): {err}. "
                                "Choose a writable directory for mlruns/ or pass another tracking URI.") from err
    try:
        with lock:
            return _experiment(MlflowClient(tracking_uri), experiment_name, artifact_location)
    except TrackingError:
        raise
    except Exception as err:  # MlflowException, sqlalchemy errors, OSError, timeouts
        hint = (f"if the schema is old, run `mlflow db upgrade {tracking_uri}`; otherwise check that the "
                "file is writable and not on a network filesystem" if db is not None else
                "check the URI, that the server is running, and its credentials (MLFLOW_TRACKING_TOKEN / _USERNAME)")
        raise TrackingError(f"cannot prepare MLflow experiment {experiment_name!r} at {tracking_uri}: "
                            f"{type(err).__name__}: {err}. Fix: {hint}.") from err


def _probe_sqlite(db: Path) -> None:
    """Open the database ourselves first: MLflow retries an unopenable one 10 times (about 100 s)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        con.execute("PRAGMA schema_version").fetchone()  # reads the header: fails on a non-database
        con.execute("BEGIN IMMEDIATE")  # takes the write lock: fails on a read-only file or directory
        con.rollback()
    finally:
        con.close()


def _experiment(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException as err:  # another process (or machine) made it between get and create
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            exp = client.get_experiment_by_name(name)
    if exp.lifecycle_stage == "deleted":
        raise TrackingError(f"MLflow experiment {name!r} is deleted (its name stays taken): restore it "
                            f"(`mlflow experiments restore --experiment-id {exp.experiment_id}`) or choose another name")
    return exp.experiment_id


def _check_server(uri: str) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when the server is down."""
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=10)
    except requests.RequestException as err:
        raise TrackingError(f"MLflow tracking server {uri} is unreachable ({type(err).__name__}): start it "
                            "(`mlflow server --backend-store-uri ...`) or fix the tracking URI") from err


# --------------------------------------------------------------------------------------------- values

def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys from nested dicts and dataclasses (augment.threshold)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = asdict(obj)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) or (is_dataclass(value) and not isinstance(value, type)):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - len(_TRUNC)] + _TRUNC


def param_str(value: Any) -> str:
    """How a param value is stored: str() for scalars (as MLflow does), JSON for lists/tuples; <= 6000 chars."""
    if isinstance(value, (list, tuple)):
        try:
            value = json.dumps(list(value))
        except TypeError:
            pass
    return _truncate(str(value), MAX_PARAM)


def _tag(value: Any) -> str:
    return _truncate(str(value), MAX_TAG)


def _quote(value: str) -> str:
    """A string literal for MLflow's filter syntax (which has no escapes)."""
    for q in ("'", '"'):
        if q not in value:
            return f"{q}{value}{q}"
    raise ValueError(f"{value!r} contains both quote characters: it cannot be searched for in MLflow")


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _time(ms: int | None) -> pd.Timestamp:
    return pd.to_datetime(ms, unit="ms", utc=True) if ms else pd.NaT


def _search(client: MlflowClient, experiment_ids: list[str], filter_string: str) -> Iterator:
    """Every matching run, page by page (a single call returns at most 1000)."""
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string, ViewType.ACTIVE_ONLY, max_results=1000,
                                  order_by=["attributes.start_time ASC"], page_token=token)
        yield from page
        token = page.token
        if not token:
            return


# --------------------------------------------------------------------------------------------- owners

def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first); None where unavailable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _proc_start(pid: int) -> str | None:
    """Start time in clock ticks since boot: tells a live owner from a later process that reused its pid."""
    stat = _proc_stat(pid)
    return stat[19] if stat and len(stat) > 19 else None


def owner_alive(info: dict) -> bool:
    """Default liveness: same host and the pid runs (not a zombie, not reused); other hosts count as alive."""
    if info.get("host") != provenance.hostname() or info.get("pid") is None:
        return True
    pid = info["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat and stat[0] in ("Z", "X"):
        return False
    recorded, current = info.get("pid_start"), _proc_start(pid)
    return not (recorded and current and recorded != current)


# --------------------------------------------------------------------------------------------- tracker

class StudyTracker:
    """Parent and child runs of one experiment. Make one per process (it holds an MlflowClient)."""

    def __init__(self, tracking_uri: str, experiment_id: str):
        self.tracking_uri, self.experiment_id = tracking_uri, str(experiment_id)
        self.client = MlflowClient(tracking_uri)
        self._parents_seen: dict[str, tuple[str, str]] = {}  # parent id -> (experiment id, study name)
        self._db = _sqlite_path(tracking_uri)  # a local database can be locked; a server cannot
        self._git: dict[str, str] | None = None  # computed once: a git call per trial would add up

    # ---- parent
    def parent_run(self, study_name: str, study_file: Path, resolved: dict,
                   extra_tags: dict | None = None) -> str:
        """Get or create the study's one parent run and leave it RUNNING.

        Workers that start together must agree on one parent. On SQLite a file lock next to the database
        serialises get-or-create. A server offers no lock, so there each creator waits `PARENT_SETTLE_S`, then
        everyone keeps the oldest parent and deletes its own; a creator stalled longer than that between
        stamping and inserting its run could still leave two, which `load_runs` (by study tag) tolerates.
        A resumed study whose file changed keeps its run; the new file goes to `study/revisions/<sha>/`.
        """
        study_file = Path(study_file)
        sha = hashlib.sha256(study_file.read_bytes()).hexdigest()
        with self._lock():
            found = self._parents(study_name)
            if found:
                return self._resume(found[0], study_file, sha, resolved)
            git = provenance.git_info()
            tags = {STUDY: study_name, ROLE: "parent", "salt.study_file": str(study_file.resolve()),
                    "salt.study_sha256": sha, HOST: provenance.hostname(), "salt.git_commit": git["git_commit"],
                    "salt.git_dirty": git["git_dirty"], "mlflow.source.git.commit": git["git_commit"],
                    **{f"salt.version.{k}": v for k, v in provenance.package_versions().items()},
                    **(extra_tags or {})}
            run_id = self.client.create_run(self.experiment_id, tags={k: _tag(v) for k, v in tags.items()},
                                            run_name=study_name).info.run_id
        if self._db is None:
            time.sleep(PARENT_SETTLE_S)
            winner = self._parents(study_name)[0].info.run_id
            if winner != run_id:
                self.client.delete_run(run_id)
                return winner
        self._log_study(run_id, study_file, resolved, "study")
        return run_id

    def _lock(self):
        if self._db is None:
            return nullcontext()
        return FileLock(str(self._db) + ".lock", timeout=300)

    def _parents(self, study_name: str) -> list:
        runs = _search(self.client, [self.experiment_id],
                       f"tags.{STUDY} = {_quote(study_name)} and tags.{ROLE} = 'parent'")
        return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))

    def _resume(self, run, study_file: Path, sha: str, resolved: dict) -> str:
        run_id = run.info.run_id
        if run.info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        if run.data.tags.get("salt.study_sha256") != sha:
            log.warning("study file %s changed since study %r began; logging it as revision %s",
                        study_file, run.data.tags.get(STUDY), sha[:12])
            self._log_study(run_id, study_file, resolved, f"study/revisions/{sha[:12]}")
            self.client.set_tag(run_id, "salt.study_sha256", sha)
        return run_id

    def _log_study(self, run_id: str, study_file: Path, resolved: dict, path: str) -> None:
        self.client.log_artifact(run_id, str(study_file), path)
        self.client.log_dict(run_id, resolved, f"{path}/resolved_study.json")

    def finish_parent(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, _status(status, ("FINISHED", "FAILED", "KILLED")))

    # ---- trials
    def start_trial(self, parent_id: str, cell_id: str, params: Any, tags: dict | None = None) -> str:
        """A RUNNING child run named `cell_id`, with flattened params and the owner's host/pid tags.

        `params` is a (nested) dict or a config dataclass. Tags without a namespace get `salt.`.
        """
        exp_id, study = self._parent(parent_id)
        pid = os.getpid()
        git = self._git = self._git or provenance.git_info()
        base = {PARENT_TAG: parent_id, ROLE: "trial", CELL: cell_id, STUDY: study, HOST: provenance.hostname(),
                PID: pid, "salt.git_commit": git["git_commit"], "salt.git_dirty": git["git_dirty"],
                "mlflow.source.git.commit": git["git_commit"]}
        start = _proc_start(pid)
        if start:
            base[PID_START] = start
        for key, value in (tags or {}).items():
            base[key if "." in key else f"salt.{key}"] = value
        run = self.client.create_run(exp_id, tags={k: _tag(v) for k, v in base.items()}, run_name=cell_id)
        run_id = run.info.run_id
        try:
            flat = [Param(k, param_str(v)) for k, v in _flatten(params).items()]
            for chunk in _chunks(flat, 100):  # MAX_PARAMS_TAGS_PER_BATCH
                self.client.log_batch(run_id, params=chunk, synchronous=True)
        except Exception as err:
            self.fail_trial(run_id, f"logging params failed: {err}")
            raise
        return run_id

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
        names = {"loss": "train_loss", "lr": "lr", "epoch": "epoch", "selection_acc": "selection_acc"}
        for point in result.train.curves:
            step = int(point.get("step", 0))
            metrics += [Metric(names[k], f, now, step) for k, v in point.items()
                        if k in names and (f := _float(v)) is not None]
        for chunk in _chunks(metrics, 1000):  # MAX_METRICS_PER_BATCH
            self.client.log_batch(run_id, metrics=chunk, synchronous=True)
        with tempfile.TemporaryDirectory(prefix="salt-artifacts-") as tmp:
            _write_artifacts(Path(tmp), result, render)
            self.client.log_artifacts(run_id, tmp)
        self.client.set_terminated(run_id, "FINISHED")

    def fail_trial(self, run_id: str, error: str, status: str = "FAILED") -> None:
        """End a trial FAILED (an error) or KILLED (interrupted, pruned); the full text goes to error.txt."""
        status = _status(status, ("FAILED", "KILLED"))
        self.client.set_tag(run_id, ERROR, _truncate(str(error), MAX_ERROR))
        try:
            self.client.log_text(run_id, str(error), "error.txt")
        finally:
            self.client.set_terminated(run_id, status)

    # ---- reading back
    def trial_runs(self, parent_id: str) -> pd.DataFrame:
        """One row per child run (any status): run_id, cell, status, arm, seed, trial, host, pid, times, error."""
        exp_id, _ = self._parent(parent_id)
        rows = []
        for r in _search(self.client, [exp_id], f"tags.`{PARENT_TAG}` = {_quote(parent_id)}"):
            t = r.data.tags
            rows.append({"run_id": r.info.run_id, "cell": t.get(CELL), "status": r.info.status,
                         "arm": t.get("salt.arm"), "seed": t.get("salt.seed"),
                         "trial": t.get("salt.trial", t.get("optuna.trial")),
                         "host": t.get(HOST), "pid": t.get(PID), "start_time": _time(r.info.start_time),
                         "end_time": _time(r.info.end_time), "error": t.get(ERROR)})
        columns = ["run_id", "cell", "status", "arm", "seed", "trial", "host", "pid", "start_time", "end_time", "error"]
        return pd.DataFrame(rows, columns=columns)

    def finished_metric(self, parent_id: str, cell_id: str, metric: str) -> float | None:
        """The metric of a FINISHED child run of this cell, if one exists.

        MLflow is the record of truth: a worker killed between finishing a run and telling Optuna
        leaves a recorded result, which a retry must reuse instead of adding a second run.
        """
        exp_id, _ = self._parent(parent_id)
        flt = (f"tags.`{PARENT_TAG}` = {_quote(parent_id)} and tags.`{CELL}` = {_quote(cell_id)} "
               "and attributes.status = 'FINISHED'")
        for r in _search(self.client, [exp_id], flt):
            if metric in r.data.metrics:
                return float(r.data.metrics[metric])
        return None

    def end_stale_runs(self, parent_id: str, is_alive: Callable[[dict], bool] = owner_alive,
                       reason: str = "owner process is gone") -> list[str]:
        """End KILLED every child run left RUNNING whose owner is dead; return their ids.

        `is_alive` gets {"run_id", "cell", "host", "pid", "pid_start", "tags"}; runs without a pid count as alive.
        """
        exp_id, _ = self._parent(parent_id)
        ended = []
        for r in _search(self.client, [exp_id],
                         f"tags.`{PARENT_TAG}` = {_quote(parent_id)} and attributes.status = 'RUNNING'"):
            t = r.data.tags
            pid = t.get(PID)
            info = {"run_id": r.info.run_id, "cell": t.get(CELL), "host": t.get(HOST),
                    "pid": int(pid) if pid and pid.isdigit() else None, "pid_start": t.get(PID_START), "tags": t}
            if not is_alive(info):
                self.client.set_tag(r.info.run_id, ERROR, _truncate(reason, MAX_ERROR))
                self.client.set_terminated(r.info.run_id, "KILLED")
                ended.append(r.info.run_id)
        return ended


def _status(status: str, allowed: tuple[str, ...]) -> str:
    if status not in allowed:
        raise ValueError(f"run status must be one of {', '.join(allowed)}, got {status!r}")
    return status


# --------------------------------------------------------------------------------------------- results

def result_metrics(result: Any) -> dict[str, float]:
    """The summary metrics of a RunResult (step 0): its flat metrics, counts, timings, augmentation stats."""
    train, aug = result.train, result.augmentation
    out = dict(result.metrics)
    out.update(train_steps=train.steps, best_step=train.best_step, n_source=train.n_source,
               n_augmented=train.n_augmented, wall_seconds=result.seconds, train_seconds=train.seconds)
    if aug is not None:
        out.update(aug_seconds=getattr(aug, "seconds", None), aug_forward_rows=getattr(aug, "forward_rows", None))
        for lang, stats in aug.stats.items():
            out.update({f"aug.{lang}.{k}": v for k, v in stats.items()})
    return {k: f for k, v in out.items() if (f := _float(v)) is not None}


def _write_artifacts(out: Path, result: Any, render: Callable[[list[int]], list[str]] | None) -> None:
    preds = result.train.predictions
    try:
        import pyarrow  # noqa: F401

        preds.to_parquet(out / PREDICTIONS[0], index=False)
    except ImportError:
        preds.to_csv(out / PREDICTIONS[1], index=False, compression="gzip")
    if is_dataclass(result.config):
        (out / "run_config.json").write_text(json.dumps(asdict(result.config), indent=1, default=str))
    aug = result.augmentation
    if aug is None:
        return
    (out / "augmentation_stats.json").write_text(json.dumps(
        {"stats": aug.stats, "n_examples": {lang: len(v) for lang, v in aug.examples.items()},
         "forward_rows": getattr(aug, "forward_rows", None), "seconds": getattr(aug, "seconds", None),
         "cached": getattr(aug, "cached", None)}, indent=1, default=float))
    with (out / "augmented_sample.jsonl").open("w", encoding="utf-8") as f:
        for lang, examples in aug.examples.items():
            for a in examples[:SAMPLE_PER_LANG]:
                f.write(json.dumps(_augmented_record(a, render), ensure_ascii=False) + "\n")


def _augmented_record(a: Any, render: Callable[[list[int]], list[str]] | None) -> dict:
    ids = [int(i) for i in a.aug_ids]
    positions = [int(p) for p in a.positions]
    rec = {"uid": a.uid, "lang": a.lang, "label": int(a.label), "source_index": int(a.source_index),
           "positions": positions, "probs": [round(float(p), 4) for p in a.probs],
           "synonym": [bool(s) for s in a.synonym], "aug_ids": ids}
    if render is not None:
        tokens = list(render(ids))
        rec["tokens"] = tokens
        rec["substitutes"] = [tokens[p] for p in positions]
    return rec


# --------------------------------------------------------------------------------------------- analysis

def load_runs(tracking_uri: str, study_name: str) -> pd.DataFrame:
    """Every FINISHED trial of a study (in any experiment): one row per run.

    Columns: run_id, experiment_id, run_name, status, start_time, end_time, then `params.<key>` (strings,
    as stored), `tags.<key>` and `metrics.<key>` (latest value; curves keep their last step).
    """
    client = MlflowClient(tracking_uri)
    exp_ids = [e.experiment_id for e in _all_experiments(client)]
    flt = f"tags.{STUDY} = {_quote(study_name)} and tags.{ROLE} = 'trial' and attributes.status = 'FINISHED'"
    rows = []
    for r in (_search(client, exp_ids, flt) if exp_ids else ()):
        row = {"run_id": r.info.run_id, "experiment_id": r.info.experiment_id, "run_name": r.info.run_name,
               "status": r.info.status, "start_time": _time(r.info.start_time), "end_time": _time(r.info.end_time)}
        row.update({f"params.{k}": v for k, v in r.data.params.items()})
        row.update({f"tags.{k}": v for k, v in r.data.tags.items()})
        row.update({f"metrics.{k}": v for k, v in r.data.metrics.items()})
        rows.append(row)
    base = ["run_id", "experiment_id", "run_name", "status", "start_time", "end_time"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=base)
    rest = sorted(c for c in frame.columns if c not in base)
    return frame[base + rest].reset_index(drop=True)


def _all_experiments(client: MlflowClient) -> Iterable:
    token = None
    while True:
        page = client.search_experiments(ViewType.ACTIVE_ONLY, max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def load_predictions(tracking_uri: str, run_id: str) -> pd.DataFrame:
    """The per-example predictions (split, lang, uid, label, pred) a trial logged, for paired statistics."""
    client = MlflowClient(tracking_uri)
    present = {a.path for a in client.list_artifacts(run_id)}
    name = next((p for p in PREDICTIONS if p in present), None)
    if name is None:
        raise FileNotFoundError(f"run {run_id} has no predictions artifact ({' or '.join(PREDICTIONS)}) "
                                f"in {tracking_uri}")
    with tempfile.TemporaryDirectory(prefix="salt-predictions-") as tmp:
        path = client.download_artifacts(run_id, name, tmp)
        return pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
