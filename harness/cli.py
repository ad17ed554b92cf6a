"""`salt-harness`: one entry point; each subcommand lives in harness/commands/<name>.py."""
from __future__ import annotations

import argparse
import os
import sys
import textwrap

from harness.commands import augment as augment_cmd
from harness.commands import compare as compare_cmd
from harness.commands import data as data_cmd
from harness.commands import plan as plan_cmd
from harness.commands import relocate as relocate_cmd
from harness.commands import repair as repair_cmd
from harness.commands import report as report_cmd
from harness.commands import serve as serve_cmds
from harness.commands import study as study_cmds
from harness.logs import VERBOSE_ENV, quiet

COMMANDS = (study_cmds, serve_cmds, repair_cmd, relocate_cmd, data_cmd, augment_cmd, compare_cmd, report_cmd, plan_cmd)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default (unless the help already states it, or it has none)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default in (None, False, argparse.SUPPRESS) or "default" in text
                or isinstance(action, argparse._VersionAction)):  # noqa: SLF001
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
        return f"{text} (default: {shown})"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("salt-harness")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def subparsers(parser: argparse.ArgumentParser):
    """Every parser below `parser` (subcommands, and theirs), each once."""
    for action in parser._actions:  # noqa: SLF001 (argparse offers no public walk)
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for child in dict.fromkeys(action.choices.values()):
                yield child
                yield from subparsers(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salt-harness", formatter_class=HelpFormatter,
        description=textwrap.fill("Experiment-tracked ablation studies for SALT: Optuna runs the cells of a study "
                                  "file, MLflow records them, `report` tests the differences. `salt-harness COMMAND "
                                  "--help` for a command's options.", 100))
    parser.add_argument("--version", action="version", version=f"salt-harness {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    for child in subparsers(parser):
        child.formatter_class = HelpFormatter
        if not any(isinstance(a, argparse._SubParsersAction) for a in child._actions):  # noqa: SLF001
            child.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                               help="show the libraries' own INFO lines, warnings and progress bars "
                                    "(MLflow, Optuna, transformers); off by default")
    return parser


def describe(err: BaseException) -> str:
    """Our errors say what to do already; a bare OS error (a cache or output path that cannot be written) gets
    the path named first and the fix."""
    if type(err).__module__.startswith(("harness", "salt")) or not isinstance(err, OSError) or not err.filename:
        return str(err)
    return (f"{err.filename}: {err.strerror or err}. Make the path a writable directory (or point SALT_CACHE, "
            "output.dir or --out elsewhere) and run again: nothing recorded is lost")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `salt-harness`: what it can do, not an error
        parser.print_help()
        return 0
    if getattr(args, "verbose", False):
        os.environ[VERBOSE_ENV] = "1"  # spawned workers inherit it
    # The libraries configure their loggers when first imported, so that happens before `quiet` sets them.
    import mlflow  # noqa: F401
    import optuna

    optuna.logging.get_verbosity()
    from harness.signals import exit_status, stop_on_signals

    try:
        with quiet(), stop_on_signals():
            return args.func(args) or 0
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"salt-harness {args.command}: error: {describe(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        rest = ("; the cell that was training ended KILLED and is queued again, finished cells are kept: run it "
                "again to complete the rest") if args.command in ("run", "worker") else ""
        print(f"salt-harness {args.command}: {stop or 'interrupted'}{rest}", file=sys.stderr)
        return exit_status(stop)
    except Exception as failure:
        from harness.storage import STORE_FIX, store_cause, store_failure

        err = store_cause(failure)
        if err is None:
            raise
        print(f"salt-harness {args.command}: error: the study's records could not be written or read: "
              f"{store_failure(err)}. {STORE_FIX}.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
