"""N = all at XNLI size: what a cell that selects every candidate holds in memory and writes to its records.

A `samples_per_lang: all` cell of `studies/xnli-sample-counts.yaml` selects one copy of each of the 392,702 English
pairs in each of the 14 target languages: 5.5M code-switched examples. Here each language's pool is made of the
realistic shape (pairs of 30-59 ids from mBERT's 119,547, 1-7 substitutions a pair; the MLM pass that finds real
substitutes is GPU work, measured by `scale` and `realsize` at smaller pools), then, in a fresh process, the path a
run takes after augmentation, through the code's own functions:
- select: `select(pool, None, "confidence")` per language (N = all);
- training rows: the rows `train_and_evaluate` trains on (`_TrainSet` over source rows + every selected copy), and
  1,000 batches of 32 assembled from them, in the epoch's random order;
- records: the manifest (`salt.augment.manifest`), its digest, the zstd parquet artifact (its size), and the MLflow
  dataset input (`StudyTracker._log_manifest` on a local SQLite store);
and the peak RSS (ru_maxrss) after each phase. `SALT_N_ALL_BEFORE=<checkout>` measures older code on the same
pools (before the selection stayed columnar and the manifest's schema was read from its first rows).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, main

ROOT = Path(__file__).resolve().parent.parent
PAIRS, TARGETS, VOCAB = 392_702, 14, 119_547
QUICK_PAIRS = 20_000
BATCHES, BATCH = 1_000, 32


def pools(pairs: int):
    from salt.augment.switch import Pool
    from salt.encode import Encoded

    rng = np.random.default_rng(0)
    lengths = rng.integers(30, 60, pairs)
    ids = np.split(rng.integers(1_000, VOCAB, int(lengths.sum())), np.cumsum(lengths)[:-1])
    src = Encoded(ids, [np.zeros_like(x) for x in ids], rng.integers(0, 3, pairs), [f"train/{i}" for i in range(pairs)],
                  ["en"] * pairs)
    out = {}
    for k in range(TARGETS):
        subs = rng.integers(1, 8, pairs)
        starts = np.zeros(pairs + 1, np.int64)
        np.cumsum(subs, out=starts[1:])
        m = int(starts[-1])
        positions = (rng.random(m) * np.repeat(lengths - 2, subs)).astype(np.int64) + 1
        out[f"t{k:02d}"] = Pool(src, f"t{k:02d}", np.arange(pairs), np.zeros(pairs, np.int64), starts, positions,
                                rng.integers(1_000, VOCAB, m), rng.random(m).astype(np.float32), np.zeros(m, bool))
    return src, out


def phases(args: dict) -> dict:
    import salt.augment.switch as switch
    from harness.tracking.results import MANIFEST
    from harness.tracking.runs import StudyTracker
    from harness.tracking.store import prepare_store
    from salt.augment.manifest import digest, manifest
    from salt.train import _TrainSet

    def rss_mib() -> int:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    src, pool = pools(args["pairs"])
    seconds, peak = {}, {"pools": rss_mib()}
    t = time.perf_counter()
    chosen = {lang: switch.select(p, None, "confidence", np.random.default_rng(1)) for lang, p in pool.items()}
    seconds["select"], peak["select"] = time.perf_counter() - t, rss_mib()
    t = time.perf_counter()
    if hasattr(switch, "Chain"):  # what salt.run passes the trainer
        augmented = switch.Chain(list(chosen.values()))
    else:  # before: every selected copy as an object in one list
        augmented = [a for lang in chosen for a in chosen[lang]]
    rows = _TrainSet(src, augmented)
    order = np.random.default_rng(2).permutation(len(rows))[:BATCHES * BATCH]
    for b in range(BATCHES):
        rows.batch(order[b * BATCH:(b + 1) * BATCH], 0)
    seconds["training rows and 1,000 batches"], peak["training rows"] = time.perf_counter() - t, rss_mib()
    with tempfile.TemporaryDirectory(prefix="salt-bench-nall-") as tmp:
        t = time.perf_counter()
        frame = manifest(chosen)
        seconds["manifest"] = time.perf_counter() - t
        t = time.perf_counter()
        frame.to_parquet(Path(tmp) / MANIFEST, index=False, compression="zstd")
        seconds["parquet"], size = time.perf_counter() - t, (Path(tmp) / MANIFEST).stat().st_size
        uri = f"sqlite:///{tmp}/mlflow.db"
        tracker = StudyTracker(uri, prepare_store(uri, "n-all", f"{tmp}/artifacts"))
        run_id = tracker.client.create_run(tracker.experiment_id).info.run_id
        t = time.perf_counter()
        tracker._log_manifest(run_id, frame)  # the digest, the dataset input and the tag, as log_result does
        seconds["digest and MLflow dataset input"], peak["records"] = time.perf_counter() - t, rss_mib()
    return {"examples": len(frame), "training_rows": len(rows), "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "peak_rss_mib": peak, "manifest_mib": round(size / 2 ** 20, 1), "digest_check": digest(frame)[:12]}


def measure(code: Path, pairs: int) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--phases", json.dumps({"pairs": pairs})],
                          cwd=code, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"N = all phases on {code} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(opts: dict) -> list[Figure]:
    pairs = QUICK_PAIRS if opts["quick"] else PAIRS
    after = measure(ROOT, pairs)
    before_code = os.environ.get("SALT_N_ALL_BEFORE")
    before = measure(Path(before_code), pairs) if before_code else None
    records = sum(after["seconds"][k] for k in ("manifest", "parquet", "digest and MLflow dataset input"))
    detail = {"pairs": pairs, "targets": TARGETS, "after": after, "before": before, "before_code": before_code}
    note = (f"{after['examples']:,} selected examples ({pairs:,} pairs x {TARGETS}); manifest {after['manifest_mib']} MiB"
            + (f"; before: peak {before['peak_rss_mib']['records'] / 1024:.1f} GiB" if before else ""))
    return [Figure("n_all.peak_rss", "N = all at XNLI size: peak RSS through selection, training rows and records",
                   after["peak_rss_mib"]["records"] / 1024, "GiB", 8.0, detail=detail, note=note),
            Figure("n_all.records", "N = all at XNLI size: manifest, digest, parquet and MLflow input", records, "s",
                   detail={"seconds": after["seconds"], "before": before and before["seconds"]})]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--phases":
        print(json.dumps(phases(json.loads(sys.argv[2]))))
    else:
        main(run)
