"""Which queued cell a worker takes next.

Cells are queued longest first (`expected_cost`: LPT, so no worker is left alone with a long cell at the end)
and taken in that order, with one exception. The first augmenting cell makes the study's MLM proposals (at
XNLI size, the MLM's forward pass over 392,702 pairs) under a file lock that every other
augmenting cell waits on. Until a trial has made them, a worker takes a queued cell that needs none (a
baseline) before the augmenting ones, instead of waiting idle on the lock; with none queued it takes the next
cell as usual. A study whose cells make several sets of proposals (axes over the model, `augment.top_k`, the
vocabularies) is served the same way: a cell that waits, waits as it would have.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from harness.records import Cell
from harness.storage import Locations, shared_lock
from harness.study import StudySpec
from salt.train import Callback

PROPOSALS_READY = "proposals_ready"  # trial user attr: its run's proposals are made (or were found made)


def expected_cost(cell: Cell) -> float:
    """Queue order, longest cells first."""
    from salt.arms import get_arm

    if not get_arm(cell.arm).uses("augment.samples_per_lang"):
        return 0.0
    samples = cell.value("augment.samples_per_lang", 0)
    return float("inf") if samples is None else 1.0 + samples


def proposals_pending(trials: list[FrozenTrial], needs: Callable[[FrozenTrial], bool]) -> bool:
    """Whether a running trial is making the proposals that no trial has made yet."""
    if any(t.user_attrs.get(PROPOSALS_READY) for t in trials):
        return False
    return any(t.state == TrialState.RUNNING and needs(t) for t in trials)


def take_next(study: optuna.Study, needs: Callable[[FrozenTrial], bool], lock=None) -> int | None:
    """Claim a waiting trial (the queue's first, or the first needing no proposals while they are being made);
    its id, or None when none waits. The choice and the claim are made under `lock` (the study's shared lock,
    where the storage has one), so two workers starting together do not both take augmenting cells."""
    with lock or nullcontext():
        trials = study.get_trials(deepcopy=False)
        waiting = [t for t in trials if t.state == TrialState.WAITING]
        if proposals_pending(trials, needs):
            waiting.sort(key=needs)  # stable: the cells needing none first, each group in queue order
        for t in waiting:
            try:  # False (or the error): another worker claimed it first
                if study._storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):  # noqa: SLF001
                    return t._trial_id  # noqa: SLF001
            except UpdateFinishedTrialError:
                continue
    return None


def serve(study: optuna.Study, spec: StudySpec, loc: Locations) -> None:
    """Make `study.ask` (what `study.optimize` calls) take its trials through `take_next`. Optuna has no public
    hook for the choice of a queued trial: its own (`Study._pop_waiting_trial_id`, the first WAITING trial) is
    replaced on this instance; tests/test_queue.py fails if Optuna stops calling it."""
    by_id = {c.id: c for c in spec.cells()} if spec.sampler.type == "grid" else {}
    memo: dict[str, bool] = {}

    def needs(t: FrozenTrial) -> bool:
        from salt.run import needs_proposals

        cell = by_id.get(t.user_attrs.get("cell"))
        if cell is None:
            return False
        if cell.id not in memo:
            memo[cell.id] = needs_proposals(spec.config(cell))
        return memo[cell.id]

    study._pop_waiting_trial_id = lambda: take_next(study, needs, shared_lock(loc, "pop"))  # noqa: SLF001


class ProposalsMade(Callback):
    """Marks the trial once its run's proposals are made, so waiting augmenting cells are taken again."""

    def __init__(self, trial: optuna.Trial):
        self.trial = trial

    def on_augmented(self, result) -> None:
        self.trial.set_user_attr(PROPOSALS_READY, True)
