"""The harness's bookkeeping at study sizes users reach: expanding, enqueueing and reporting the status of
grid studies of 1,000 to 50,000 cells (nothing trains).

Each size is a fresh store: the cells are built (`StudySpec.cells`, a content hash each), enqueued into a new
Optuna journal the way `run` does (`create_revision` + `enqueue_missing`), and `status` reads them back
(a fresh process's view: the journal replayed, `summarize`). The growth exponent is the slope of log time
against log cells, fitted over the sizes.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from benchmarks.common import Figure, main

SIZES = (1_000, 10_000, 50_000)
QUICK_SIZES = (100, 1_000)
SEEDS = 5


def study(folder: Path, cells: int) -> Path:
    """A grid of `cells` cells: one arm, `cells / 5` values of one axis, 5 seeds."""
    path = folder / f"size{cells}.yaml"
    path.write_text(yaml.safe_dump({
        "name": f"size{cells}", "task": "synthetic-nli", "arms": ["salt"], "seeds": SEEDS,
        "axes": {"augment.samples_per_lang": list(range(1, cells // SEEDS + 1))},
        "output": {"dir": str(folder / f"store{cells}")}}))
    return path


def measure(folder: Path, cells: int) -> dict:
    from harness.scheduler import enqueue_missing
    from harness.storage import create_revision, load_revision, locate
    from harness.study import load_study
    from harness.summary import summarize

    t0 = time.perf_counter()
    spec = load_study(study(folder, cells), max_cells=None)  # parses and builds every cell once (validation)
    t1 = time.perf_counter()
    loc = locate(spec)
    enqueued = enqueue_missing(spec, create_revision(spec, loc), loc)
    t2 = time.perf_counter()
    fresh = load_study(folder / f"size{cells}.yaml", max_cells=None)  # what `status` does in a new process
    summary = summarize(fresh, load_revision(fresh.name, loc, fresh.revision)[0])
    t3 = time.perf_counter()
    assert enqueued == cells and summary["cells"] == cells, (enqueued, summary["cells"])
    return {"cells": cells, "load_s": t1 - t0, "enqueue_s": t2 - t1, "status_s": t3 - t2,
            "journal_mib": loc.journal.stat().st_size / 2**20}


def exponent(rows: list[dict], key: str) -> float:
    x = np.log([r["cells"] for r in rows])
    y = np.log([max(r[key], 1e-6) for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def run(opts: dict) -> list[Figure]:
    sizes = QUICK_SIZES if opts["quick"] else SIZES
    with tempfile.TemporaryDirectory(prefix="salt-bench-bookkeeping-") as tmp:
        rows = [measure(Path(tmp), n) for n in sizes]
    top = rows[-1]
    detail = {"sizes": [{k: round(v, 3) for k, v in r.items()} for r in rows],
              **{f"growth_exponent.{k}": round(exponent(rows, k), 3) for k in ("load_s", "enqueue_s", "status_s")}}
    n = f"{top['cells']:,}"
    table = "; ".join(f"{r['cells']:,} cells: load {r['load_s']:.1f} s, enqueue {r['enqueue_s']:.1f} s, status "
                      f"{r['status_s']:.1f} s" for r in rows)
    return [
        Figure("bookkeeping.status", f"`status` of a {n}-cell study", top["status_s"], "s", 30,
               detail=detail, note=f"A fresh `status`: the study file loaded (every cell built and hashed) and the "
                                   f"journal replayed. {table}."),
        Figure("bookkeeping.enqueue", f"enqueueing a {n}-cell study", top["enqueue_s"], "s", 120, detail=detail,
               note="`create_revision` + `enqueue_missing` into a new journal, under the enqueue lock, as `run` "
                    "does before any worker starts."),
        Figure("bookkeeping.growth", "growth exponent of enqueue and status with cells",
               max(detail["growth_exponent.enqueue_s"], detail["growth_exponent.status_s"]), "",
               1.1, detail=detail, note="Slope of log time against log cells over the sizes; 1 is linear."),
    ]


if __name__ == "__main__":
    main(run)
