"""Screenshots of a study in the MLflow UI, taken with headless chromium: the saved runs view (grouped by arm
and axes) and the newest parent run's report artifact. This is how docs/mlflow-runs-grouped.png and
docs/mlflow-parent-report.png were made, and a quick check that the UI shows what the README says.

    python scripts/mlflow_screenshots.py --tracking-uri sqlite:////abs/mlruns/mlflow.db --experiment sample-curve
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.tracking.tags import ROLE  # noqa: E402
from harness.tracking.view import view_url  # noqa: E402


def wait_for(url: str, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def shoot(browser: str, url: str, out: Path) -> None:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1600,1000", "--virtual-time-budget=25000", f"--screenshot={out}", url],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)  # no pipes:
    # chromium's helper processes would hold them open past its exit
    print(f"{out}: {url}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tracking-uri", required=True, help="the study's store")
    p.add_argument("--experiment", required=True, help="the study's name (its MLflow experiment)")
    p.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNG files (default: docs/)")
    p.add_argument("--port", type=int, default=5123, help="port of the temporary MLflow UI (default: 5123)")
    args = p.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    client = MlflowClient(args.tracking_uri)
    exp = client.get_experiment_by_name(args.experiment)
    if exp is None:
        raise SystemExit(f"no experiment {args.experiment!r} in {args.tracking_uri}")
    parents = client.search_runs([exp.experiment_id], f"tags.`{ROLE}` = 'parent'",
                                 order_by=["attributes.start_time DESC"], max_results=1)
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", args.tracking_uri,
                               "--host", "127.0.0.1", "--port", str(args.port)], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"{base}/health")
        args.out.mkdir(parents=True, exist_ok=True)
        shoot(browser, view_url(base, exp.experiment_id), args.out / "mlflow-runs-grouped.png")
        if parents:
            run = parents[0].info.run_id
            files = {Path(f.path).name for f in client.list_artifacts(run, "report")}
            page = next((f for f in ("FINDINGS.md", "report.md") if f in files), None)
            if page is None:
                print(f"the parent run {run} has no report yet: run `salt-harness report` first", file=sys.stderr)
            else:
                shoot(browser, f"{base}/#/experiments/{exp.experiment_id}/runs/{run}/artifacts/report/{page}",
                      args.out / "mlflow-parent-report.png")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
