"""`salt-harness`: one entry point; each subcommand lives in harness/commands/<name>.py."""
from __future__ import annotations

import argparse
import sys

from harness.commands import augment as augment_cmd
from harness.commands import compare as compare_cmd
from harness.commands import data as data_cmd
from harness.commands import report as report_cmd
from harness.commands import study as study_cmds

COMMANDS = (study_cmds, data_cmd, augment_cmd, compare_cmd, report_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salt-harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import optuna

    # The application sets the libraries' log levels (never at import): Optuna's INFO line per trial is noise.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"salt-harness {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
