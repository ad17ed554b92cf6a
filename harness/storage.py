"""Where a study's records live, and its Optuna studies: one per study revision, holding the resolved study.

The Optuna study of a revision is named `<study>@<revision>` and carries the resolved study (user attr
`salt.spec`), so workers run what `run` resolved, never a study file edited since. A journal file serves
one machine; any other URL is an RDB storage with heartbeats, so dead workers' cells are re-queued.
"""
from __future__ import annotations

import os
import re
import sys
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import optuna
from filelock import FileLock

from harness.journal import FlockLock, corruption, repair_tail
from harness.study import StudySpec

SPEC_ATTR = "salt.spec"
CREATED_ATTR = "salt.created"  # when `run` first created the revision (ISO time, UTC)
SCHEMA_LOCK = 0x5A17  # PostgreSQL advisory lock ids: Optuna's schema creation ...
LOCK_IDS = {"enqueue": 0x5A18, "parent": 0x5A19, "pop": 0x5A1A}  # ... and the study-wide locks of `shared_lock`
MAX_RETRY = 3


STORE_FIX = ("Free space, make the store writable or start its server, then run again: finished cells are kept, "
             "and a cell that was running is queued again")


class StoreError(OSError):
    """The study's records could not be written or read: one paragraph, no framework traceback."""


def store_errors() -> tuple[type[BaseException], ...]:
    """What the stores raise when they cannot be written or read (a full disk, a read-only mount, a lost
    server), besides OSError: sqlite3's, SQLAlchemy's, MLflow's and Optuna's storage errors."""
    import sqlite3

    from mlflow.exceptions import MlflowException
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    return (OSError, sqlite3.Error, SQLAlchemyError, MlflowException, StorageInternalError)


