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
import os
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import TrialState

from harness import sidelog
from harness.gpus import WorkerPlan, child_environment
from harness.liveness import Owner
from harness.logs import levels, quiet
from harness.objective import Objective
from harness.queue import expected_cost, serve
from harness.records import Cell
from harness.signals import holding, stop_on_signals
from harness.storage import (STORE_FIX, Locations, StoreError, create_revision, load_revision, locate, open_storage,
                             revisions, shared_lock, storage_lock, store_cause, store_failure)
from harness.study import StudySpec, describe_changes
from harness.summary import cell_trials, summarize
from harness.text import count
from harness.tracking.runs import StudyTracker
from harness.tracking.store import prepare_store


def run_study(spec: StudySpec, workers: int | WorkerPlan = 1, storage: str | None = None, tracking_uri: str | None = None,
              progress: bool = True, create: bool = True, revision: str | None = None,
              say: Callable[[str], None] | None = None) -> dict:
    """Create (or resume) the study's revision and work it with `workers` local processes; returns the summary.

    `workers` is a plan pinning each worker to its GPUs (harness.gpus, what `run` and `worker` pass) or a count
    of processes that inherit this one's devices.

    `create=False` is a worker joining a revision that `run` created (from any machine): it runs the
    stored study (`revision`, default the latest), never the file, and enqueues nothing, so several
    machines never queue a cell twice.
    """
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    plan = workers if isinstance(workers, WorkerPlan) else WorkerPlan.unpinned(workers)
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
    from salt.metrics import AVG_TARGETS, accuracy_metric

    headline = [spec.sampler.objective, accuracy_metric("test", AVG_TARGETS)]
    tracker.describe_experiment(spec.description)
    tracker.save_view(list(spec.axes), list(dict.fromkeys(headline)), group_axes=spec.sampler.type == "grid")
    parent = tracker.parent_run(spec.name, spec.revision, spec.to_dict(), spec.path, spec.description,
                                lock=shared_lock(loc, "parent"))
    if create:
        tracker.claim_parent(parent)

    try:
        summary = _work_revision(spec, study, loc, tracker, parent, experiment_id, plan, progress, create, say)
        from harness.report.summary import summary_metrics

        tracker.log_summary(parent, summary_metrics(tracker.reader.trial_runs(spec.name, revision=spec.revision),
                                                    headline))
    except BaseException as stop:  # noqa: BLE001 (re-raised): the parent run never stays RUNNING after a failure
        end_parent_after(stop, study, tracker, spec.name, parent, lone_worker=not create)
        err = None if isinstance(stop, (StoreError, KeyboardInterrupt)) else store_cause(stop)
        if err is None:
            raise
        message = f"the study's records could not be written: {store_failure(err)}"  # e.g. the summary, disk full
        sidelog.write(sidelog_path(loc, spec.name), message)
        raise StoreError(f"{message}. {STORE_FIX}") from None
    bad = {s: n for states in summary["by_arm"].values() for s, n in states.items() if s not in ("COMPLETE", "RUNNING")}
    if summary["complete"] == summary["cells"]:
        tracker.finish_parent(parent)
    elif bad and not any("RUNNING" in states for states in summary["by_arm"].values()):
        left = ", ".join(f"{count(n, 'cell')} {s.lower()}" for s, n in sorted(bad.items()))
        tracker.finish_parent(parent, "FAILED", f"{summary['complete']}/{summary['cells']} cells complete ({left}): "
                                                "run the study again to complete the rest")
    return summary


def _work_revision(spec: StudySpec, study: optuna.Study, loc: Locations, tracker: StudyTracker, parent: str,
                   experiment_id: str, plan: WorkerPlan, progress: bool, create: bool,
                   say: Callable[[str], None]) -> dict:
    """Reconcile what the last run left, queue the missing cells, work them; the revision's summary."""
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
    if plan.describe():
        say(f"[study] {plan.describe()}")
    _work_round(args, plan, progress, side, ended, say)
    while create and spec.rounds is not None and not ended:  # sequential seeds: the undecided get the next ones
        added = next_round(spec, study, loc)
        if not added:
            break
        say(f"[study] sequential seeds: {count(added, 'cell')} of the next seeds for the comparisons not yet decided")
        _work_round(args, plan, progress, side, ended, say)
    # A local worker that died left its trial and run RUNNING: end them now, with the reason, not at the next run.
    recover_orphans(study, tracker, spec.name, lambda owner: ended.get(owner.pid, "the worker process died"))
    summary = summarize(spec, load_revision(spec.name, loc, spec.revision)[0])
    summary["wall_seconds"] = time.perf_counter() - start
    return summary


