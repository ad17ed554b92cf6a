"""Command-line flags that set RunConfig settings: help, choices and defaults come from the setting's own
metadata, and values go through `salt.config.build_config`, the same validator as study files."""
from __future__ import annotations

import argparse
from typing import Any

from salt.config import ConfigError, RunConfig, build_config, config_field, display_value, parse_assignment


def add_setting_flags(parser: argparse.ArgumentParser, flags: dict[str, str], defaults: RunConfig) -> None:
    """One flag per setting (`{"--threshold": "augment.threshold"}`), its help text and default from salt."""
    for flag, key in flags.items():
        f = config_field(key)
        default = display_value(key, _get(defaults, key))
        kwargs: dict[str, Any] = {"dest": key, "default": None, "help": f"{f.help} (default {default})"}
        if f.annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["metavar"] = key.rsplit(".", 1)[-1].upper()
            if f.choices is not None and all(isinstance(c, str) for c in f.choices):
                kwargs["choices"] = list(f.choices)
        parser.add_argument(flag, **kwargs)


def apply_flags(base: RunConfig, args: argparse.Namespace, flags: dict[str, str]) -> RunConfig:
    """`base` with every flag the user gave, checked; errors name the flag."""
    cfg = base
    for flag, key in flags.items():
        value = getattr(args, key)
        if value is None:
            continue
        try:
            cfg = build_config(cfg, [(key, value)], text=True)
        except ConfigError as err:
            raise ValueError(f"{flag} {value}: {err.reason}") from None
    return cfg


def apply_assignments(base: RunConfig, assignments: list[str]) -> RunConfig:
    """`--set KEY=VALUE` (repeatable), each value parsed as its setting's declared type."""
    cfg = base
    for text in assignments:
        try:
            cfg = build_config(cfg, [parse_assignment(text)], text=True)
        except ConfigError as err:
            raise ValueError(f"--set {text}: {err}") from None
    return cfg


def _get(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg
