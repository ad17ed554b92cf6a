"""One Optuna trial = one cell: its params -> the cell -> an MLflow child run -> salt.run -> the objective.

Grid trials are enqueued with their cell's params; the objective suggests the same params back (so
Optuna records them and optuna-dashboard can plot them) and checks they name the enqueued cell. TPE
trials suggest within the declared space for one arm, seeds in rotation.
"""
from __future__ import annotations

import traceback

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from harness.liveness import Owner
from harness.progress import ProgressLine, study_line
from harness.queue import ProposalsMade
from harness.records import Cell
from harness.signals import release
from harness.study import StudySpec
from harness.tracking.runs import StudyTracker
from harness.tracking.tags import CONTAMINATED, TRIAL, device_tags
from salt.config import contaminated


def distributions(spec: StudySpec, arm: str) -> dict[str, optuna.distributions.BaseDistribution]:
    """The Optuna search space of `arm`'s cells: arm, each axis it uses, and (grid) the seed."""
    arms = list(spec.arms) if spec.sampler.type == "grid" else [spec.sampler.arm]
    out: dict[str, optuna.distributions.BaseDistribution] = {"arm": CategoricalDistribution(arms)}
    for key in spec.axes_of(arm):
        space = spec.axes[key]
        if not isinstance(space, dict):
            out[key] = CategoricalDistribution(space)
        elif isinstance(space["low"], int) and isinstance(space["high"], int):
            out[key] = IntDistribution(space["low"], space["high"], log=bool(space.get("log", False)),
                                       step=space.get("step", 1))
        else:
            out[key] = FloatDistribution(float(space["low"]), float(space["high"]), log=bool(space.get("log", False)),
                                         step=space.get("step"))
    if spec.sampler.type == "grid":
        out["seed"] = CategoricalDistribution(list(spec.seeds))
    return out


def _suggest(trial: optuna.Trial, name: str, dist) -> object:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def grid_cell(spec: StudySpec, trial: optuna.Trial) -> Cell | None:
    """The enqueued cell, read from the trial's params (None: a surplus trial from a race at the end)."""
    enqueued = trial.user_attrs.get("cell")
    if enqueued is None:
        return None
    arm = trial.suggest_categorical("arm", list(spec.arms))
    space = distributions(spec, arm)
    settings = [(key, _suggest(trial, key, space[key])) for key in spec.axes_of(arm)]
    cell = spec.cell(arm, settings, _suggest(trial, "seed", space["seed"]))
    if cell.id != enqueued:
        raise RuntimeError(f"trial {trial.number} was enqueued for cell {enqueued} but its params give {cell.id}: "
                           "the Optuna study was edited by hand or by another version of salt-harness")
    return cell


def tpe_cell(spec: StudySpec, trial: optuna.Trial) -> Cell:
    """A TPE trial tunes the declared space of `sampler.arm`; seeds rotate so each is used equally."""
    arm = trial.suggest_categorical("arm", [spec.sampler.arm])
    space = distributions(spec, arm)
    settings = [(key, _suggest(trial, key, space[key])) for key in spec.axes_of(arm)]
    cell = spec.cell(arm, settings, spec.seeds[trial.number % len(spec.seeds)])
    for key, value in (("cell", cell.id), ("arm", cell.arm), ("seed", cell.seed)):
        trial.set_user_attr(key, value)
    return cell


def renderer(cfg):
    """Token strings for the augmented-examples artifact (the tokenizer is cached on disk, so cheap)."""
    from salt.models import load_tokenizer
    from salt.run import cache_root

    tokenizer = load_tokenizer(cfg.model, str(cache_root(cfg)))
    return lambda ids: tokenizer.convert_ids_to_tokens([int(i) for i in ids])


