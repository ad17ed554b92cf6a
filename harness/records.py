"""The experiment record: a cell is one (arm, settings, seed), identified by the content of its run.

A `Cell` is what an Optuna trial runs and an MLflow child run records. Its `key` is a hash of the
resolved config that determines the result (operational settings and the sections its arm ignores left
out), so the same cell in a changed study file is recognised, and a changed one never is. This module
is the one place a cell is written to and read from Optuna and MLflow; nothing parses cell strings.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from salt.arms import get_arm
from salt.config import RunConfig, build_config, check_rules, config_fields, display_value, identity

CELL_TAG = "salt.cell"  # the cell id: what reuse and resume search for
RECORD_TAG = "salt.record"  # the cell as canonical JSON: what `Cell.from_tags` reads back
MAX_RECORD = 8000  # MLflow's tag value limit (mlflow.utils.validation.MAX_TAG_VAL_LENGTH)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]+")


def canonical(obj: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, no NaN (what hashes are taken of)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def content_hash(obj: Any) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


Settings = tuple[tuple[str, Any], ...]  # (dotted key, value) in the study's axis order


@dataclass(frozen=True)
class Cell:
    arm: str
    settings: Settings
    seed: int
    key: str  # content hash of what determines the result (see `make_cell`)

    @property
    def id(self) -> str:
        """Stable, bounded and free of quotes (MLflow filters have no escapes): readable prefix + hash."""
        prefix = _UNSAFE.sub("_", f"{self.arm}.{self.setting_label}")[:80]
        return f"{prefix}.s{self.seed}.{self.key[:16]}"

    @property
    def setting_label(self) -> str:
        return setting_label(self.settings)

    @property
    def label(self) -> str:
        """What people read (run names, progress lines), short enough for MLflow's run table: `salt N=800 s0`."""
        setting = short_label(self.settings)
        return f"{self.arm} {setting} s{self.seed}" if setting else f"{self.arm} s{self.seed}"

    def value(self, key: str, default: Any = None) -> Any:
        return dict(self.settings).get(key, default)

    # ---- Optuna
    def params(self) -> dict[str, Any]:
        """Optuna params (what optuna-dashboard plots): the arm, each setting, the seed."""
        return {"arm": self.arm, **dict(self.settings), "seed": self.seed}

    def enqueue(self, study) -> None:
        """Queue the cell as a new WAITING trial of `study` (an optuna.Study) with its params; a worker pops it."""
        study.enqueue_trial(self.params(), user_attrs={"cell": self.id, "arm": self.arm, "seed": self.seed},
                            skip_if_exists=False)

    # ---- MLflow
    def to_json(self) -> str:
        return canonical({"arm": self.arm, "settings": [[k, v] for k, v in self.settings], "seed": self.seed,
                          "key": self.key})

    @classmethod
    def from_json(cls, text: str) -> Cell:
        raw = json.loads(text)
        return cls(raw["arm"], tuple((k, v) for k, v in raw["settings"]), int(raw["seed"]), raw["key"])

    def tags(self) -> dict[str, str]:
        return {CELL_TAG: self.id, RECORD_TAG: self.to_json()}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Cell | None:
        """The cell a run recorded (None for runs without a record, e.g. from another tool)."""
        text = tags.get(RECORD_TAG)
        return cls.from_json(text) if text else None

    def run_params(self, cfg: RunConfig) -> dict[str, Any]:
        """MLflow params: the arm and every setting of the resolved config (axes are settings too)."""
        from salt.config import flatten

        return {"arm": self.arm, **flatten(cfg)}


NO_SETTING = "-"


def setting_label(settings: Iterable[tuple[str, Any]]) -> str:
    """`samples_per_lang=800,threshold=0.3`: each key by its last part unless two share it."""
    settings = list(settings)
    if not settings:
        return NO_SETTING
    last = [k.rsplit(".", 1)[-1] for k, _ in settings]
    names = [k if last.count(short) > 1 else short for (k, _), short in zip(settings, last)]
    return ",".join(f"{n}={display_value(k, v)}" for n, (k, v) in zip(names, settings))


def short_label(settings: Iterable[tuple[str, Any]]) -> str:
    """`N=800 threshold=0.3`: each key by its registered short name, else its last part (the full key where
    two would read the same)."""
    settings = list(settings)
    known = config_fields()
    names = [(known[k].meta.get("short") if k in known else None) or k.rsplit(".", 1)[-1] for k, _ in settings]
    names = [k if names.count(n) > 1 else n for (k, _), n in zip(settings, names)]
    return " ".join(f"{n}={display_value(k, v)}".replace(" ", "") for n, (k, v) in zip(names, settings))


def resolve(base: RunConfig, arm: str, settings: Iterable[tuple[str, Any]], seed: int) -> RunConfig:
    """The run config of a cell: the study's base, the cell's settings (checked), the arm, the seed."""
    return check_rules(replace(get_arm(arm).apply(build_config(base, list(settings))), seed=seed))


def make_cell(base: RunConfig, arm: str, settings: Iterable[tuple[str, Any]], seed: int) -> tuple[Cell, RunConfig]:
    settings = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in settings)
    cfg = resolve(base, arm, settings, seed)
    key = content_hash({"arm": arm, "config": identity(cfg, get_arm(arm).ignores)})
    return Cell(arm, settings, seed, key), cfg
