"""The harness's own cost per trial (Optuna, MLflow, artifacts), with the trainer taken out.

A grid study runs in-process with `salt.run.run` replaced by a function that returns, instantly, one
realistic RunResult: made once by a real short run of the demo's SALT cell (full eval sets, so the
predictions frame, augmentation sample and stats have the demo's sizes) with its curves stretched to
those of a 3-epoch demo run. So every MLflow write (params, metrics, curves, predictions parquet,
augmented sample, stats) is real; only training is gone.

New studies of 1 and N cells in one store give the marginal cost of a trial (the slope) apart from a
study's one-off set-up (experiment, parent run, study file artifact); a first study creates the store.
"""
from __future__ import annotations

import cProfile
import gc
import inspect
import json
import os
import math
import pstats
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from benchmarks.common import Figure, main

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "studies" / "demo.yaml"
LATEST = ROOT / "benchmarks" / "results" / "latest.json"
THREADS = 1


def demo_cell(arm: str):
    """The demo spec and its first-seed cell of `arm` with the most augmented examples (the most to log)."""
    from harness.study import load_study

    spec = load_study(DEMO)
    cells = [c for c in spec.cells() if c.arm == arm and c.seed == spec.seeds[0]]
    return spec, max(cells, key=lambda c: c.value("augment.samples_per_lang") or 0)


def realistic_result():
    """A SALT cell of the demo run for a few steps only, then given a 3-epoch demo run's curves."""
    from salt.run import run

    spec, cell = demo_cell("salt")
    cfg = spec.config(cell)
    short = replace(cfg, train=replace(cfg.train, epochs=0.01))  # a few steps; data, augmentation, eval in full
    start = time.perf_counter()
    result = run(short)
    seconds = time.perf_counter() - start
    tr = result.train
    steps_per_epoch = math.ceil((tr.n_source + tr.n_augmented) / (cfg.train.batch_size * cfg.train.grad_accum))
    total = math.ceil(steps_per_epoch * cfg.train.epochs)
    logged = [p for p in tr.curves if "loss" in p][0]
    evaluated = [p for p in tr.curves if "selection_acc" in p][0]
    curves = []
    for step in range(1, total + 1):
        if step % cfg.train.log_every == 0 or step == total:
            curves.append({**logged, "step": step, "epoch": step / steps_per_epoch})
        if step % steps_per_epoch == 0 or step == total:
            curves.append({**evaluated, "step": step})
    result = replace(result, config=cfg, train=replace(tr, curves=curves, steps=total, best_step=total))
    return result, seconds


def write_study(folder: Path, name: str, seeds: int) -> Path:
    """The demo study cut to one SALT arm and one sample count, `seeds` cells, its store in `folder`/store."""
    raw = yaml.safe_load(DEMO.read_text())
    _, cell = demo_cell("salt")
    raw.update(name=name, arms=["salt"], axes={k: [v] for k, v in cell.settings}, seeds=seeds,
               output={"dir": str(folder / "store")})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def time_study(folder: Path, name: str, seeds: int, profile: cProfile.Profile | None = None) -> dict:
    """Create and run a new `seeds`-cell study in the store under `folder`; wall time and per-trial times.

    Studies share one store, as a worker's trials do: each new SQLite store would leave some 50k
    objects cached in MLflow, and every later full `gc.collect()` would pay for them.
    """
    from harness.scheduler import run_study
    from harness.storage import load_revision, locate
    from harness.study import load_study

    spec = load_study(write_study(folder, name, seeds))
    start = time.perf_counter()
    if profile:
        summary = profile.runcall(run_study, spec, workers=1, progress=False)
    else:
        summary = run_study(spec, workers=1, progress=False)
    wall = time.perf_counter() - start
    if summary["complete"] != seeds:
        raise RuntimeError(f"only {summary['complete']} of {seeds} cells completed: {summary}")
    trials = load_revision(spec.name, locate(spec), spec.revision)[0].get_trials(deepcopy=False)
    objective = [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials]
    return {"wall_s": wall, "trials": seeds, "median_objective_s": statistics.median(objective)}


def breakdown(prof: cProfile.Profile, trials: int) -> dict[str, float]:
    """Seconds per trial by part (cProfile inclusive times); `a.b` lies within `a`."""
    import optuna
    from mlflow import MlflowClient

    import harness.objective as O
    import harness.scheduler as S
    from harness.tracking import readback, results, runs

    parts = {
        "objective": O.Objective.__call__,
        "objective.finished_run": readback.Reader.finished_run,
        "objective.start_trial": runs.StudyTracker.start_trial,
        "objective.set_user_attr": optuna.trial.Trial.set_user_attr,
        "objective.renderer": O.renderer,  # the tokenizer load
        "objective.log_result": runs.StudyTracker.log_result,
        "objective.log_result.log_batch": MlflowClient.log_batch,  # metrics and curves
        "objective.log_result.write_artifacts": results.write_artifacts,  # predictions parquet, sample, stats
        "objective.log_result.log_artifacts": MlflowClient.log_artifacts,  # copy into the artifact store
        "objective.log_result.set_terminated": MlflowClient.set_terminated,
        "budget_spent": S.budget_spent,
        "optuna_tell": optuna.study._tell._tell_with_warning,
        "enqueue_missing": S.enqueue_missing,
    }
    stats = pstats.Stats(prof).stats

    def seconds(f):
        code = inspect.unwrap(f).__code__
        return stats.get((code.co_filename, code.co_firstlineno, code.co_name), (0, 0, 0, 0.0))[3]

    out = {name: seconds(f) / trials for name, f in parts.items()}
    # Optuna's gc_after_trial: a full collection after every trial
    out["gc_collect"] = sum(v[3] for k, v in stats.items() if k[2] == "<built-in method gc.collect>") / trials
    return {k: round(v, 4) for k, v in out.items()}