def _work_round(args: tuple, plan: WorkerPlan, progress: bool, side: Path, ended: dict[int, str],
                say: Callable[[str], None]) -> None:
    """Work the queued cells with the plan's local processes, each started with its GPUs in its environment
    (harness.gpus.child_environment); `ended` gets those that did not end well."""
    if plan.in_process():
        work(*args, 0, progress)
        return
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=work, args=(*args, i, progress, plan.workers), daemon=False)
             for i in range(plan.workers)]
    for i, p in enumerate(procs):
        with child_environment(plan.env(i)):
            p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:  # this process was stopped (Ctrl-C, SIGTERM): so are its workers
        stop_workers(procs)
        raise
    for i, p in enumerate(procs):
        if p.exitcode:
            how = f"killed by signal {-p.exitcode}" if p.exitcode < 0 else f"exited with code {p.exitcode}"
            ended[p.pid] = f"worker w{i} (pid {p.pid}) {how}" + (f": {sidelog.read(side)}" if p.exitcode > 0 else "")
            say(ended[p.pid])


def next_round(spec: StudySpec, study: optuna.Study, loc: Locations) -> int:
    """Under sequential seeds: the rule's decisions on the finished runs, and the cells of the next seeds of every
    comparison not yet decided, queued; how many were queued (0: every comparison is decided, or at max)."""
    from harness.report.build import study_report
    from harness.report.collect import without_draw
    from harness.report.sequential import next_seeds
    from harness.records import setting_label

    report = study_report(spec, loc.tracking_uri)
    need = next_seeds(report, spec.rounds.design(), spec.seeds)
    cells = [c for c in spec.cells() if c.seed in need.get((c.arm, setting_label(without_draw(c.settings))), ())]
    return enqueue_missing(spec, study, loc, cells) if cells else 0


def stop_workers(procs: list, grace: float = 60.0) -> None:
    """SIGTERM each live worker (each ends its cell KILLED and queues it again), wait up to `grace` seconds
    for all of them, then SIGKILL what is left (the caller reconciles those)."""
    for p in procs:
        if p.is_alive():
            os.kill(p.pid, signal.SIGTERM)  # one that got the terminal's Ctrl-C already ignores it
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(timeout=max(deadline - time.monotonic(), 0))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(timeout=10)


def _owner_alive(tracker: StudyTracker, parent: str, me: Owner) -> bool:
    """Whether the `run` that owns the parent still works the study: between two of its cells it has no RUNNING
    trial, so the trial states alone would let a stopped `worker` end the parent under it."""
    owner = tracker.parent_owner(parent)
    return owner.pid is not None and owner != me and owner.alive()


def end_parent_after(stop: BaseException, study: optuna.Study, tracker: StudyTracker, study_name: str,
                     parent: str, lone_worker: bool = False) -> None:
    """After `run` failed or was stopped: end what this process left RUNNING (its trials FAIL, its runs KILLED,
    with the reason) and the parent run KILLED (a stop) or FAILED, with the reason. A `worker` joining from
    another shell or machine leaves the parent RUNNING while the `run` that owns it lives or other workers
    still train cells (the last one to finish ends it). A store too broken to take these writes keeps the
    original error, which the caller re-raises."""
    stopped = isinstance(stop, KeyboardInterrupt)
    reason = (f"interrupted ({stop or 'KeyboardInterrupt'})" if stopped
              else f"{type(stop).__name__}: {str(stop).strip()[:2000]}")
    me = Owner.current()
    try:
        recover_orphans(study, tracker, study_name, lambda owner: reason,
                        dead=lambda owner, started=None: owner == me or not owner.alive(started))
        if lone_worker and (_owner_alive(tracker, parent, me) or
                            any(t.state == TrialState.RUNNING for t in study.get_trials(deepcopy=False))):
            return
        tracker.finish_parent(parent, "KILLED" if stopped else "FAILED", reason)
    except Exception:  # noqa: BLE001
        pass


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
    counts = (f"{len(cells) - same} of its {count(len(cells), 'cell')} {'is' if len(cells) - same == 1 else 'are'} "
              f"new and {same} {'is' if same == 1 else 'are'} the same as in earlier revisions (their finished runs are "
              "reused)" if spec.sampler.type == "grid" else "its TPE trials start afresh")
    return (f"study {spec.name!r} changed since revision {last.revision} ({last.created}): {'; '.join(changes)}. "
            f"This is revision {spec.revision}: {counts}. The runs of revision {last.revision} stay in the store "
            f"and are not shown as this revision's: see them with `salt-harness status {where} --revision "
            f"{last.revision}` and `salt-harness report {where} --revision {last.revision}`.")


