"""Create the MLflow store and a study's experiment once, before any worker starts.

A SQLite store must be created (schema migrations) and its experiment made once: several processes
opening a fresh database at once all fail in migration, so this runs under a file lock.
"""
from __future__ import annotations

import sqlite3
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


class TrackingError(OSError):
    """The tracking store cannot be used (unwritable, unreachable, wrong schema): stop before any work."""


# --------------------------------------------------------------------------------------------- store

def default_tracking_uri(root: Path | str) -> str:
    """`sqlite:///<abs root>/mlruns/mlflow.db`: absolute, so every worker's cwd sees the same store."""
    return f"sqlite:///{(Path(root).resolve() / 'mlruns' / 'mlflow.db').as_posix()}"


def sqlite_path(uri: str) -> Path | None:
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
    db = sqlite_path(tracking_uri)
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
    if db is not None and db.is_file():
        _check_not_copied(db, experiment_name, artifact_location)
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


def _check_not_copied(db: Path, experiment: str, artifact_location: str) -> None:
    """A copied or moved store still records the original's artifact folder: stop before writing into it.
    Only for the default layout (artifacts next to the database), the one `relocate` restores."""
    from harness.tracking.relocate import foreign_roots, own_root

    if artifact_location.rstrip("/") != own_root(db):
        return
    try:
        roots = foreign_roots(db, experiment)
    except sqlite3.Error:  # not a database yet (or not one of ours): the probe and MLflow say what is wrong
        return
    if roots:
        raise TrackingError(f"{db}: this store keeps its artifacts in {urlparse(roots[0]).path}, outside its own "
                            f"folder: it was copied or moved from there, and new runs would write into the original. "
                            f"Run `salt-harness relocate {db.parent}` once to make it independent (nothing recorded "
                            "is lost), then run again.")


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
