"""`key.path=value` overrides onto a RunConfig, shared by the CLI commands that build one from flags."""
from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

import yaml


def set_path(cfg: Any, path: str, value: Any) -> Any:
    head, _, rest = path.partition(".")
    names = {f.name for f in fields(cfg)}
    if head not in names:
        raise ValueError(f"unknown setting {path!r}: {head!r} is not one of {', '.join(sorted(names))}")
    current = getattr(cfg, head)
    if rest:
        if not is_dataclass(current):
            raise ValueError(f"setting {path!r}: {head!r} has no sub-keys")
        return replace(cfg, **{head: set_path(current, rest, value)})
    if isinstance(value, list):
        value = tuple(value)
    return replace(cfg, **{head: value})


def apply_overrides(cfg: Any, pairs: list[str]) -> Any:
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE, e.g. augment.threshold=0.5")
        cfg = set_path(cfg, key.strip(), yaml.safe_load(raw))
    return cfg
