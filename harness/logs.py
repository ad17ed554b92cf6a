"""Third-party log levels, set for a span and then restored (never at import, never left changed)."""
from __future__ import annotations

import logging
from contextlib import contextmanager


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
