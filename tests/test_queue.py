"""Which queued cell a worker takes (harness.queue): queue order, except that while one worker makes the study's
proposals the others take the cells that need none. Through Optuna's own `Study.ask`, on a journal store."""
import optuna
import pytest

from harness.queue import PROPOSALS_READY, ProposalsMade, serve
from harness.scheduler import enqueue_missing
from harness.storage import create_revision, load_revision, locate
from harness.study import load_study

STUDY = {
    "name": "queue", "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
    "languages": {"source": "en", "targets": ["fr", "de"]},
    "arms": ["baseline", "salt", "equal-steps"],
    "axes": {"augment.samples_per_lang": [20, 60]},
    "seeds": [0, 1],
}  # 2 baseline + 4 salt + 4 equal-steps cells


@pytest.fixture()
def queued(write_study):
    spec = load_study(write_study(STUDY))
    loc = locate(spec)
    enqueue_missing(spec, create_revision(spec, loc), loc)
    return spec, loc


def worker(spec, loc, served=True) -> optuna.Study:
    """The revision's study as a worker process opens it."""
    study, stored = load_revision(spec.name, loc, spec.revision)
    if served:
        serve(study, stored, loc)
    return study


def arm_of(trial) -> str:
    return trial.user_attrs["cell"].split(".", 1)[0]


def test_while_one_worker_makes_the_proposals_the_others_take_the_cells_that_need_none(queued):
    spec, loc = queued
    w0, w1 = worker(spec, loc), worker(spec, loc)
    first = w0.ask()
    assert first.user_attrs["cell"].startswith("salt.samples_per_lang=60.")  # the queue's first: longest first
    # w0 is making the proposals: w1 takes both baselines, then (none left) the next augmenting cell and waits
    assert [arm_of(w1.ask()) for _ in range(3)] == ["baseline", "baseline", "salt"]
    assert [arm_of(t) for t in w1.get_trials(states=(optuna.trial.TrialState.RUNNING,))].count("salt") == 2


def test_once_the_proposals_are_made_the_queue_order_holds(queued):
    spec, loc = queued
    w0, w1 = worker(spec, loc), worker(spec, loc)
    first = w0.ask()
    ProposalsMade(first).on_augmented(None)  # what its run's callback does once augmentation is done
    assert first.study.get_trials()[first.number].user_attrs[PROPOSALS_READY] is True
    taken = [w1.ask().user_attrs["cell"] for _ in range(3)]
    assert [c.rsplit(".", 2)[0] for c in taken] == ["salt.samples_per_lang=60", "equal-steps.samples_per_lang=60",
                                                 "equal-steps.samples_per_lang=60"]


def test_without_it_optuna_hands_out_the_queue_in_order(queued):
    """The control: plain Optuna gives the second worker the next augmenting cell, which would wait on the lock."""
    spec, loc = queued
    w0, w1 = worker(spec, loc, served=False), worker(spec, loc, served=False)
    w0.ask()
    assert arm_of(w1.ask()) != "baseline"


def test_a_failed_proposal_maker_leaves_the_queue_order(queued):
    spec, loc = queued
    w0, w1 = worker(spec, loc), worker(spec, loc)
    first = w0.ask()
    w0.tell(first, state=optuna.trial.TrialState.FAIL)  # no trial is making them now
    assert arm_of(w1.ask()) != "baseline"
