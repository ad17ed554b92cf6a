"""`salt-harness data describe`: row counts and label distributions per split and language."""
from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    data = sub.add_parser("data", help="inspect task data")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("describe", help="per-split, per-language row counts and label distributions")
    p.add_argument("--task", required=True, choices=["xnli", "pawsx", "synthetic-nli", "synthetic-paraphrase"])
    p.add_argument("--data-dir", type=Path, help="local directory with the released files (default: the hub)")
    p.add_argument("--hub-id", help="override the datasets id (default facebook/xnli or google-research-datasets/paws-x)")
    p.add_argument("--world", default="default", help="synthetic world preset (synthetic tasks)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=describe_cmd)


def describe_cmd(args) -> int:
    from salt.data import load_task
    from salt.data.describe import describe, format_describe

    if args.task.startswith("synthetic-"):
        from salt.synthetic import load_world

        data = load_world(args.world).task(args.task)
    elif args.data_dir is not None:
        if not args.data_dir.is_dir():
            raise FileNotFoundError(f"--data-dir {args.data_dir}: no such directory")
        data = load_task(args.task, "local", data_dir=args.data_dir)
    else:
        data = load_task(args.task, "hub", hub_id=args.hub_id)
    table = describe(data)
    if args.json:
        print(json.dumps({"task": args.task, "rows": table.to_dict(orient="records"),
                          "dropped": [d.__dict__ for d in data.dropped]}, indent=2, default=str))
    else:
        print(format_describe(table, data))
    return 0
