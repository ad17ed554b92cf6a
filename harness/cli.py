"""`salt-harness`: one entry point; each subcommand lives in harness/commands/<name>.py."""
from __future__ import annotations

import argparse
import logging
import sys

from harness.commands import augment as augment_cmd
from harness.commands import compare as compare_cmd
from harness.commands import data as data_cmd
from harness.commands import repair as repair_cmd
from harness.commands import report as report_cmd
from harness.commands import study as study_cmds
from harness.logs import levels

COMMANDS = (study_cmds, repair_cmd, data_cmd, augment_cmd, compare_cmd, report_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salt-harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The application sets the libraries' log levels, for the command only: their INFO lines (a line per
    # trial, database migrations) are noise beside our own progress lines. Both configure their loggers
    # when first imported or used, so that happens first.
    import mlflow  # noqa: F401
    import optuna

    optuna.logging.get_verbosity()
    try:
        with levels(optuna=logging.WARNING, mlflow=logging.WARNING):
            return args.func(args) or 0
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"salt-harness {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as failure:
        from harness.storage import store_cause

        err = store_cause(failure)
        if err is None:
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"salt-harness {args.command}: error: the study's records could not be written or read: "
              f"{type(err).__name__}: {first}. Fix the store (free space, make it writable, start the server), "
              "then run again: finished cells are kept.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