def reference_trial(quick: bool) -> tuple[float, str]:
    """A real demo trial's seconds: the demo benchmark's median trial if recorded, else one measured here."""
    source = Path(os.environ.get("SALT_BENCH_SO_FAR") or LATEST)  # this run's demo figure, else the last run's
    if source.is_file():
        record = json.loads(source.read_text())
        for fig in record.get("benchmarks", {}).get("demo", {}).get("figures", []):
            value = fig["detail"].get("median_trial_s")
            if fig["name"] == "demo.cold_wall_time" and value and not record.get("quick"):
                return value, f"the demo benchmark's median trial time ({record.get('date')}, 2 workers)"
    from salt.run import run

    spec, cell = demo_cell("baseline")
    cfg = spec.config(cell)
    what = f"one real demo cell ({cell.label}) measured here"
    if quick:
        cfg = replace(cfg, train=replace(cfg.train, max_train_examples=300, epochs=1))
        what += " (quick: 300 examples, 1 epoch)"
    start = time.perf_counter()
    run(replace(cfg, train=replace(cfg.train, threads=THREADS)))
    return time.perf_counter() - start, what + f", torch threads {THREADS}"


def run(opts: dict) -> list[Figure]:
    import salt.run

    quick = opts["quick"]
    n, repeats = (5, 1) if quick else (20, 2)
    torch.set_num_threads(THREADS)
    ref_s, ref_what = reference_trial(quick)
    result, made_s = realistic_result()
    real_run = salt.run.run
    salt.run.run = lambda cfg, callbacks=(), progress=False: replace(result, config=cfg)
    try:
        with tempfile.TemporaryDirectory(prefix="salt-bench-harness-") as tmp:
            folder = Path(tmp)
            first = time_study(folder, "first", 1)  # creates the store; MLflow's and the tokenizer's first use
            runs = [(time_study(folder, f"one-{r}", 1), time_study(folder, f"many-{r}", n)) for r in range(repeats)]
            prof = cProfile.Profile()
            profiled = time_study(folder, "profiled", n, prof)
    finally:
        salt.run.run = real_run
    per_trial = statistics.median((many["wall_s"] - one["wall_s"]) / (n - 1) for one, many in runs)
    one, many = runs[-1]
    parts = breakdown(prof, n)
    tr, aug = result.train, result.augmentation
    sizes = {"predictions_rows": len(tr.predictions), "curve_points": len(tr.curves),
             "augmented_per_lang": {lang: len(v) for lang, v in aug.examples.items()}}
    top = sorted((k for k in parts if "." not in k), key=parts.get, reverse=True)
    inner = sorted((k for k in parts if k.count(".") == 1), key=parts.get, reverse=True)
    return [
        Figure("harness.per_trial_overhead", "harness cost per trial (trainer faked)", per_trial, "s", 0.5,
               detail={"trials": n, "repeats": repeats, "study_wall_s": many["wall_s"],
                       "study_wall_per_trial_s": many["wall_s"] / n, "one_cell_study_wall_s": one["wall_s"],
                       "setup_s": one["wall_s"] - per_trial,
                       "first_study_wall_s": first["wall_s"], "median_objective_s": many["median_objective_s"],
                       "gc_tracked_objects_at_end": len(gc.get_objects()), "fake_result_made_in_s": made_s, **sizes,
                       "profiled_wall_per_trial_s": profiled["wall_s"] / n,
                       **{f"profile_s_per_trial.{k}": v for k, v in parts.items()}},
               note=f"`run_study(workers=1)` in-process on a {n}-cell grid study (the demo's SALT cell, {n} seeds), "
                    "each a new study (experiment, parent run, journal) in one SQLite store that a first 1-cell "
                    f"study created ({first['wall_s']:.1f} s); `salt.run.run` returns a prebuilt realistic result. "
                    f"Value: (wall of the {n}-cell study - wall of a 1-cell study) / {n - 1}, median of {repeats}; "
                    "set-up is the 1-cell study's wall minus one trial. Per trial (cProfile): "
                    + ", ".join(f"{k} {parts[k]:.3f} s" for k in top) + "; within the objective: "
                    + ", ".join(f"{k.split('.', 1)[1]} {parts[k]:.3f} s" for k in inner) + "."),
        Figure("harness.overhead_share", "harness cost per trial / a real demo trial", 100 * per_trial / ref_s, "%", 2,
               detail={"per_trial_overhead_s": per_trial, "reference_trial_s": ref_s},
               note=f"The reference is {ref_what}."),
    ]


if __name__ == "__main__":
    main(run)
