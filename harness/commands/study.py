"""`salt-harness run | worker | validate | status`: the study commands."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.study import DEFAULT_MAX_CELLS
from harness.text import count


def add_parser(sub) -> None:
    run = sub.add_parser("run", help="run (or resume) a study: Optuna drives the trainer, MLflow records")
    run.add_argument("study", type=Path, help="the study file (studies/*.yaml)")
    add_worker_args(run)
    run.add_argument("--storage", help="Optuna storage URL (default: a journal file in the study's mlruns/)")
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite database in mlruns/)")
    run.add_argument("--smoke", action="store_true",
                     help="end to end on CPU with the synthetic world's tiny model, into a throwaway store")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--max-cells", type=int, default=DEFAULT_MAX_CELLS,
                     help=f"refuse a grid with more cells than this (default {DEFAULT_MAX_CELLS:,})")
    run.set_defaults(func=run_cmd)

    wk = sub.add_parser("worker", help="join a study created by `run` (any machine; shared storage)")
    wk.add_argument("study", type=Path, help="the study file (names the study; workers run the stored revision)")
    wk.add_argument("--storage", required=True, help="the study's Optuna storage URL (e.g. postgresql://...)")
    wk.add_argument("--tracking-uri", required=True, help="the MLflow tracking URI (e.g. http://mlflow-host:5000)")
    wk.add_argument("--revision", help="the revision to work on (default: the latest that `run` created)")
    add_worker_args(wk)
    wk.add_argument("--quiet", action="store_true", help="no progress lines")
    wk.set_defaults(func=worker_cmd)

    val = sub.add_parser("validate", help="check study files, their model and objective; nothing runs or is written")
    val.add_argument("studies", type=Path, nargs="+", help="one or more study files")
    val.add_argument("--max-cells", type=int, default=DEFAULT_MAX_CELLS,
                     help=f"refuse a grid with more cells than this (default {DEFAULT_MAX_CELLS:,})")
    val.add_argument("--cost", action="store_true",
                     help="also print, per cell and in total, training rows, optimizer updates, sentences to propose "
                          "for and device-hours (loads the task's data; trains nothing)")
    val.add_argument("--throughput", type=float, metavar="UPDATES_PER_S",
                     help="with --cost: optimizer updates per second on the machine to run on, for device-hours")
    val.add_argument("--probe", nargs="?", type=int, const=5, metavar="STEPS",
                     help="with --cost: measure the throughput on this device by STEPS real optimizer updates "
                          "(default 5) of the study's model at its batch size and sequence length")
    val.set_defaults(func=validate_cmd)

    st = sub.add_parser("status", help="cells by state, per arm, of the study's current (or a given) revision")
    st.add_argument("study", type=Path, help="the study file")
    st.add_argument("--storage", help="Optuna storage URL (default: the journal file in the study's mlruns/optuna/)")
    st.add_argument("--revision", help="an earlier revision (a prefix of its id): see `status` for the list")
    st.add_argument("--smoke", action="store_true", help="the study's --smoke run")
    st.add_argument("--json", action="store_true", help="the summary as JSON")
    st.set_defaults(func=status_cmd)


def add_worker_args(parser) -> None:
    """`--workers`, `--gpus`, `--workers-per-gpu`: how many local worker processes, each on which GPU (harness.gpus)."""
    parser.add_argument("--workers", type=int, help="local worker processes (default: one per GPU of --gpus, "
                                                    "times --workers-per-gpu; 1 without GPUs)")
    parser.add_argument("--gpus", default="auto",
                        help="the GPUs the workers train on, one each: auto (those this process sees: "
                             "CUDA_VISIBLE_DEVICES, else all), none (CPU), or ids as nvidia-smi and "
                             "CUDA_VISIBLE_DEVICES name them, e.g. 0,1,3")
    parser.add_argument("--workers-per-gpu", type=int, metavar="K",
                        help="let K workers share each GPU (default 1: more workers than GPUs is refused)")


def worker_plan(args):
    from harness.gpus import plan_workers

    return plan_workers(args.gpus, args.workers, args.workers_per_gpu)


def run_cmd(args) -> int:
    from harness.scheduler import run_study
    from harness.study import prepare_spec
    from harness.summary import format_summary

    workers = worker_plan(args)
    spec = prepare_spec(args.study, args.smoke, max_cells=args.max_cells)
    if spec.sampler.type == "grid":
        from harness.cost import study_cost, total_line

        print(total_line(study_cost(spec)), flush=True)
    summary = run_study(spec, workers, args.storage, args.tracking_uri, progress=not args.quiet)
    print(format_summary(summary))
    return exit_code(summary)


def worker_cmd(args) -> int:
    from harness.scheduler import run_study
    from harness.study import prepare_spec
    from harness.summary import format_summary

    workers = worker_plan(args)
    spec = prepare_spec(args.study, check=False)  # names the study; the stored revision is what runs
    summary = run_study(spec, workers, args.storage, args.tracking_uri, progress=not args.quiet, create=False,
                        revision=args.revision)
    print(format_summary(summary))
    return exit_code(summary)


def exit_code(summary: dict) -> int:
    """1 when cells failed, are missing or still wait (a stopped worker queued its cell again); cells still
    running on other workers are not a failure."""
    bad = sum(n for states in summary["by_arm"].values() for s, n in states.items()
              if s in ("FAIL", "MISSING", "WAITING"))
    return 1 if bad else 0


def _cost_flags(args) -> None:
    """--throughput and --probe size --cost's device-hours: one of them, with --cost."""
    from harness.cost import check_throughput

    if not args.cost and (args.throughput is not None or args.probe is not None):
        raise ValueError(f"{'--throughput' if args.throughput is not None else '--probe'} sizes the device-hours "
                         "of --cost: add --cost")
    if args.throughput is not None and args.probe is not None:
        raise ValueError("--throughput and --probe both give the throughput: give one (--probe measures it here, "
                         "--throughput states it for the machine to run on)")
    check_throughput(args.throughput)
    if args.probe is not None and args.probe < 1:
        raise ValueError(f"--probe STEPS must be at least 1 update, got {args.probe}")


