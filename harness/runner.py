"""Optuna drives the SALT trainer: cells are enqueued, workers pop them, MLflow records each one.

Grid studies enqueue every missing cell (never `GridSampler`, which repeats cells under parallel
workers); TPE studies ask the sampler within the declared space. Resume is the default: finished
cells are never enqueued again, failed and orphaned ones are.
"""
from __future__ import annotations

import gc
import multiprocessing as mp
import os
import re
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import optuna
from filelock import FileLock
from optuna.trial import TrialState

from harness.progress import ProgressLine
from harness.provenance import hostname
from harness.study import Cell, StudySpec, cell_id, load_study
from harness.tracking import StudyTracker, prepare_store
from salt.config import flatten

optuna.logging.set_verbosity(optuna.logging.WARNING)
HEARTBEAT_INTERVAL = int(os.environ.get("SALT_HEARTBEAT_INTERVAL", 60))  # seconds; RDB storage only
GRACE_PERIOD = int(os.environ.get("SALT_GRACE_PERIOD", 180))
MAX_RETRY = 3
SCHEMA_LOCK = 0x5A17  # PostgreSQL advisory lock ids: Optuna's schema creation ...
ENQUEUE_LOCK = 0x5A18  # ... and enqueueing cells


@dataclass(frozen=True)
class Locations:
    """Where a study's records live, resolved once so every worker agrees."""

    tracking_uri: str
    storage: str  # an Optuna storage URL, or "journal:<abs path>"
    root: Path


def locate(spec: StudySpec, storage: str | None = None, tracking_uri: str | None = None) -> Locations:
    out = Path(spec.output.dir)
    root = (out if out.is_absolute() else Path.cwd() / out).resolve()
    tracking = tracking_uri or spec.output.tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
    journal = f"journal:{root / 'optuna' / (spec.name + '.journal')}"
    return Locations(tracking, storage or spec.output.storage or journal, root)


def open_storage(url: str):
    """A journal file for one machine; any other URL is an RDB storage with heartbeats, so the
    cells of dead workers are re-queued (`RetryHeartbeatStaleTrialCallback`)."""
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = Path(url[len("journal:"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    try:
        return _rdb_storage(url)
    except Exception as err:  # sqlalchemy's errors: bad URL, server down, auth
        raise ValueError(f"cannot open Optuna storage {_redact(url)}: {type(err).__name__}: "
                         f"{str(err).splitlines()[0]}. Check that the database server is running and the URL "
                         "(postgresql://user:password@host:port/database) is right.") from None


def _rdb_storage(url: str):
    def make():
        with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna 5
            warnings.simplefilter("ignore")
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_INTERVAL, grace_period=GRACE_PERIOD,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
                engine_kwargs={"pool_pre_ping": True})

    if not url.startswith("postgresql"):
        return make()
    # Several workers starting at once on a fresh database would race to create Optuna's schema:
    # serialise the first connection with a PostgreSQL advisory lock.
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK})
            try:
                return make()
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK})
    finally:
        engine.dispose()


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def make_sampler(spec: StudySpec):
    if spec.sampler.type == "tpe":
        return optuna.samplers.TPESampler(seed=spec.sampler.seed)
    return optuna.samplers.RandomSampler(seed=spec.sampler.seed)  # never consulted: grid trials are enqueued


def open_study(spec: StudySpec, loc: Locations) -> optuna.Study:
    return optuna.create_study(study_name=spec.name, storage=open_storage(loc.storage), sampler=make_sampler(spec),
                               direction=spec.sampler.direction, load_if_exists=True)


def cell_states(study: optuna.Study) -> dict[str, list[optuna.trial.FrozenTrial]]:
    out: dict[str, list] = {}
    for t in study.get_trials(deepcopy=False):
        if "cell" in t.user_attrs:
            out.setdefault(t.user_attrs["cell"], []).append(t)
    return out


