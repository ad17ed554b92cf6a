"""A study revision's cells by state and arm, from its Optuna trials (what `run` and `status` print)."""
from __future__ import annotations

import optuna
from optuna.trial import TrialState

from harness.study import StudySpec


def cell_trials(study: optuna.Study) -> dict[str, list[optuna.trial.FrozenTrial]]:
    """Cell id -> its trials (a cell is retried after a failure, so it can have several)."""
    out: dict[str, list] = {}
    for t in study.get_trials(deepcopy=False):
        if "cell" in t.user_attrs:
            out.setdefault(t.user_attrs["cell"], []).append(t)
    return out


def summarize(spec: StudySpec, study: optuna.Study) -> dict:
    """Cells by state and arm: a cell is COMPLETE if any of its trials is, else its latest trial's state."""
    trials = cell_trials(study)
    if spec.sampler.type == "grid":  # under sequential seeds: the first round and every cell a round added
        first = {c.id for c in spec.first_round()}
        expected = [(c.id, c.arm) for c in spec.cells() if c.id in first or c.id in trials]
    else:
        expected = [(cid, ts[0].user_attrs.get("arm", spec.sampler.arm)) for cid, ts in trials.items()]
    by_arm: dict[str, dict[str, int]] = {arm: {} for arm in spec.arms}
    values: dict[str, list[float]] = {}
    complete = 0
    for cid, arm in expected:
        ts = trials.get(cid, [])
        done = [t for t in ts if t.state == TrialState.COMPLETE]
        state = "COMPLETE" if done else (max(ts, key=lambda t: t.number).state.name if ts else "MISSING")
        by_arm.setdefault(arm, {}).setdefault(state, 0)
        by_arm[arm][state] += 1
        if done:
            complete += 1
            values.setdefault(arm, []).append(done[0].value)
    return {"study": spec.name, "revision": spec.revision, "cells": len(expected), "complete": complete,
            "by_arm": {a: s for a, s in by_arm.items() if s}, "objective": spec.sampler.objective,
            "mean_objective": {a: sum(v) / len(v) for a, v in values.items()}}


def format_summary(summary: dict) -> str:
    lines = [f"study {summary['study']} (revision {summary['revision']}): "
             f"{summary['complete']}/{summary['cells']} cells complete"]
    for arm, states in summary["by_arm"].items():
        counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
        mean = summary["mean_objective"].get(arm)
        lines.append(f"  {arm:22s} {counts}" + (f"   mean {summary['objective']} {mean:.3f}" if mean is not None else ""))
    if "wall_seconds" in summary:
        lines.append(f"  wall time {summary['wall_seconds']:.0f} s")
    return "\n".join(lines)
