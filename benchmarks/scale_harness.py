"""The harness at the size of a real study: `enqueue`, `status` and `report` read-back at 100, 1,000 and 5,000 cells.

Each size is its own store (under /dev/shm when there: fabricating thousands of MLflow runs is fsync-bound on disk
and is set-up here, not what is measured): the study is enqueued into a new journal as `run` does
(`create_revision` + `enqueue_missing`), every cell's finished MLflow run is fabricated as the objective records
it minus training (tests/fakes.py `write_store`: params, tags, metrics; no predictions, which the default
t-test over seeds does not read), then `salt-harness status` and `salt-harness report --no-plots` run
in-process. The growth exponent is the slope of log time against log cells.
"""
from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figure, main
from benchmarks.scale import ROOT, exponent

CELLS, QUICK_CELLS = (100, 1_000, 5_000), (25, 100)
SEEDS = 5


def harness_size(folder: Path, cells: int) -> dict:
    """One study of `cells` cells: the baseline, and salt at `cells / 5 - 1` sample counts; 5 seeds."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes import study_file, write_store
    from harness.cli import main as cli
    from harness.scheduler import enqueue_missing
    from harness.storage import create_revision, locate
    from harness.study import load_study

    folder.mkdir(parents=True, exist_ok=True)
    path = study_file(folder, f"cells{cells}", seeds=SEEDS, arms=("baseline", "salt"),
                      axes={"augment.samples_per_lang": list(range(1, cells // SEEDS))})
    start = time.perf_counter()
    spec = load_study(path, max_cells=None)
    loc = locate(spec)
    enqueued = enqueue_missing(spec, create_revision(spec, loc), loc)
    enqueue_s = time.perf_counter() - start
    start = time.perf_counter()
    write_store(path, with_predictions=False)
    fabricate_s = time.perf_counter() - start
    times = {}
    for name, argv in (("status", ["status", str(path)]),
                       ("report", ["report", str(path), "--no-plots", "--no-log", "--out", str(folder / "report")])):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli(argv)
        times[f"{name}_s"] = time.perf_counter() - start
        assert code == 0, (name, code)
    assert enqueued == len(spec.cells()) == cells, (enqueued, cells)
    return {"cells": cells, "enqueue_s": enqueue_s, **times, "fabricate_s": fabricate_s}


def run(opts: dict) -> list[Figure]:
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="salt-bench-scale-harness-", dir=shm if shm.is_dir() else None) as tmp:
        rows = [harness_size(Path(tmp) / f"h{n}", n) for n in (QUICK_CELLS if opts["quick"] else CELLS)]
    n = [r["cells"] for r in rows]
    growth = {k: round(exponent(n, [r[k] for r in rows]), 3) for k in ("enqueue_s", "status_s", "report_s")}
    detail = {"sizes": [{k: round(v, 3) for k, v in r.items()} for r in rows],
              **{f"growth_exponent.{k}": v for k, v in growth.items()}}
    table = "; ".join(f"{r['cells']:,} cells: enqueue {r['enqueue_s']:.1f} s, status {r['status_s']:.1f} s, report "
                      f"{r['report_s']:.1f} s" for r in rows)
    top = rows[-1]
    return [
        Figure("scale_harness.growth", "growth exponent of enqueue, status and report with cells",
               max(growth.values()), "", 1.1, detail=detail,
               note=f"Slope of log time against log cells over {', '.join(f'{c:,}' for c in n)} cells, the largest of "
                    f"the three (enqueue {growth['enqueue_s']}, status {growth['status_s']}, report "
                    f"{growth['report_s']}). {table}."),
        Figure("scale_harness.report", f"`report` on {top['cells']:,} finished runs", top["report_s"], "s", 120,
               detail=detail, note="`salt-harness report --no-plots --no-log`: every run read back, the paired t-tests "
                                   "and every table in Markdown, LaTeX and CSV; the CLI in-process, imports warm."),
        Figure("scale_harness.status", f"`status` of a {top['cells']:,}-cell study", top["status_s"], "s",
               detail=detail, note="`salt-harness status` in-process: the study file loaded (every cell built and "
                                   "hashed) and the journal replayed."),
    ]


if __name__ == "__main__":
    main(run)