def _alive(trial: optuna.trial.FrozenTrial) -> bool:
    """A RUNNING trial whose worker process is gone (same host, pid missing) is an orphan."""
    if trial.user_attrs.get("host") != hostname():
        return True
    pid = trial.user_attrs.get("pid")
    if pid is None:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_orphans(study: optuna.Study, tracker: StudyTracker, parent_id: str) -> int:
    """Trials left RUNNING by a dead local process become FAIL (their cells are queued again by
    `enqueue_missing`); their MLflow runs end KILLED with the reason."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _alive(t):
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001 (no public API)
            n += 1
    tracker.end_stale_runs(parent_id, reason="the worker process died (found on restart)")
    return n


@contextmanager
def storage_lock(loc: Locations):
    """Serialise enqueueing across processes and machines, so two `run`s never queue a cell twice."""
    if loc.storage.startswith("journal:"):
        with FileLock(loc.storage[len("journal:"):] + ".enqueue.lock", timeout=600):
            yield
    elif loc.storage.startswith("postgresql"):
        import sqlalchemy

        engine = sqlalchemy.create_engine(loc.storage, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": ENQUEUE_LOCK})
                try:
                    yield
                finally:
                    conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": ENQUEUE_LOCK})
        finally:
            engine.dispose()
    else:  # other databases: one `run` creates, `worker`s join (they never enqueue)
        yield


def enqueue_missing(spec: StudySpec, study: optuna.Study, loc: Locations) -> int:
    """Enqueue each grid cell that is neither complete nor queued nor running (failed ones again)."""
    busy = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    n = 0
    with storage_lock(loc):
        states = cell_states(study)
        for cell in sorted(spec.cells(), key=_expected_cost, reverse=True):
            if not any(t.state in busy for t in states.get(cell.id, [])):
                study.enqueue_trial({}, user_attrs={"cell": cell.id, "arm": cell.arm, "seed": cell.seed})
                n += 1
    return n


def prepare_spec(path: Path, smoke: bool = False) -> StudySpec:
    spec = load_study(path)
    if smoke:
        from harness.smoke import smoke_spec

        spec = smoke_spec(spec)
    return spec


def _expected_cost(cell: Cell) -> float:
    """Longest cells first, so no worker is left alone with a long cell at the end (LPT scheduling)."""
    samples = dict(cell.values).get("augment.samples_per_lang", 0)
    return (cell.arm != "baseline") * (float("inf") if samples is None else 1 + samples)


def run_study(spec: StudySpec, workers: int = 1, storage: str | None = None, tracking_uri: str | None = None,
              progress: bool = True, smoke: bool = False, create: bool = True) -> dict:
    """Create (or resume) the study and work it with `workers` local processes; returns the summary.

    `create=False` is a worker joining a study that `run` created (from any machine): it enqueues
    nothing, so several machines never queue a cell twice.
    """
    loc = locate(spec, storage, tracking_uri)
    local = loc.tracking_uri.startswith("sqlite:")
    # Both stores are checked before any work: a bad URL fails here, with nothing recorded.
    if create:
        study = open_study(spec, loc)
    else:
        try:
            study = optuna.load_study(study_name=spec.name, storage=open_storage(loc.storage),
                                      sampler=make_sampler(spec))
        except KeyError:
            raise ValueError(f"study {spec.name!r} does not exist in storage {_redact(loc.storage)}; "
                             f"create it first with: salt-harness run {spec.path} --storage ...") from None
    experiment_id = prepare_store(loc.tracking_uri, spec.name, str(loc.root / "artifacts") if local else None)
    tracker = StudyTracker(loc.tracking_uri, experiment_id)
    parent = tracker.parent_run(spec.name, spec.path, _resolved(spec))
    recover_orphans(study, tracker, parent)
    if spec.sampler.type == "grid" and (create or _has_orphaned_cells(spec, study)):
        enqueue_missing(spec, study, loc)
    start = time.perf_counter()
    if spec.base.model.startswith("synthetic:") and not _budget_spent(spec, study):
        from salt.models import resolve_model
        from salt.run import cache_root

        resolve_model(spec.base.model, str(cache_root(spec.base)))  # pretrain once, before workers wait on it
    if workers <= 1:
        work(spec.path, smoke, loc, parent, experiment_id, 0, progress)
    else:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=work, args=(spec.path, smoke, loc, parent, experiment_id, i, progress), daemon=False)
                 for i in range(workers)]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            for p in procs:
                p.join(timeout=30)
            raise
    summary = summarize(spec, open_study(spec, loc))
    summary["wall_seconds"] = time.perf_counter() - start
    if summary["complete"] == summary["cells"]:
        tracker.finish_parent(parent)
    return summary


def _has_orphaned_cells(spec: StudySpec, study: optuna.Study) -> bool:
    """A worker re-queues cells only when their last trial failed (e.g. an orphan it just recovered)."""
    states = cell_states(study)
    return any(trials and all(t.state == TrialState.FAIL for t in trials) for trials in states.values())


def _resolved(spec: StudySpec) -> dict:
    return {"name": spec.name, "base": flatten(spec.base), "arms": list(spec.arms), "axes": spec.axes,
            "seeds": list(spec.seeds), "sampler": spec.sampler.__dict__, "cells": [c.id for c in spec.cells()]
            if spec.sampler.type == "grid" else None}


def work(study_path: Path, smoke: bool, loc: Locations, parent: str, experiment_id: str, worker: int,
         progress: bool) -> None:
    """One worker: pop cells until none is left (grid) or the trial budget is spent (TPE).

    Trials run through `study.optimize`, the only path on which Optuna keeps heartbeats (RDB
    storage), so a dead worker's cell is re-queued by `RetryHeartbeatStaleTrialCallback`.
    """
    spec = prepare_spec(study_path, smoke)
    study = open_study(spec, loc)
    if _budget_spent(spec, study):
        return
    objective = _Objective(spec, StudyTracker(loc.tracking_uri, experiment_id), parent, worker, progress)
    # The collection after each trial frees a finished trial's model; freezing what imports made
    # (~0.5M objects: torch, transformers, mlflow) first cut it from 0.45 s to 0.01 s per trial.
    gc.collect()
    gc.freeze()
    study.optimize(objective, catch=(Exception,), callbacks=[lambda st, _: _budget_spent(spec, st) and st.stop()],
                   gc_after_trial=True)


def _renderer(cfg):
    """Token strings for the augmented-examples artifact (the tokenizer is cached on disk, so cheap)."""
    from salt.models import load_tokenizer
    from salt.run import cache_root

    tokenizer = load_tokenizer(cfg.model, str(cache_root(cfg)))
    return lambda ids: tokenizer.convert_ids_to_tokens([int(i) for i in ids])


def _budget_spent(spec: StudySpec, study: optuna.Study) -> bool:
    with warnings.catch_warnings():  # fail_stale_trials is marked experimental
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)  # re-queues dead workers' cells (RDB heartbeats)
    if spec.sampler.type == "grid":
        return not study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    counted = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL)
    return len(study.get_trials(deepcopy=False, states=counted)) >= spec.sampler.n_trials


class _Objective:
    """One trial = one cell: config -> MLflow child run -> salt.run -> metrics; failures end FAILED."""

    def __init__(self, spec: StudySpec, tracker: StudyTracker, parent: str, worker: int, progress: bool):
        self.spec, self.tracker, self.parent, self.worker, self.progress = spec, tracker, parent, worker, progress
        self.cells = {c.id: c for c in spec.cells()} if spec.sampler.type == "grid" else {}

    def __call__(self, trial: optuna.Trial) -> float:
        from salt.run import run

        spec = self.spec
        stale_run = trial.user_attrs.get("mlflow_run_id")  # set when this trial re-queues a dead worker's cell
        if stale_run:
            self.tracker.fail_trial(stale_run, "the worker stopped sending heartbeats; the cell was re-queued",
                                    status="KILLED")
        cell = self.cells.get(trial.user_attrs.get("cell")) if self.cells else _tpe_cell(spec, trial)
        if cell is None:  # a surplus trial from a race at the very end of a grid: not a cell
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned("no cell left")
        recorded = self.tracker.finished_metric(self.parent, cell.id, spec.sampler.objective)
        if recorded is not None:
            trial.set_user_attr("reused_run", True)
            return recorded
        cfg = spec.config(cell)
        for key, value in (("host", hostname()), ("pid", os.getpid()), ("worker", self.worker)):
            trial.set_user_attr(key, value)
        run_id = self.tracker.start_trial(self.parent, cell.id, flatten(cfg),
                                          {"arm": cell.arm, "seed": str(cell.seed), "optuna.trial": str(trial.number),
                                           "worker": str(self.worker)})
        trial.set_user_attr("mlflow_run_id", run_id)
        line = ProgressLine(self.worker, trial.number, cell, enabled=self.progress)
        try:
            result = run(cfg, callbacks=[line])
            value = result.metrics.get(spec.sampler.objective)
            if value is None:
                raise KeyError(f"objective {spec.sampler.objective!r} is not among the run's metrics "
                               f"({', '.join(sorted(result.metrics))})")
            self.tracker.log_result(run_id, result, render=_renderer(cfg))
        except KeyboardInterrupt:
            self.tracker.fail_trial(run_id, "interrupted (KeyboardInterrupt)", status="KILLED")
            line.close("interrupted")
            raise
        except Exception as err:  # any failure ends this trial as FAILED; optimize() goes on
            self.tracker.fail_trial(run_id, f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
            line.close(f"FAILED: {type(err).__name__}: {err}")
            raise
        line.close(f"{spec.sampler.objective} {value:.3f}")
        return value


def _tpe_cell(spec: StudySpec, trial: optuna.Trial) -> Cell:
    """A TPE trial tunes the declared space for one arm; seeds rotate so each is used equally."""
    values = []
    for key, space in spec.axes.items():
        name = key
        if isinstance(space, dict):  # a numeric range
            low, high = space["low"], space["high"]
            if isinstance(low, int) and isinstance(high, int):
                v = trial.suggest_int(name, low, high, log=bool(space.get("log", False)), step=space.get("step", 1))
            else:
                v = trial.suggest_float(name, float(low), float(high), log=bool(space.get("log", False)),
                                        step=space.get("step"))
        else:
            v = trial.suggest_categorical(name, space)
        values.append((key, v))
    seed = spec.seeds[trial.number % len(spec.seeds)]
    arm = spec.sampler.arm
    cell = Cell(cell_id(arm, tuple(values), seed) + f"/trial={trial.number}", arm, tuple(values), seed)
    trial.set_user_attr("cell", cell.id)
    trial.set_user_attr("arm", arm)
    trial.set_user_attr("seed", seed)
    return cell


def summarize(spec: StudySpec, study: optuna.Study) -> dict:
    """Cells by state and arm (the latest trial of each cell counts)."""
    states = cell_states(study)
    expected = [c.id for c in spec.cells()] if spec.sampler.type == "grid" else list(states)
    by_arm: dict[str, dict[str, int]] = {}
    values: dict[str, list[float]] = {}
    complete = 0
    for cid in expected:
        trials = states.get(cid, [])
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        state = "COMPLETE" if done else (max(trials, key=lambda t: t.number).state.name if trials else "MISSING")
        arm = cid.split("/", 1)[0]
        by_arm.setdefault(arm, {}).setdefault(state, 0)
        by_arm[arm][state] += 1
        if done:
            complete += 1
            values.setdefault(arm, []).append(done[0].value)
    return {"study": spec.name, "cells": len(expected), "complete": complete, "by_arm": by_arm,
            "objective": spec.sampler.objective,
            "mean_objective": {a: sum(v) / len(v) for a, v in values.items()}}


def format_summary(summary: dict) -> str:
    lines = [f"study {summary['study']}: {summary['complete']}/{summary['cells']} cells complete"]
    for arm, states in summary["by_arm"].items():
        counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
        mean = summary["mean_objective"].get(arm)
        lines.append(f"  {arm:22s} {counts}" + (f"   mean {summary['objective']} {mean:.3f}" if mean is not None else ""))
    if "wall_seconds" in summary:
        lines.append(f"  wall time {summary['wall_seconds']:.0f} s")
    return "\n".join(lines)
