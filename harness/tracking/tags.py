"""Tag names and the value limits of MLflow (all tag and param values are strings)."""
from __future__ import annotations

import json
from typing import Any

PARENT_TAG = "mlflow.parentRunId"  # what the MLflow UI nests children by
NOTE = "mlflow.note.content"  # a run's description in the MLflow UI
STUDY, ROLE, REVISION, ERROR, TRIAL = "salt.study", "salt.role", "salt.revision", "salt.error", "salt.trial"
OWNER = {"host": "salt.host", "pid": "salt.pid", "pid_start": "salt.pid_start"}  # harness.liveness.Owner
MODEL_REVISION = "salt.model.revision"  # the hub commit a hub model's weights came from (absent for local models)
DATA_REVISION = "salt.data.revision"  # the hub commit of a hub dataset's rows (absent for files); see data_revision
DEGENERATE = "salt.degenerate"  # JSON {lang: {requested, selected, pool}}: augmentation fell short
MANIFEST_TAG = "salt.manifest"  # digest of the selected augmented examples (salt.augment.manifest)
CONTAMINATED = "salt.contaminated"  # "true": candidate vocabularies from evaluation text
DEVICE = "salt.device"  # "cpu" | "cuda"; on a GPU also salt.device.gpu, .gpu_index (physical), .gpu_memory_gib
MEMBER_PREFIX = "salt.member."  # salt.member.<revision> = "1": the run counts for that study revision
MAX_PARAM = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
MAX_TAG = 8000  # ... MAX_TAG_VAL_LENGTH
MAX_ERROR = 5000
_TRUNC = "...[truncated]"


def device_tags(described: dict[str, str]) -> dict[str, str]:
    """A run's device (salt.devices.describe_device) as tags: `salt.device`, `salt.device.<key>` for the GPU, and
    `salt.version.torch`, `salt.version.cuda` (torch's build; named as the parent run's `salt.version.*`)."""
    return {DEVICE if key == "device" else f"salt.version.{key}" if key in ("torch", "cuda") else f"{DEVICE}.{key}": value
            for key, value in described.items()}


def data_revision(revisions: dict[str, str]) -> str:
    """The DATA_REVISION tag: the commit, or `de <commit>; en <commit>` where the configs came from several."""
    commits = set(revisions.values())
    return commits.pop() if len(commits) == 1 else tag_str("; ".join(f"{k} {v}" for k, v in sorted(revisions.items())))


def member_tag(revision: str) -> str:
    return MEMBER_PREFIX + revision


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - len(_TRUNC)] + _TRUNC


def param_str(value: Any) -> str:
    """How a param value is stored: str() for scalars (as MLflow does), JSON for lists/tuples; <= 6000 chars."""
    if isinstance(value, (list, tuple)):
        try:
            value = json.dumps(list(value))
        except TypeError:
            pass
    return truncate(str(value), MAX_PARAM)


def tag_str(value: Any) -> str:
    return truncate(str(value), MAX_TAG)


def quote(value: str) -> str:
    """A string literal for MLflow's filter syntax (which has no escapes)."""
    for q in ("'", '"'):
        if q not in value:
            return f"{q}{value}{q}"
    raise ValueError(f"{value!r} contains both quote characters: it cannot be searched for in MLflow")
