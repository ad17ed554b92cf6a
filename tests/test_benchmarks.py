"""The benchmark plumbing (figures, memory measurement, the report); the figures themselves are
measured by `python -m benchmarks`, never asserted in tests."""
import sys

import pytest

from benchmarks.common import Figure, interleaved
from benchmarks.process import measure
from benchmarks.report import render


def test_figure_met_respects_direction():
    assert Figure("a", "a", 1.2, "x", target=1.3).met is True
    assert Figure("a", "a", 1.4, "x", target=1.3).met is False
    assert Figure("a", "a", 1.4, "x", target=1.5, higher_is_better=True).met is False
    assert Figure("a", "a", None, "x", target=1.5).met is None
    assert Figure("a", "a", 3.0, "MiB").met is None


def test_interleaved_times_every_function():
    calls = []
    out = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and set(out) == {"a", "b"} and len(out["a"]["times_s"]) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_measure_sees_a_child_process_memory():
    code = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
    res = measure([sys.executable, "-c", code], interval=0.1)
    assert res["returncode"] == 0 and res["wall_s"] >= 1.5
    assert res["peak_tree_rss_mib"] >= 300


def test_report_lists_every_figure_with_its_verdict(tmp_path):
    figs = [Figure("x.ratio", "ratio of x", 1.5, "x", target=1.3, note="because y").to_dict(),
            Figure("x.gpu", "gpu figure", None, "x", target=1.15, note="no GPU available").to_dict()]
    record = {"date": "2026-11-24T00:00:00+00:00", "command": "python -m benchmarks", "quick": False,
              "machine": {"cpu": "cpu", "cpu_count": 2}, "git": {"commit": "abc", "dirty": False},
              "benchmarks": {"x": {"seconds": 1.0, "returncode": 0, "figures": figs},
                             "broken": {"seconds": 1.0, "returncode": 1, "figures": []}}}
    analysis = tmp_path / "ANALYSIS.md"
    analysis.write_text("## Analysis\n\nwhy x is over target")
    text = render(record, analysis)
    assert "| x | ratio of x | 1.5 x | <= 1.3 x | **no** |" in text
    assert "| x | gpu figure | not measured | <= 1.15 x |  |" in text
    assert "the benchmark failed (exit code 1)" in text
    assert "because y" in text and "no GPU available" in text and text.rstrip().endswith("why x is over target")


@pytest.mark.slow
def test_every_benchmark_runs_in_quick_mode(tmp_path):
    """`python -m benchmarks --quick` end to end (figures not checked: quick sizes are not for quoting)."""
    import json
    import os
    import subprocess
    from pathlib import Path

    env = {**os.environ, "SALT_CACHE": str(tmp_path / "cache"), "SALT_BENCH_GPU_ON_CPU": "1"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--results", str(tmp_path / "results"),
                           "--markdown", str(tmp_path / "BENCHMARKS.md")], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / "results" / "latest.json").read_text())
    from benchmarks.__main__ import BENCHMARKS

    assert list(record["benchmarks"]) == list(BENCHMARKS)
    figures = [f for res in record["benchmarks"].values() for f in res["figures"]]
    assert all(f["value"] is not None for f in figures if f["name"] != "gpu.peak_memory")
    assert "| demo | demo study, cold cache" in (tmp_path / "BENCHMARKS.md").read_text()


@pytest.mark.slow
def test_scale_benchmarks_run_in_quick_mode(tmp_path):
    """`python -m benchmarks --quick --only scale scale_harness`: the study-size benchmarks end to end (minutes)."""
    import json
    import os
    import subprocess
    from pathlib import Path

    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "scale", "scale_harness",
                           "--results", str(tmp_path / "results"), "--markdown", str(tmp_path / "BENCHMARKS.md")],
                          env={**os.environ, "SALT_CACHE": str(tmp_path / "cache")}, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((tmp_path / "results" / "latest.json").read_text())
    figures = {f["name"]: f for res in record["benchmarks"].values() for f in res["figures"]}
    assert {"scale.cache_disk", "scale.trial_augment", "scale.cache_open", "scale.proposals_rss",
            "scale.trial_speedup", "scale_harness.growth", "scale_harness.report"} <= set(figures)
    assert all(f["value"] is not None and f["value"] > 0 for f in figures.values())
    assert "before.300.before_trial" in figures["scale.trial_speedup"]["detail"]
