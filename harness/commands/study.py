"""`salt-harness run | validate | status | ui`: the study commands."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def add_parser(sub) -> None:
    run = sub.add_parser("run", help="run (or resume) a study: Optuna drives the trainer, MLflow records")
    run.add_argument("study", type=Path)
    run.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    run.add_argument("--storage", help="Optuna storage URL (default: a journal file in the study's mlruns/)")
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite database in mlruns/)")
    run.add_argument("--smoke", action="store_true",
                     help="end to end on CPU with the synthetic world's tiny model, into a throwaway store")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.set_defaults(func=run_cmd)

    wk = sub.add_parser("worker", help="join a study created by `run` (any machine; shared storage)")
    wk.add_argument("study", type=Path)
    wk.add_argument("--storage", required=True, help="the study's Optuna storage URL (e.g. postgresql://...)")
    wk.add_argument("--tracking-uri", required=True, help="the MLflow tracking URI (e.g. http://mlflow-host:5000)")
    wk.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    wk.add_argument("--quiet", action="store_true")
    wk.set_defaults(func=worker_cmd, smoke=False)

    val = sub.add_parser("validate", help="check study files; nothing runs, nothing is written")
    val.add_argument("studies", type=Path, nargs="+")
    val.set_defaults(func=validate_cmd)

    st = sub.add_parser("status", help="cells by state, per arm")
    st.add_argument("study", type=Path)
    st.add_argument("--storage")
    st.add_argument("--smoke", action="store_true")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=status_cmd)

    ui = sub.add_parser("ui", help="the MLflow UI on the study's store")
    ui.add_argument("study", type=Path)
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--tracking-uri")
    ui.set_defaults(func=ui_cmd)


def run_cmd(args) -> int:
    from harness.runner import format_summary, prepare_spec, run_study

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    spec = prepare_spec(args.study, args.smoke)
    summary = run_study(spec, args.workers, args.storage, args.tracking_uri, progress=not args.quiet, smoke=args.smoke)
    print(format_summary(summary))
    return exit_code(summary)


def worker_cmd(args) -> int:
    from harness.runner import format_summary, prepare_spec, run_study

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    spec = prepare_spec(args.study)
    summary = run_study(spec, args.workers, args.storage, args.tracking_uri, progress=not args.quiet, create=False)
    print(format_summary(summary))
    return exit_code(summary)


def exit_code(summary: dict) -> int:
    """1 when cells failed or are missing; cells still running on other workers are not a failure."""
    bad = sum(n for states in summary["by_arm"].values() for s, n in states.items() if s in ("FAIL", "MISSING"))
    return 1 if bad else 0


def validate_cmd(args) -> int:
    from harness.study import load_study

    failed = 0
    for path in args.studies:
        try:
            spec = load_study(path)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        if spec.sampler.type == "grid":
            n = len(spec.cells())
            print(f"{path}: ok: study {spec.name!r}, {n} cells ({len(spec.arms)} arms, "
                  f"{len(spec.axes)} axes, {len(spec.seeds)} seeds), task {spec.base.task}, model {spec.base.model}")
        else:
            print(f"{path}: ok: study {spec.name!r}, TPE over {len(spec.axes)} axes, {spec.sampler.n_trials} trials")
    return 2 if failed else 0


def status_cmd(args) -> int:
    import optuna

    from harness.runner import format_summary, locate, open_storage, prepare_spec, summarize

    spec = prepare_spec(args.study, args.smoke)
    loc = locate(spec, args.storage)
    if loc.storage.startswith("journal:") and not Path(loc.storage[len("journal:"):]).exists():
        print(f"study {spec.name!r} has not been run yet (no journal at {loc.storage[len('journal:'):]})")
        return 1
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(loc.storage))
    except KeyError:
        print(f"study {spec.name!r} has not been run yet (storage {loc.storage})")
        return 1
    summary = summarize(spec, study)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def ui_cmd(args) -> int:
    from harness.runner import locate, prepare_spec

    loc = locate(prepare_spec(args.study), tracking_uri=args.tracking_uri)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", loc.tracking_uri,
           "--host", args.host, "--port", str(args.port)]
    print(f"MLflow UI for study {args.study} at http://{args.host}:{args.port} (store {loc.tracking_uri})", flush=True)
    return subprocess.call(cmd)
