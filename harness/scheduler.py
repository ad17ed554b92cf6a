"""Optuna drives the SALT trainer: cells are enqueued, workers pop them, MLflow records each one.

Grid studies enqueue every missing cell with its params (never `GridSampler`, which repeats cells under
parallel workers); TPE studies ask the sampler within the declared space. Resume is the default:
finished cells are never enqueued again, failed and orphaned ones are, and a cell whose run finished in
any revision of the study is reused instead of trained again.
"""
from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import TrialState

from harness import sidelog
from harness.liveness import Owner
from harness.logs import levels
from harness.objective import Objective
from harness.records import Cell
from harness.storage import (Locations, StoreError, create_revision, load_revision, locate, open_storage, revisions,
                             storage_lock, store_cause)
from harness.study import StudySpec, describe_changes
from harness.summary import cell_trials, summarize
from harness.tracking.runs import StudyTracker
from harness.tracking.store import prepare_store


def run_study(spec: StudySpec, workers: int = 1, storage: str | None = None, tracking_uri: str | None = None,
              progress: bool = True, create: bool = True, revision: str | None = None,
              say: Callable[[str], None] | None = None) -> dict:
    """Create (or resume) the study's revision and work it with `workers` local processes; returns the summary.

    `create=False` is a worker joining a revision that `run` created (from any machine): it runs the
    stored study (`revision`, default the latest), never the file, and enqueues nothing, so several
    machines never queue a cell twice.
    """
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    loc = locate(spec, storage, tracking_uri)
    # Both stores are checked before any work: a bad URL fails here, with nothing recorded.
    if create:
        note = revision_note(spec, loc)
        study = create_revision(spec, loc)
        if note:
            say(note)
    else:
        study, spec = load_revision(spec.name, loc, revision)
    experiment_id = prepare_store(loc.tracking_uri, spec.name, str(loc.root / "artifacts") if loc.local_store else None)
    tracker = StudyTracker(loc.tracking_uri, experiment_id)
    parent = tracker.parent_run(spec.name, spec.revision, spec.to_dict(), spec.path, spec.description)
    side = sidelog_path(loc, spec.name)
    last = sidelog.read(side)
    if last:
        say(f"the last run of study {spec.name!r} stopped with: {last}")
    recover_orphans(study, tracker, spec.name, lambda owner: f"the worker stopped: {last}" if last
                    else "the worker process died (found on restart)")
    sidelog.reset(side)
    if spec.sampler.type == "grid" and (create or _has_failed_cells(study)):
        enqueue_missing(spec, study, loc)
    start = time.perf_counter()
    if spec.base.model.startswith("synthetic:") and not budget_spent(spec, study):
        from salt.models import resolve_model
        from salt.run import cache_root

        resolve_model(spec.base.model, str(cache_root(spec.base)))  # pretrain once, before workers wait on it
    args = (loc, spec.name, spec.revision, parent, experiment_id)
    ended: dict[int, str] = {}  # pid -> how a worker process ended, when it did not end well
    if workers <= 1:
        work(*args, 0, progress)
    else:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=work, args=(*args, i, progress), daemon=False) for i in range(workers)]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            for p in procs:
                p.join(timeout=30)
            raise
        for i, p in enumerate(procs):
            if p.exitcode:
                how = f"killed by signal {-p.exitcode}" if p.exitcode < 0 else f"exited with code {p.exitcode}"
                ended[p.pid] = f"worker w{i} (pid {p.pid}) {how}" + (f": {sidelog.read(side)}" if p.exitcode > 0 else "")
    # A local worker that died left its trial and run RUNNING: end them now, with the reason, not at the next run.
    recover_orphans(study, tracker, spec.name, lambda owner: ended.get(owner.pid, "the worker process died"))
    summary = summarize(spec, load_revision(spec.name, loc, spec.revision)[0])
    summary["wall_seconds"] = time.perf_counter() - start
    if summary["complete"] == summary["cells"]:
        tracker.finish_parent(parent)
    return summary


def sidelog_path(loc: Locations, study: str) -> Path:
    return loc.root / "optuna" / f"{study}.lastrun"


def revision_note(spec: StudySpec, loc: Locations) -> str | None:
    """One paragraph when the study file changed since the last revision run: every changed key, which
    cells are new, and where the earlier revision's runs are (they are never shown as this one's)."""
    known = revisions(spec.name, open_storage(loc.storage))
    if not known or any(r.revision == spec.revision for r in known):
        return None
    last = known[-1]
    changes = describe_changes(last.spec.content(), spec.content())
    old_ids = {c.id for r in known for c in r.spec.cells()}
    cells = spec.cells()
    same = sum(c.id in old_ids for c in cells)
    where = spec.path or spec.name
    counts = (f"{len(cells) - same} of its {len(cells)} cells are new and {same} are the same as in earlier revisions "
              "(their finished runs are reused)" if spec.sampler.type == "grid" else "its TPE trials start afresh")
    return (f"study {spec.name!r} changed since revision {last.revision} ({last.created}): {'; '.join(changes)}. "
            f"This is revision {spec.revision}: {counts}. The runs of revision {last.revision} stay in the store "
            f"and are not shown as this revision's: see them with `salt-harness status {where} --revision "
            f"{last.revision}` and `salt-harness report {where} --revision {last.revision}`.")