def validate_cmd(args) -> int:
    from harness.study import StudyError, prepare_spec

    _cost_flags(args)
    failed = 0
    for path in args.studies:
        try:
            spec = prepare_spec(path, max_cells=args.max_cells)
        except StudyError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        if spec.sampler.type == "grid":
            n = len(spec.cells())
            print(f"{path}: ok: study {spec.name!r} revision {spec.revision}, {count(n, 'cell')} "
                  f"({count(len(spec.arms), 'arm')}, {count(len(spec.axes), 'axis')}, {count(len(spec.seeds), 'seed')}), "
                  f"task {spec.base.task}, model {spec.base.model}")
        else:
            print(f"{path}: ok: study {spec.name!r} revision {spec.revision}, TPE over {count(len(spec.axes), 'axis')}, "
                  f"{count(spec.sampler.n_trials, 'trial')}")
        if args.cost:
            from harness.cost import render_cost, study_cost

            print(render_cost(study_cost(spec, args.throughput, args.probe)))
    return 2 if failed else 0


def status_cmd(args) -> int:
    from harness.storage import find_revision, load_revision, locate, open_storage, revisions
    from harness.study import prepare_spec
    from harness.summary import format_summary, summarize

    spec = prepare_spec(args.study, args.smoke, check=False)
    loc = locate(spec, args.storage)
    if loc.journal is not None and not loc.journal.exists():
        print(f"study {spec.name!r} has not been run yet (no journal at {loc.journal})")
        return 1
    known = revisions(spec.name, open_storage(loc.storage))
    if not known:
        print(f"study {spec.name!r} has not been run yet (storage {loc.storage})")
        return 1
    wanted = find_revision(spec.name, open_storage(loc.storage), args.revision).revision if args.revision \
        else spec.revision
    if wanted not in {r.revision for r in known}:
        print(f"revision {spec.revision} of study {spec.name!r} (the file as it is now) has not been run yet; "
              "earlier revisions: " + ", ".join(f"{r.revision} ({r.created})" for r in known)
              + f". Run it, or pass --revision.")
        return 1
    study, stored = load_revision(spec.name, loc, wanted)
    summary = summarize(stored, study)
    others = [r for r in known if r.revision != wanted]
    summary["other_revisions"] = [{"revision": r.revision, "created": r.created, "trials": r.n_trials} for r in others]
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(format_summary(summary))
    if others:
        print("other revisions in this store (`--revision REV`): "
              + ", ".join(f"{r.revision} ({r.created}, {count(r.n_trials, 'trial')})" for r in others))
    return 0
