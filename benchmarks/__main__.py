"""Run every benchmark, each in its own process, and write results JSON plus BENCHMARKS.md.

    python -m benchmarks                  # all of them (about 25 minutes on 2 CPU cores)
    python -m benchmarks --only train_step augmentation
    python -m benchmarks --quick          # small sizes: checks the benchmarks run, figures not for quoting
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import machine
from benchmarks.report import render

ROOT = Path(__file__).resolve().parent.parent
# Order matters only for reading: the demo's trial time is the reference of the harness overhead.
BENCHMARKS = ("augmentation", "train_step", "trainer", "demo", "harness_overhead", "scaling", "bookkeeping", "scale", "scale_harness", "realsize", "n_all", "gpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                        help=f"run these only ({', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"),
                        help="folder for the machine-readable results (default: benchmarks/results)")
    parser.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--render", action="store_true",
                        help="only rewrite BENCHMARKS.md from the latest results (after editing benchmarks/ANALYSIS.md)")
    args = parser.parse_args(argv)
    if args.render:
        record = json.loads((Path(args.results) / "latest.json").read_text())
        Path(args.markdown).write_text(render(record, ROOT / "benchmarks" / "ANALYSIS.md"))
        return 0

    started = datetime.now(timezone.utc)
    results: dict[str, dict] = {}
    previous = Path(args.results) / "latest.json"
    if args.only and not args.quick and previous.is_file():  # a partial run updates its figures, keeps the rest
        earlier = json.loads(previous.read_text())
        if not earlier.get("quick"):
            results = {name: {"date": earlier["date"], **res} for name, res in earlier["benchmarks"].items()
                       if name not in args.only}
    for name in args.only or BENCHMARKS:
        print(f"[benchmarks] {name} ...", flush=True)
        t0 = time.perf_counter()
        with tempfile.NamedTemporaryFile(suffix=".json") as out, tempfile.NamedTemporaryFile("w", suffix=".json") as so_far:
            json.dump({"quick": args.quick, "date": started.isoformat(timespec="seconds"), "benchmarks": results}, so_far)
            so_far.flush()  # earlier figures of this run, e.g. the demo's trial time for the harness overhead
            cmd = [sys.executable, "-m", f"benchmarks.{name}", "--out", out.name] + (["--quick"] if args.quick else [])
            proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "SALT_BENCH_SO_FAR": so_far.name})
            figures = json.loads(Path(out.name).read_text() or "[]") if proc.returncode == 0 else []
        results[name] = {"date": started.isoformat(timespec="seconds"), "seconds": round(time.perf_counter() - t0, 1),
                         "returncode": proc.returncode, "figures": figures}
        for fig in figures:
            mark = {True: "met", False: "MISSED", None: ""}[fig["met"]]
            value = "n/a" if fig["value"] is None else f"{fig['value']:.4g} {fig['unit']}"
            print(f"  {fig['title']}: {value} (target {fig['target']}) {mark}", flush=True)
        if proc.returncode:
            print(f"  FAILED with exit code {proc.returncode}", flush=True)

    results = {name: results[name] for name in BENCHMARKS if name in results}
    record = {"date": started.isoformat(timespec="seconds"), "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
              "quick": args.quick, "machine": machine(), "git": _git(), "benchmarks": results}
    folder = Path(args.results)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (folder / f"{stamp}.json").write_text(json.dumps(record, indent=2))
    (folder / "latest.json").write_text(json.dumps(record, indent=2))
    Path(args.markdown).write_text(render(record, ROOT / "benchmarks" / "ANALYSIS.md"))
    print(f"[benchmarks] wrote {folder / (stamp + '.json')} and {args.markdown}")
    return int(any(r["returncode"] for r in results.values()))


def _git() -> dict:
    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


if __name__ == "__main__":
    sys.exit(main())
