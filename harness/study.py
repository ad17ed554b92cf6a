"""Study files: parse, validate (before anything runs) and expand into cells.

A cell is one (arm, axis values, seed): one Optuna trial, one MLflow child run. Errors name the
file, the key path and what is allowed, and nothing is created on error.
"""
from __future__ import annotations

import itertools
import re
import types
import typing
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.overrides import set_path
from salt.arms import ARMS, apply_arm
from salt.config import AugmentConfig, MixupConfig, RunConfig, TrainConfig, VocabConfig

TASK_LANGUAGES = {
    "xnli": ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"),
    "pawsx": ("de", "en", "es", "fr", "ja", "ko", "zh"),
}
SECTIONS = {"train": TrainConfig, "augment": AugmentConfig, "mixup": MixupConfig, "vocab": VocabConfig}
TOP_KEYS = {"name", "description", "task", "data", "model", "languages", "arms", "axes", "seeds", "sampler",
            "output", *SECTIONS}
# Settings that only matter when there is augmentation: the baseline arm has one cell per seed.
AUGMENTATION_SECTIONS = ("augment.", "mixup.", "vocab.")


RATIOS = ("threshold", "max_ratio", "warmup_ratio")  # settings that must lie in [0, 1]
ALL_MEANS_NONE = ("samples_per_lang", "max_source_examples")  # `all` reads as null (no cap)


class StudyError(ValueError):
    def __init__(self, path: Path | str, key: str, message: str):
        self.path, self.key = str(path), key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


@dataclass(frozen=True)
class Sampler:
    type: Literal["grid", "tpe"] = "grid"
    n_trials: int | None = None  # tpe: the trial budget
    objective: str = "dev_acc_avg_targets"  # a RunResult metric
    direction: Literal["maximize", "minimize"] = "maximize"
    seed: int = 0
    arm: str = "salt"  # tpe: the arm whose axes are tuned


@dataclass(frozen=True)
class Output:
    dir: str = "mlruns"  # the local store: MLflow database, artifacts and the Optuna journal
    tracking_uri: str | None = None  # default: sqlite database under `dir`
    storage: str | None = None  # default: a journal file under `dir`


@dataclass(frozen=True)
class Cell:
    id: str
    arm: str
    values: tuple[tuple[str, Any], ...]  # (axis key, value)
    seed: int


@dataclass(frozen=True)
class StudySpec:
    path: Path
    name: str
    description: str
    base: RunConfig
    arms: tuple[str, ...]
    axes: dict[str, Any]  # grid: key -> list of values; tpe: key -> list (categorical) or {low, high, log}
    seeds: tuple[int, ...]
    sampler: Sampler
    output: Output
    raw: dict

    def cells(self) -> list[Cell]:
        """Every (arm, axis values, seed) of a grid study, in a stable order."""
        out, seen = [], set()
        for arm in self.arms:
            keys = [k for k in self.axes if arm_uses(arm, k)]
            for combo in itertools.product(*(self.axes[k] for k in keys)):
                values = tuple(zip(keys, combo))
                for seed in self.seeds:
                    cell = Cell(cell_id(arm, values, seed), arm, values, seed)
                    if cell.id not in seen:
                        seen.add(cell.id)
                        out.append(cell)
        return out

    def config(self, cell: Cell) -> RunConfig:
        cfg = self.base
        for key, value in cell.values:
            cfg = set_path(cfg, key, value)
        return replace(apply_arm(cfg, cell.arm), seed=cell.seed)


def arm_uses(arm: str, key: str) -> bool:
    return arm != "baseline" or not key.startswith(AUGMENTATION_SECTIONS)


def cell_id(arm: str, values, seed: int) -> str:
    axes = ",".join(f"{k.split('.')[-1]}={v}" for k, v in values)
    return f"{arm}/{axes or '-'}/seed={seed}"


