"""The acceptance path: `salt-harness run studies/demo.yaml --smoke`, then `salt-harness report ... --smoke`."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from harness.report.collect import parent_run_id

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_demo_smoke_report_renders_every_format_and_plot(tmp_path, salt_cache, monkeypatch):
    env = {**os.environ, "SALT_SMOKE_DIR": str(tmp_path / "salt-smoke"), "SALT_CACHE": str(salt_cache)}
    cli = [sys.executable, "-m", "harness.cli"]
    run = subprocess.run([*cli, "run", "studies/demo.yaml", "--smoke", "--quiet"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    out = tmp_path / "report"
    rep = subprocess.run([*cli, "report", "studies/demo.yaml", "--smoke", "--out", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert rep.returncode == 0, rep.stderr[-2000:]
    assert rep.stdout.startswith("# Study demo-smoke: test split")
    assert "one seed per arm" in rep.stdout  # --smoke keeps one seed: the tables say there is no test
    files = {p.name for p in out.iterdir()}
    assert {"report.md", "report.tex", "comparisons.csv", "samples.csv", "samples_all.png", "samples_all.pdf",
            "samples_avg_targets.pdf", "forest_salt_vs_baseline.png"} <= files
    from harness.storage import locate
    from harness.study import prepare_spec

    monkeypatch.setenv("SALT_SMOKE_DIR", env["SALT_SMOKE_DIR"])  # the smoke store is keyed by the revision
    spec = prepare_spec(ROOT / "studies" / "demo.yaml", smoke=True, check=False)
    uri = locate(spec).tracking_uri
    parent = parent_run_id(uri, "demo-smoke", spec.revision)
    assert {a.path for a in MlflowClient(uri).list_artifacts(parent, "report")} == {f"report/{f}" for f in files}
