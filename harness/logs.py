"""Third-party log levels, set for a span and then restored (never at import, never left changed).

A command prints our own lines only: the libraries' INFO lines (Optuna's "A new study created", MLflow's
database migrations), their warnings and transformers' progress bars bury them, so `quiet` silences
them unless `--verbose` (which the CLI passes to spawned workers as SALT_VERBOSE=1).
"""
from __future__ import annotations

import logging
import os
import warnings
from contextlib import ExitStack, contextmanager

VERBOSE_ENV = "SALT_VERBOSE"
THIRD_PARTY = ("optuna", "mlflow", "alembic", "sqlalchemy", "transformers", "datasets", "huggingface_hub",
               "urllib3", "filelock", "matplotlib", "httpx")
OURS = r"(salt|harness)(\.|$)"  # modules whose warnings are ours to show (e.g. a degenerate cell)


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextmanager
def levels(**by_logger: int):
    """`with levels(optuna=logging.ERROR, mlflow=logging.CRITICAL): ...`"""
    loggers = {name: logging.getLogger(name) for name in by_logger}
    before = {name: logger.level for name, logger in loggers.items()}
    for name, logger in loggers.items():
        logger.setLevel(by_logger[name])
    try:
        yield
    finally:
        for name, logger in loggers.items():
            logger.setLevel(before[name])


@contextmanager
def quiet(level: int = logging.ERROR, on: bool | None = None):
    """Third-party loggers at `level`, their warnings ignored and transformers' bars off, for the span;
    nothing changes when `on` is False (default: off under `--verbose`)."""
    if on is None:
        on = not verbose()
    if not on:
        yield
        return
    with ExitStack() as stack:
        # MLflow logs each database error with its traceback (at ERROR) before raising it; the commands report
        # every store error they catch as one paragraph, so its copy only buries that line.
        stack.enter_context(levels(**{**{name: level for name in THIRD_PARTY}, "mlflow": max(level, logging.CRITICAL)}))
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=OURS)
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        if bars:
            stack.callback(hf_logging.enable_progress_bar)
        yield