def work(loc: Locations, study_name: str, revision: str, parent: str, experiment_id: str, worker: int,
         progress: bool) -> None:
    """One worker: pop cells until none is left (grid) or the trial budget is spent (TPE).

    The worker runs the study stored with the revision, not the file. Trials run through
    `study.optimize`, the only path on which Optuna keeps heartbeats (RDB storage), so a dead worker's
    cell is re-queued by `RetryHeartbeatStaleTrialCallback`.
    """
    study, spec = load_revision(study_name, loc, revision)
    if budget_spent(spec, study):
        return
    objective = Objective(spec, StudyTracker(loc.tracking_uri, experiment_id), parent, worker, progress)
    # The collection after each trial frees a finished trial's model; freezing what imports made
    # (~0.5M objects: torch, transformers, mlflow) first cut it from 0.45 s to 0.01 s per trial.
    gc.collect()
    gc.freeze()
    # A line per finished trial is noise, and a failed trial's traceback is in its MLflow run (error.txt) and
    # its progress line; Optuna's and MLflow's own copies (MLflow logs every database error with its
    # traceback) would bury the one-line errors.
    try:
        with levels(optuna=logging.ERROR, mlflow=logging.CRITICAL):
            study.optimize(objective, catch=(Exception,), gc_after_trial=True,
                           callbacks=[lambda st, _: budget_spent(spec, st) and st.stop()])
    except Exception as failure:  # the trial's own failure is recorded by the objective; this is the store's
        err = store_cause(failure)
        if err is None:
            raise
        message = f"worker w{worker}: the study's records could not be written: {type(err).__name__}: {err}"
        sidelog.write(sidelog_path(loc, study_name), message)
        message += (". Free space or make the store writable, then run again: finished cells are kept, and "
                    "the cell that was running is queued again")
        if mp.parent_process() is None:
            raise StoreError(message) from None
        print(f"salt-harness run: error: {message}", file=sys.stderr, flush=True)
        sys.exit(1)
    finally:
        gc.unfreeze()


def recover_orphans(study: optuna.Study, tracker: StudyTracker, study_name: str,
                    reason: Callable[[Owner], str]) -> int:
    """Trials left RUNNING by a dead local process become FAIL, with the reason as a user attr (their
    cells are queued again by `enqueue_missing`); the study's runs left RUNNING by dead owners end KILLED
    with the reason."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = Owner.from_strings(t.user_attrs)
        if not owner.alive(t.datetime_start):
            study._storage.set_trial_user_attr(t._trial_id, "fail_reason", reason(owner))  # noqa: SLF001
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001 (no public API)
            n += 1
    tracker.end_stale_runs(study_name, reason)
    return n


def enqueue_missing(spec: StudySpec, study: optuna.Study, loc: Locations) -> int:
    """Enqueue each grid cell that is neither complete nor queued nor running (failed ones again), with
    its params, longest cells first."""
    busy = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    n = 0
    with storage_lock(loc):
        trials = cell_trials(study)
        for cell in sorted(spec.cells(), key=expected_cost, reverse=True):
            if not any(t.state in busy for t in trials.get(cell.id, [])):
                study.enqueue_trial(cell.params(), user_attrs={"cell": cell.id, "arm": cell.arm, "seed": cell.seed},
                                    skip_if_exists=False)
                n += 1
    return n


def expected_cost(cell: Cell) -> float:
    """Longest cells first, so no worker is left alone with a long cell at the end (LPT scheduling)."""
    from salt.arms import get_arm

    if not get_arm(cell.arm).uses("augment.samples_per_lang"):
        return 0.0
    samples = cell.value("augment.samples_per_lang", 0)
    return float("inf") if samples is None else 1.0 + samples


def _has_failed_cells(study: optuna.Study) -> bool:
    """A worker re-queues cells only when their last trial failed (e.g. an orphan it just recovered)."""
    return any(ts and all(t.state == TrialState.FAIL for t in ts) for ts in cell_trials(study).values())


def budget_spent(spec: StudySpec, study: optuna.Study) -> bool:
    with warnings.catch_warnings():  # fail_stale_trials is marked experimental
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)  # re-queues dead workers' cells (RDB heartbeats)
    if spec.sampler.type == "grid":
        return not study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    counted = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL)
    return len(study.get_trials(deepcopy=False, states=counted)) >= spec.sampler.n_trials