class Objective:
    """Config -> MLflow child run -> salt.run -> metrics; a recorded run of the same cell is reused;
    failures end the run FAILED (or KILLED on Ctrl-C) with the error."""

    def __init__(self, spec: StudySpec, tracker: StudyTracker, parent: str, worker: int, progress: bool,
                 workers: int = 1):
        self.spec, self.tracker, self.parent, self.worker, self.progress = spec, tracker, parent, worker, progress
        self.workers = workers  # several workers share a terminal: lines, never a line redrawn in place

    def __call__(self, trial: optuna.Trial) -> float:
        from salt.devices import describe_device
        from salt.models import pick_device
        from salt.run import describe_shortfalls, run

        spec, tracker = self.spec, self.tracker
        objective = spec.sampler.objective
        try:
            release()  # a stop that came while Optuna handed this trial over (harness.signals.holding)
        except KeyboardInterrupt as stop:
            self._requeue(trial, grid_cell(spec, trial) if spec.sampler.type == "grid" else None, stop)
            raise
        for key, value in {**Owner.current().as_strings(), "worker": str(self.worker)}.items():
            trial.set_user_attr(key, value)  # first: an ownerless RUNNING trial reads as abandoned
        stale_run = trial.user_attrs.get("mlflow_run_id")  # set when this trial re-queues a dead worker's cell
        if stale_run:
            tracker.fail_trial(stale_run, "the worker stopped sending heartbeats; the cell was re-queued",
                               status="KILLED")
        cell = grid_cell(spec, trial) if spec.sampler.type == "grid" else tpe_cell(spec, trial)
        if cell is None:
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned("no cell left")
        recorded = tracker.reader.finished_run(spec.name, cell.id, objective)
        if recorded is not None:
            tracker.add_to_revision(recorded.run_id, spec.revision)
            trial.set_user_attr("reused_run", recorded.run_id)
            return float(recorded.metrics[objective])
        cfg = spec.config(cell)
        tags = {**cell.tags(), TRIAL: str(trial.number), "salt.worker": str(self.worker),
                **device_tags(describe_device(pick_device(cfg.train.device)))}
        if contaminated(cfg):
            tags[CONTAMINATED] = "true"
        run_id = tracker.start_trial(self.parent, cell.label, cell.run_params(cfg), tags, revision=spec.revision)
        trial.set_user_attr("mlflow_run_id", run_id)
        if self.progress:
            study_line(trial.study, spec, self.worker)
        line = ProgressLine(self.worker, trial.number, cell.label, enabled=self.progress, redraw=self.workers == 1)
        try:
            result = run(cfg, callbacks=[line, ProposalsMade(trial)])
            value = result.metrics.get(objective)
            if value is None:
                raise KeyError(f"objective {objective!r} is not among the run's metrics "
                               f"({', '.join(sorted(result.metrics))})")
            tracker.log_result(run_id, result, render=renderer(cfg))
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (harness.signals): Optuna ends the trial FAIL
            reason = self._requeue(trial, cell if spec.sampler.type == "grid" else None, stop)
            tracker.fail_trial(run_id, reason, status="KILLED")
            line.close(reason)
            raise
        except Exception as err:  # any failure ends this trial as FAILED; optimize() goes on
            line.fail(f"{type(err).__name__}: {err}")
            trial.set_user_attr("fail_reason", f"{type(err).__name__}: {err}"[:1000])
            tracker.fail_trial(run_id, f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
            raise
        if result.degenerate:
            trial.set_user_attr("degenerate", describe_shortfalls(result.degenerate)[:1000])
            line.warn(f"degenerate cell: {describe_shortfalls(result.degenerate)}")
        line.close(f"{objective} {value:.3f}")
        return value

    @staticmethod
    def _requeue(trial: optuna.Trial, cell: Cell | None, stop: KeyboardInterrupt) -> str:
        """A stopped trial's cell (grid) is queued again while the trial is RUNNING, so no other process queues it
        too; the reason, which Optuna's FAIL does not keep, goes to the trial."""
        if cell is not None:
            cell.enqueue(trial.study)
        reason = f"interrupted ({stop or 'KeyboardInterrupt'}); the cell was queued again"
        trial.set_user_attr("fail_reason", reason)
        return reason
