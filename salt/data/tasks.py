"""Every registered task: importing this module registers the released tasks (`salt.data`) and the
synthetic ones (`salt.synthetic`); the study validator, the CLI's choices, `--smoke`, the trainer and the
report read the registry from here."""
from __future__ import annotations

import salt.data  # noqa: F401  (registers xnli, pawsx)
import salt.synthetic  # noqa: F401  (registers synthetic-nli, synthetic-paraphrase)
from salt.data.registry import (
    PAWSX,
    SMOKE_SETTINGS,
    SYNTHETIC_NLI,
    SYNTHETIC_PARAPHRASE,
    TASKS,
    XNLI,
    Smoke,
    Task,
    check_languages,
    get_task,
    register_task,
    released_tasks,
)

__all__ = ["PAWSX", "SMOKE_SETTINGS", "SYNTHETIC_NLI", "SYNTHETIC_PARAPHRASE", "TASKS", "XNLI", "Smoke", "Task",
           "check_languages", "get_task", "register_task", "released_tasks"]
