"""1 vs 2 local worker processes on the same small grid (warm cache): how close to 2x two cores get.

Each worker trains with one torch thread, so on 2 cores the ideal speed-up is 2.0; the gap is
per-process start-up (imports, world, model load) and the last cell that leaves a worker idle.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from benchmarks.common import Figure, main
from benchmarks.demo import run_demo

GRID = {  # 6 equal cells of about 12 s (1 epoch over the 6000 examples), so start-up does not dominate
    "name": "scaling", "task": "synthetic-nli", "data": {"source": "synthetic", "world": "default"},
    "model": "synthetic:default", "languages": {"source": "en", "targets": ["fr", "de", "es"]},
    "train": {"epochs": 1},
    "arms": ["baseline"], "seeds": [0, 1, 2, 3, 4, 5], "sampler": {"type": "grid", "objective": "dev_acc_avg_targets"},
}


def run(opts: dict) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="salt-bench-scaling-") as tmp_name:
        tmp = Path(tmp_name)
        study = tmp / "scaling.yaml"
        study.write_text(yaml.safe_dump(GRID, sort_keys=False))
        cache = tmp / "cache"
        from salt.run import cache_root  # the user's model cache is reused when present: pretraining is not the point
        from salt.config import RunConfig

        user_cache = cache_root(RunConfig())
        if (user_cache / "synthetic").is_dir():
            cache = user_cache
        warm = tmp / "warmup.yaml"  # one cell fills the caches (vocabularies; the model if missing)
        warm.write_text(yaml.safe_dump(GRID | {"name": "scaling-warmup", "seeds": [0]}, sort_keys=False))
        run_demo(tmp, "warmup", cache, opts["quick"], workers=1, study=warm)
        one = run_demo(tmp, "w1", cache, opts["quick"], workers=1, study=study)
        two = run_demo(tmp, "w2", cache, opts["quick"], workers=2, study=study)
    speedup = one["wall_s"] / two["wall_s"]
    return [Figure("scaling.two_workers", "speed-up of 2 workers over 1 (6 cells, ideal 2.0)", speedup, "x",
                   detail={"one_worker_s": one["wall_s"], "two_workers_s": two["wall_s"],
                           "median_trial_s_one": one["median_trial_s"], "median_trial_s_two": two["median_trial_s"],
                           "sum_trial_s_one": one["sum_trial_s"], "sum_trial_s_two": two["sum_trial_s"]},
                   note="Wall time of `salt-harness run` with --workers 1 over --workers 2 on a 6-cell grid of the "
                        "default synthetic world (baseline arm, 1 epoch over 6000 examples), warm cache. The gap to 2.0 "
                        "is mostly the workers' start-up (spawned processes import torch, transformers and MLflow and "
                        "generate the world), which one worker pays inside the already-running parent.")]


if __name__ == "__main__":
    main(run)