def load_study(path: str | Path) -> StudySpec:
    path = Path(path)
    if not path.is_file():
        raise StudyError(path, "", "no such study file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise StudyError(path, "", f"{where}not valid YAML ({getattr(err, 'problem', err)})") from None
    except UnicodeDecodeError:
        raise StudyError(path, "", "not UTF-8 text") from None
    return parse_study(raw, path)


def parse_study(raw: Any, path: Path) -> StudySpec:
    err = lambda key, msg: StudyError(path, key, msg)  # noqa: E731
    if not isinstance(raw, dict):
        raise err("", "a study file must be a YAML mapping (name: ..., task: ..., arms: ...)")
    unknown = sorted(set(map(str, raw)) - TOP_KEYS)
    if unknown:
        raise err(unknown[0], f"unknown key; allowed: {', '.join(sorted(TOP_KEYS))}")
    for key in ("name", "task", "arms", "seeds"):
        if key not in raw:
            raise err(key, "required key is missing")
    name = raw["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
        raise err("name", "must be a string of letters, digits, '-', '_' or '.' (it names the study and experiment)")
    task = raw["task"]
    tasks = ("xnli", "pawsx", "synthetic-nli", "synthetic-paraphrase")
    if task not in tasks:
        raise err("task", f"{task!r} is not one of {', '.join(tasks)}")
    synthetic = task.startswith("synthetic-")

    data = _mapping(raw.get("data", {}), "data", path, {"source", "dir", "hub_id", "world"})
    source = data.get("source", "synthetic" if synthetic else "hub")
    allowed = ("synthetic",) if synthetic else ("hub", "local")
    if source not in allowed:
        raise err("data.source", f"{source!r} is not allowed for task {task}; allowed: {', '.join(allowed)}")
    if source == "local" and not isinstance(data.get("dir"), str):
        raise err("data.dir", "a local data source needs dir: <directory with the released files>")
    data_dir = None
    if source == "local":
        data_dir = Path(data["dir"]) if Path(data["dir"]).is_absolute() else (path.parent / data["dir"]).resolve()
        if not data_dir.is_dir():
            raise err("data.dir", f"{data_dir} is not a directory")
    world = data.get("world", "default")
    from salt.synthetic import WORLD_PRESETS

    if world not in WORLD_PRESETS:
        raise err("data.world", f"{world!r} is not one of {', '.join(WORLD_PRESETS)}")

    model = raw.get("model", f"synthetic:{world}" if synthetic else None)
    if not isinstance(model, str) or not model:
        raise err("model", "required: a hub id (bert-base-multilingual-cased), a local directory or synthetic:<preset>")

    known_langs = _world_languages(world) if synthetic else TASK_LANGUAGES[task]
    langs = _mapping(raw.get("languages", {}), "languages", path, {"source", "targets"})
    src = langs.get("source", "en")
    if src not in known_langs:
        raise err("languages.source", f"{src!r} is not a language of {task}: {', '.join(known_langs)}")
    targets = langs.get("targets", "all")
    if targets == "all":
        targets = tuple(l for l in known_langs if l != src)
    if not isinstance(targets, list | tuple) or not targets:
        raise err("languages.targets", "a non-empty list of language codes, or 'all'")
    for i, lang in enumerate(targets):
        if lang not in known_langs or lang == src:
            raise err(f"languages.targets[{i}]", f"{lang!r} is not a target language of {task}: "
                      + ", ".join(l for l in known_langs if l != src))

    base = RunConfig(task=task, data_source=source, data_dir=str(data_dir) if data_dir else None,
                     hub_id=data.get("hub_id"), model=model, world=world, source_lang=src,
                     target_langs=tuple(targets))
    if synthetic:
        from salt.presets import synthetic_defaults

        base = synthetic_defaults(base)
    for section, cls in SECTIONS.items():
        values = _mapping(raw.get(section, {}), section, path, {f.name for f in fields(cls)})
        for key, value in values.items():
            base = set_path(base, f"{section}.{key}", check_value(path, f"{section}.{key}", value, _annotation(cls, key)))

    arms = raw["arms"]
    if not isinstance(arms, list) or not arms:
        raise err("arms", f"a non-empty list of arms from: {', '.join(ARMS)}")
    for i, arm in enumerate(arms):
        if arm not in ARMS:
            raise err(f"arms[{i}]", f"{arm!r} is not one of {', '.join(ARMS)}")
    if len(set(arms)) != len(arms):
        raise err("arms", "lists an arm twice")

    sampler = _section(Sampler, raw.get("sampler", {}), "sampler", path)
    axes = _axes(raw.get("axes", {}), sampler, path)
    if sampler.type == "tpe":
        if not sampler.n_trials or sampler.n_trials < 1:
            raise err("sampler.n_trials", "a TPE study needs a trial budget: n_trials: <positive integer>")
        if sampler.arm not in arms:
            raise err("sampler.arm", f"{sampler.arm!r} must be one of the study's arms: {', '.join(arms)}")
    seeds = raw["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds > 0:
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise err("seeds", "a positive count (seeds: 3) or a non-empty list of integers (seeds: [0, 1, 2])")
    if len(set(seeds)) != len(seeds):
        raise err("seeds", "lists a seed twice")
    output = _section(Output, raw.get("output", {}), "output", path)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise err("description", "must be a string")
    spec = StudySpec(path=path, name=name, description=description, base=base, arms=tuple(arms), axes=axes,
                     seeds=tuple(seeds), sampler=sampler, output=output, raw=raw)
    if sampler.type == "grid":
        for cell in spec.cells()[:1]:
            spec.config(cell)
    return spec


def _world_languages(world: str) -> tuple[str, ...]:
    from salt.synthetic import WORLD_PRESETS

    cfg = WORLD_PRESETS[world]
    return tuple(getattr(cfg, "languages", ("en", "fr", "de", "es")))


def _mapping(value: Any, key: str, path: Path, allowed: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StudyError(path, key, f"must be a mapping with keys from: {', '.join(sorted(allowed))}")
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise StudyError(path, f"{key}.{unknown[0]}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
    return value


def _section(cls, value: Any, key: str, path: Path):
    values = _mapping(value, key, path, {f.name for f in fields(cls)})
    return cls(**{k: check_value(path, f"{key}.{k}", v, _annotation(cls, k)) for k, v in values.items()})


def _annotation(cls, name: str):
    return typing.get_type_hints(cls)[name]


def check_value(path: Path, key: str, value: Any, annotation: Any) -> Any:
    """Check a value against a config field's type annotation; return it in the field's shape."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if value == "all" and re.sub(r"\[\d+\]$", "", key).endswith(ALL_MEANS_NONE):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return check_value(path, key, value, arg)
            except StudyError as e:
                errors.append(str(e).rsplit(": ", 1)[-1])
        raise StudyError(path, key, f"{value!r} is not valid: expected " + " or ".join(
            _describe(a) for a in args))
    if origin is Literal:
        if value not in args:
            raise StudyError(path, key, f"{value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise StudyError(path, key, f"expected a list, got {value!r}")
        return tuple(check_value(path, f"{key}[{i}]", v, args[0]) for i, v in enumerate(value))
    if annotation is bool:
        if not isinstance(value, bool):
            raise StudyError(path, key, f"expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise StudyError(path, key, f"expected an integer, got {value!r}")
        if value < 0:
            raise StudyError(path, key, f"must not be negative, got {value}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StudyError(path, key, f"expected a number, got {value!r}")
        value = float(value)
        if value != value or value < 0:
            raise StudyError(path, key, f"must be a non-negative number, got {value}")
        if re.sub(r"\[\d+\]$", "", key).endswith(RATIOS) and value > 1:
            raise StudyError(path, key, f"is a probability or ratio in [0, 1], got {value}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise StudyError(path, key, f"expected a string, got {value!r}")
        return value
    if is_dataclass(annotation):
        raise StudyError(path, key, "is a section, not a value")
    return value


def _describe(annotation) -> str:
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    names = {type(None): "null", int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def axis_annotation(key: str):
    section, _, name = key.partition(".")
    cls = SECTIONS.get(section)
    if cls is None or name not in {f.name for f in fields(cls)}:
        return None
    return _annotation(cls, name)


def _axes(value: Any, sampler: Sampler, path: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StudyError(path, "axes", "must be a mapping: <section>.<setting>: [values], e.g. augment.threshold: [0.3, 0.5]")
    axes = {}
    for key, values in value.items():
        where = f"axes.{key}"
        annotation = axis_annotation(str(key))
        if annotation is None:
            raise StudyError(path, where, "not a setting; axes are <section>.<setting> with section one of "
                             + ", ".join(SECTIONS) + " (e.g. augment.samples_per_lang)")
        if isinstance(values, dict) and sampler.type == "tpe":
            rng = _mapping(values, where, path, {"low", "high", "log", "step"})
            for bound in ("low", "high"):
                if not isinstance(rng.get(bound), int | float) or isinstance(rng.get(bound), bool):
                    raise StudyError(path, f"{where}.{bound}", "a TPE range needs numeric low and high")
                check_value(path, f"{where}.{bound}", rng[bound], annotation)
            if rng["low"] >= rng["high"]:
                raise StudyError(path, where, f"low ({rng['low']}) must be below high ({rng['high']})")
            axes[key] = dict(rng)
            continue
        if not isinstance(values, list) or not values:
            raise StudyError(path, where, "a non-empty list of values"
                             + (" (or, for TPE, {low, high, log})" if sampler.type == "tpe" else ""))
        checked = [check_value(path, f"{where}[{i}]", v, annotation) for i, v in enumerate(values)]
        if len(set(map(repr, checked))) != len(checked):
            raise StudyError(path, where, "lists a value twice")
        axes[key] = checked
    return axes
