"""`salt-harness ui | dashboard`: the MLflow UI and optuna-dashboard on a study's stores.

Both check what would make the server fail after it printed its URL (a port in use, a study never run,
a missing optional package) first, and say so in one paragraph with a non-zero exit.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path


def add_parser(sub) -> None:
    ui = _server(sub, "ui", "the MLflow UI on the study's store (runs, params, metrics, artifacts)", 5000, ui_cmd)
    ui.add_argument("--tracking-uri", help="MLflow tracking URI (default: the study's sqlite database in mlruns/)")
    db = _server(sub, "dashboard", "optuna-dashboard on the study's Optuna storage (optional package)", 8080,
                 dashboard_cmd)
    db.add_argument("--storage", help="Optuna storage URL (default: the journal file in the study's mlruns/optuna/)")


def _server(sub, name: str, help: str, port: int, func):
    """A serving command's parser: the study, where to listen, and which of its stores."""
    p = sub.add_parser(name, help=help)
    p.add_argument("study", type=Path, help="the study file")
    p.add_argument("--port", type=int, default=port, help="TCP port to serve on")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--smoke", action="store_true", help="the study's --smoke store")
    p.set_defaults(func=func)
    return p


def check_port(host: str, port: int, flag: str = "--port") -> None:
    """Raise ValueError naming the port when it cannot be listened on (in use, privileged, bad host)."""
    if not 0 < port < 65536:
        raise ValueError(f"{flag} {port}: a TCP port is 1-65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no conflict
        try:
            s.bind((host, port))
        except OSError as err:
            why = {errno.EADDRINUSE: "is already in use (another server listens there)",
                   errno.EACCES: "needs root (ports below 1024 are privileged)",
                   errno.EADDRNOTAVAIL: f"cannot be bound: {host} is not an address of this machine"}
            raise ValueError(f"{flag} {port} on {host} {why.get(err.errno, f'cannot be bound: {err.strerror}')}; "
                             f"choose another with {flag} N (or stop what listens there)") from None


def ui_cmd(args) -> int:
    from mlflow import MlflowClient

    from harness.storage import locate
    from harness.study import prepare_spec
    from harness.tracking.store import sqlite_path
    from harness.tracking.view import SHARED_VIEW, VIEW_KEY, view_url

    spec = prepare_spec(args.study, args.smoke, check=False)
    loc = locate(spec, tracking_uri=args.tracking_uri)
    db = sqlite_path(loc.tracking_uri)
    if db is not None and not Path(db).exists():
        raise ValueError(f"study {spec.name!r} has no MLflow store yet ({db} does not exist): run it first with "
                         f"`salt-harness run {args.study}`" + (" --smoke" if args.smoke else "")
                         + ", or pass --tracking-uri")
    check_port(args.host, args.port)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", loc.tracking_uri,
           "--host", args.host, "--port", str(args.port)]
    base = f"http://{args.host}:{args.port}"
    print(f"MLflow UI for study {spec.name} at {base} (store {loc.tracking_uri}); "
          f"experiment {spec.name!r}: a parent run per revision, its study summary and report, a child run per cell",
          flush=True)
    try:
        experiment = MlflowClient(loc.tracking_uri).get_experiment_by_name(spec.name)
    except Exception:  # noqa: BLE001 (the link is a convenience: the UI itself says what is wrong with a store)
        experiment = None
    if experiment is not None and SHARED_VIEW + VIEW_KEY in experiment.tags:
        print(f"the runs grouped by arm and axis, with the objective as a column: {view_url(base, experiment.experiment_id)}",
              flush=True)
    code = serve(cmd)
    if code not in (0, -2, -15, 130, 143):  # the server's own failure (a stop is not one)
        raise ValueError(f"the MLflow UI exited with status {code}; rerun with --verbose, or try another --port")
    return 0


def serve(cmd: list[str], grace: float = 20.0) -> int:
    """Run a server in its own process group until it exits; a stop (Ctrl-C, SIGTERM) ends the whole group.

    `mlflow ui` starts uvicorn workers and job consumers: killing only its first process would leave them
    running, holding the port.
    """
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        raise
    finally:
        _signal_group(proc.pid, signal.SIGKILL)  # what ignored SIGTERM, or outlived the server's first process
        proc.wait()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def dashboard_cmd(args) -> int:
    from harness.storage import locate, open_storage
    from harness.study import prepare_spec

    try:
        import optuna_dashboard
    except ImportError:
        raise ValueError("optuna-dashboard is not installed: `pip install optuna-dashboard` (or "
                         "`pip install -e '.[dashboard]'`), then run this again") from None
    spec = prepare_spec(args.study, args.smoke, check=False)
    loc = locate(spec, args.storage)
    if loc.journal is not None and not loc.journal.exists():
        raise ValueError(f"study {spec.name!r} has no Optuna journal yet ({loc.journal} does not exist): run it "
                         f"first with `salt-harness run {args.study}`" + (" --smoke" if args.smoke else "")
                         + ", or pass --storage")
    check_port(args.host, args.port)
    storage = open_storage(loc.storage)
    print(f"optuna-dashboard for study {spec.name} at http://{args.host}:{args.port}: one Optuna study "
          f"{spec.name}@<revision> per revision (this file's: {spec.name}@{spec.revision})", flush=True)
    optuna_dashboard.run_server(storage, host=args.host, port=args.port)
    return 0