def store_cause(err: BaseException) -> BaseException | None:
    """The store error behind `err`, if any: Optuna reports a store that failed while it recorded a failed
    trial as `AssertionError: Should not reach.`, with the real error as its context."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, store_errors()):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def store_failure(err: BaseException) -> str:
    """`Type: first line` of the innermost error behind a store failure: the outer ones name nothing (MLflow
    wraps SQLite's "database or disk is full" as "(raised as a result of Query-invoked autoflush ...)")."""
    seen: set[int] = set()
    while (err.__cause__ or err.__context__) is not None and id(err) not in seen:
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


@dataclass(frozen=True)
class Locations:
    """Where a study's records live, resolved once so every worker agrees."""

    tracking_uri: str
    storage: str  # an Optuna storage URL, or "journal:<abs path>"
    root: Path

    @property
    def local_store(self) -> bool:
        return self.tracking_uri.startswith("sqlite:")

    @property
    def journal(self) -> Path | None:
        return Path(self.storage[len("journal:"):]) if self.storage.startswith("journal:") else None


def locate(spec: StudySpec, storage: str | None = None, tracking_uri: str | None = None) -> Locations:
    out = Path(spec.output.dir)
    root = (out if out.is_absolute() else Path.cwd() / out).resolve()
    tracking = tracking_uri or spec.output.tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
    journal = f"journal:{root / 'optuna' / (spec.name + '.journal')}"
    return Locations(tracking, storage or spec.output.storage or journal, root)


def optuna_name(study: str, revision: str) -> str:
    return f"{study}@{revision}"


def open_storage(url: str):
    """A journal file for one machine; any other URL is an RDB storage with heartbeats, so the
    cells of dead workers are re-queued (`RetryHeartbeatStaleTrialCallback`)."""
    if url.startswith("journal:"):
        return _journal_storage(Path(url[len("journal:"):]))
    try:
        return _rdb_storage(url)
    except Exception as err:  # sqlalchemy's errors: bad URL, server down, auth
        raise ValueError(f"cannot open Optuna storage {redact(url)}: {type(err).__name__}: "
                         f"{str(err).splitlines()[0]}. Check that the database server is running and the URL "
                         "(postgresql://user:password@host:port/database) is right.") from None


def _journal_storage(path: Path):
    """The journal, its tail checked (and a torn last record cut off) first; a lock that dies with its owner."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path.parent.mkdir(parents=True, exist_ok=True)
    note = repair_tail(path)
    if note:
        print(note, file=sys.stderr, flush=True)
    try:
        return JournalStorage(JournalFileBackend(str(path), lock_obj=FlockLock(path)))
    except ValueError:  # JSONDecodeError or "Invalid log format": a bad record before the last
        raise corruption(path) from None


def _rdb_storage(url: str):
    heartbeat = int(os.environ.get("SALT_HEARTBEAT_INTERVAL", 60))  # seconds
    grace = int(os.environ.get("SALT_GRACE_PERIOD", 180))

    def make():
        with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna 5
            warnings.simplefilter("ignore")
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=heartbeat, grace_period=grace,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
                engine_kwargs={"pool_pre_ping": True})

    if not url.startswith("postgresql"):
        return make()
    # Several workers starting at once on a fresh database would race to create Optuna's schema:
    # serialise the first connection with a PostgreSQL advisory lock.
    with _pg_lock(url, SCHEMA_LOCK):
        return make()


@contextmanager
def _pg_lock(url: str, key: int):
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        engine.dispose()


def redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def shared_lock(loc: Locations, purpose: str):
    """A lock every process of the study takes, on any machine, or None where the storage has none: the
    journal's file lock (one machine) or a PostgreSQL advisory lock (any). `purpose` is a key of `LOCK_IDS`."""
    if loc.journal is not None:
        return FileLock(f"{loc.journal}.{purpose}.lock", timeout=600)
    if loc.storage.startswith("postgresql"):
        return _pg_lock(loc.storage, LOCK_IDS[purpose])
    return None


def storage_lock(loc: Locations):
    """Serialise enqueueing across processes and machines, so two `run`s never queue a cell twice. Other
    databases have no lock: there one `run` creates and `worker`s join (they never enqueue)."""
    return shared_lock(loc, "enqueue") or nullcontext()


def make_sampler(spec: StudySpec):
    if spec.sampler.type == "tpe":
        return optuna.samplers.TPESampler(seed=spec.sampler.seed)
    return optuna.samplers.RandomSampler(seed=spec.sampler.seed)  # never consulted: grid trials are enqueued


def create_revision(spec: StudySpec, loc: Locations) -> optuna.Study:
    """Create (or reopen) the Optuna study of this revision and store the resolved study in it."""
    study = optuna.create_study(study_name=optuna_name(spec.name, spec.revision), storage=open_storage(loc.storage),
                                sampler=make_sampler(spec), direction=spec.sampler.direction, load_if_exists=True)
    attrs = study.user_attrs
    if attrs.get(SPEC_ATTR) != spec.to_dict():  # new, or operational settings changed
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
    if CREATED_ATTR not in attrs:
        study.set_user_attr(CREATED_ATTR, datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if study.metric_names != [spec.sampler.objective]:
        with warnings.catch_warnings():  # set_metric_names is marked experimental
            warnings.simplefilter("ignore")
            study.set_metric_names([spec.sampler.objective])
    return study


@dataclass(frozen=True)
class Revision:
    revision: str
    spec: StudySpec
    created: str  # ISO time, UTC
    n_trials: int


def revisions(study: str, storage) -> list[Revision]:
    """Every revision of `study` in an Optuna storage, oldest first."""
    out = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        name, _, rev = s.study_name.rpartition("@")
        if name == study and SPEC_ATTR in s.user_attrs:
            out.append(Revision(rev, StudySpec.from_dict(s.user_attrs[SPEC_ATTR]), s.user_attrs.get(CREATED_ATTR, ""),
                                s.n_trials))
    return sorted(out, key=lambda r: (r.created, r.revision))


def find_revision(study: str, storage, revision: str | None) -> Revision:
    """A stored revision by (a prefix of) its id; None: the latest. ValueError naming the choices."""
    found = revisions(study, storage)
    if not found:
        raise ValueError(f"study {study!r} has not been run yet in this storage")
    if revision is None:
        return found[-1]
    hits = [r for r in found if r.revision.startswith(revision)]
    if len(hits) != 1:
        raise ValueError(f"revision {revision!r} of study {study!r} is {'ambiguous' if hits else 'not in the store'}; "
                         f"revisions: {', '.join(r.revision for r in found)}")
    return hits[0]


def load_revision(spec_or_name: str, loc: Locations, revision: str | None = None) -> tuple[optuna.Study, StudySpec]:
    """The Optuna study of a stored revision and the resolved study it holds (workers run this)."""
    storage = open_storage(loc.storage)
    found = find_revision(spec_or_name, storage, revision)
    study = optuna.load_study(study_name=optuna_name(spec_or_name, found.revision), storage=storage,
                              sampler=make_sampler(found.spec))
    return study, found.spec