def work(loc: Locations, study_name: str, revision: str, parent: str, experiment_id: str, worker: int,
         progress: bool, workers: int = 1) -> None:
    """One worker: pop cells until none is left (grid) or the trial budget is spent (TPE).

    The worker runs the study stored with the revision, not the file. Trials run through
    `study.optimize`, the only path on which Optuna keeps heartbeats (RDB storage), so a dead worker's
    cell is re-queued by `RetryHeartbeatStaleTrialCallback`. A worker process stopped by SIGINT or SIGTERM
    ends its cell (run KILLED, trial FAIL, the cell queued again for the other workers), then dies of the
    signal, so `run` reports how it ended.
    """
    if mp.parent_process() is None:
        return _work(loc, study_name, revision, parent, experiment_id, worker, progress, workers)
    try:
        with quiet(), stop_on_signals():
            _work(loc, study_name, revision, parent, experiment_id, worker, progress, workers)
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _work(loc: Locations, study_name: str, revision: str, parent: str, experiment_id: str, worker: int,
          progress: bool, workers: int) -> None:
    study, spec = load_revision(study_name, loc, revision)
    if budget_spent(spec, study):
        return
    study.ask = holding(study.ask)  # a stop while Optuna hands a trial over waits for the objective (signals)
    serve(study, spec, loc)  # which queued cell it hands over (harness.queue)
    objective = Objective(spec, StudyTracker(loc.tracking_uri, experiment_id), parent, worker, progress, workers)
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
        message = f"worker w{worker}: the study's records could not be written: {store_failure(err)}"
        sidelog.write(sidelog_path(loc, study_name), message)
        message += f". {STORE_FIX}"
        if mp.parent_process() is None:
            raise StoreError(message) from None
        print(f"salt-harness run: error: {message}", file=sys.stderr, flush=True)
        sys.exit(1)
    finally:
        gc.unfreeze()


def recover_orphans(study: optuna.Study, tracker: StudyTracker, study_name: str,
                    reason: Callable[[Owner], str], dead: Callable[..., bool] | None = None) -> int:
    """Trials left RUNNING by a dead local process become FAIL, with the reason as a user attr (their
    cells are queued again by `enqueue_missing`); the study's runs left RUNNING by dead owners end KILLED
    with the reason."""
    dead = dead or (lambda owner, started=None: not owner.alive(started))
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = Owner.from_strings(t.user_attrs)
        if dead(owner, t.datetime_start):
            study._storage.set_trial_user_attr(t._trial_id, "fail_reason", reason(owner))  # noqa: SLF001
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001 (no public API)
            n += 1
    tracker.end_stale_runs(study_name, reason, is_alive=lambda owner: not dead(owner))
    return n


def enqueue_missing(spec: StudySpec, study: optuna.Study, loc: Locations, cells: list[Cell] | None = None) -> int:
    """Enqueue each grid cell (of `cells`; default the study's first round and every cell queued before) that is
    neither complete nor queued nor running (failed ones again), with its params, longest cells first."""
    busy = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    n = 0
    with storage_lock(loc):
        trials = cell_trials(study)
        if cells is None:
            first = {c.id for c in spec.first_round()}
            cells = [c for c in spec.cells() if c.id in first or c.id in trials]
        for cell in sorted(cells, key=expected_cost, reverse=True):
            if not any(t.state in busy for t in trials.get(cell.id, [])):
                cell.enqueue(study)
                n += 1
    return n


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
