"""`salt-harness relocate STORE`: after copying or moving a store folder, make it write its own artifacts."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("relocate", help="after copying or moving a store (mlruns/), point its artifact locations at "
                                        "the copy, so it never writes into the original's folder")
    p.add_argument("store", type=Path, help="the store folder (holding mlflow.db) or the mlflow.db file")
    p.set_defaults(func=relocate_cmd)


def relocate_cmd(args) -> int:
    from harness.text import count
    from harness.tracking.relocate import own_root, relocate

    db = args.store / "mlflow.db" if args.store.is_dir() else args.store
    roots, rows = relocate(db)
    if not roots:
        print(f"{db}: every artifact location is already under {own_root(db)}; nothing to change")
    else:
        print(f"{db}: {count(rows, 'artifact location')} moved from {', '.join(roots)} to "
              f"{own_root(db)}")
    return 0
