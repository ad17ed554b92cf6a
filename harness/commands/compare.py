"""`salt-harness compare`: a quick, untracked comparison of arms over seeds, printed per language.

For tracked, resumable studies use study files; this is for a first look on one machine.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import replace

import numpy as np

from harness.commands.settings import apply_assignments
from salt.arms import ARMS
from salt.data.tasks import TASKS
from salt.metrics import AVG_TARGETS, accuracy_metric


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="train each arm for each seed and print per-language accuracy")
    p.add_argument("--task", default="synthetic-nli", choices=list(TASKS), help="the task (default synthetic-nli)")
    p.add_argument("--model", default=None, help="default: synthetic:<world> for synthetic tasks, "
                   "bert-base-multilingual-cased otherwise")
    p.add_argument("--world", default="default", help="synthetic world preset (default: default)")
    p.add_argument("--data-dir", help="local directory with the released files (real tasks); default: the hub")
    p.add_argument("--arms", nargs="+", default=["baseline", "salt", "random-substitution"], choices=list(ARMS),
                   metavar="ARM", help=f"arms to train, from: {', '.join(ARMS)} (default: baseline salt "
                   "random-substitution)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="default: 0 1 2")
    p.add_argument("--split", default="test", choices=["dev", "test"], help="split printed (default test)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any RunConfig setting, e.g. augment.threshold=0.5 or train.epochs=2 (repeatable)")
    p.add_argument("--json", help="also write all results to this JSON file")
    p.set_defaults(func=compare_cmd)


def compare_cmd(args) -> int:
    from salt.arms import apply_arm, get_arm
    from salt.config import RunConfig, build_config
    from salt.data.tasks import get_task
    from salt.presets import synthetic_defaults
    from salt.run import run

    task = get_task(args.task)
    base = build_config(RunConfig(), {
        "task": task.name, "world": args.world, "data_dir": args.data_dir,
        "data_source": "local" if args.data_dir else task.sources[0],
        "model": args.model or (f"synthetic:{args.world}" if task.synthetic else "bert-base-multilingual-cased")})
    if task.synthetic:
        base = synthetic_defaults(base)
    base = apply_assignments(base, args.overrides)
    results = defaultdict(list)
    aug_stats, aug_arm = {}, None
    for seed in args.seeds:
        for arm in args.arms:
            cfg = replace(apply_arm(base, arm), seed=seed)
            res = run(cfg, progress=sys.stderr.isatty())
            results[arm].append(res.metrics)
            if aug_arm in (None, arm) and get_arm(arm).augments and res.augmentation and seed == args.seeds[0]:
                aug_stats, aug_arm = res.augmentation.stats, arm
            avg = res.metrics.get(accuracy_metric(args.split, AVG_TARGETS), float("nan"))
            print(f"seed {seed} {arm:20s} {args.split} target avg {avg:.3f}  ({res.seconds:.0f} s)", flush=True)
    print(format_table(results, args.split))
    if aug_stats:
        print(f"\naugmentation ({aug_arm} arm, first seed):")
        keys = [k for k in ("substitution_rate", "mean_confidence", "top1_precision", "precision", "coverage",
                            "selected_precision", "n_selected") if k in next(iter(aug_stats.values()))]
        print("lang  " + "  ".join(f"{k:>18s}" for k in keys))
        for lang, st in aug_stats.items():
            print(f"{lang:5s} " + "  ".join(f"{st[k]:18.3f}" for k in keys))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "augmentation": aug_stats}, f, indent=2)
    return 0


def format_table(results: dict[str, list[dict]], split: str) -> str:
    keys = sorted({k for runs in results.values() for m in runs for k in m if k.startswith(accuracy_metric(split, ""))})
    lines = [f"{'metric':28s}" + "".join(f"{arm:>24s}" for arm in results)]
    for key in keys:
        cells = []
        for runs in results.values():
            vals = np.array([m[key] for m in runs if key in m])
            cells.append(f"{vals.mean():.3f} +- {vals.std(ddof=1) if len(vals) > 1 else 0:.3f} (n={len(vals)})")
        lines.append(f"{key:28s}" + "".join(f"{c:>24s}" for c in cells))
    return "\n".join(lines)
