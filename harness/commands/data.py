"""`salt-harness data describe`: row counts and label distributions per split and language."""
from __future__ import annotations

import json
from pathlib import Path

from salt.data.tasks import TASKS


def add_parser(sub) -> None:
    data = sub.add_parser("data", help="inspect task data")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("describe", help="per-split, per-language row counts and label distributions")
    p.add_argument("--task", required=True, choices=list(TASKS), help="the task whose data to describe")
    p.add_argument("--data-dir", type=Path, help="local directory with the released files (default: the hub)")
    p.add_argument("--hub-id", help="override the task's datasets id")
    p.add_argument("--world", default="default", help="synthetic world preset (synthetic tasks; default: default)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=describe_cmd)


def describe_cmd(args) -> int:
    from salt.config import RunConfig, build_config
    from salt.data.describe import describe, format_describe
    from salt.data.tasks import get_task

    task = get_task(args.task)
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise FileNotFoundError(f"--data-dir {args.data_dir}: no such directory")
    source = "local" if args.data_dir is not None and not task.synthetic else task.sources[0]
    cfg = build_config(RunConfig(), {"task": task.name, "data_source": source, "world": args.world,
                                     "data_dir": str(args.data_dir) if args.data_dir else None,
                                     "hub_id": args.hub_id})
    data = task.load(cfg).data
    table = describe(data)
    if args.json:
        print(json.dumps({"task": args.task, "rows": table.to_dict(orient="records"),
                          "dropped": [d.__dict__ for d in data.dropped]}, indent=2, default=str))
    else:
        print(format_describe(table, data))
    return 0
