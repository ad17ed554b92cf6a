"""Study files: parse, validate (before anything runs) and expand into cells.

A cell is one (arm, axis values, seed): one Optuna trial, one MLflow child run (harness.records). A
study is its content: `revision` hashes what determines its results, so an edited file is a new
revision whose changed cells are new, never old runs under the old name. Values are checked by salt's
one validator (`salt.config`); errors name the file, the key path and what is allowed, and nothing is
created on error.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.records import MAX_RECORD, Cell, canonical, content_hash, make_cell, resolve
from salt.arms import ARMS, DATA_KEY, DRAW_KEY, get_arm
from salt.config import (RENAMED, SECTIONS, ConfigError, PerLanguage, RunConfig, build_config, check_rules,
                         check_value, config_field, config_fields, display_value, from_dict, identity, setting)
from salt.data.tasks import TASKS, get_task
from salt.metrics import AVG_TARGETS, accuracy_metric

DEFAULT_MAX_CELLS = 10_000  # a bigger grid is refused unless asked for (`--max-cells`): likely a typo in an axis
TOP_KEYS = {"name", "description", "task", "data", "model", "languages", "arms", "axes", "seeds", "draws", "data_seeds",
            "sampler",
            "output", *SECTIONS}


class StudyError(ValueError):
    def __init__(self, path: Path | str, key: str, message: str):
        self.path, self.key = str(path), key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


@dataclass(frozen=True)
class Sampler:
    type: Literal["grid", "tpe"] = setting("grid", "grid: every cell; tpe: Optuna's TPE within the axes")
    n_trials: int | None = setting(None, "tpe: the trial budget", ge=1)
    objective: str = setting(accuracy_metric("dev", AVG_TARGETS), "the run metric Optuna records (and TPE optimises)")
    direction: Literal["maximize", "minimize"] = setting("maximize", "of the objective")
    seed: int = setting(0, "the sampler's seed", ge=0)
    arm: str = setting("salt", "tpe: the arm whose axes are tuned")


@dataclass(frozen=True)
class Output:
    dir: str = setting("mlruns", "the local store: MLflow database, artifacts and the Optuna journal")
    tracking_uri: str | None = setting(None, "MLflow tracking URI (default: a SQLite database under dir)")
    storage: str | None = setting(None, "Optuna storage URL (default: a journal file under dir)")


@dataclass(frozen=True)
class SeedRounds:
    """`seeds: {min: 3, max: 10, step: 1, until: decided}`: seeds added in rounds, only to the comparisons the
    group-sequential rule (harness.stats.sequential) has not decided yet."""

    min: int
    max: int
    step: int = 1
    until: Literal["decided"] = "decided"

    KEYS = ("min", "max", "step", "until")

    def design(self, alpha: float = 0.05):
        from harness.stats.sequential import SequentialDesign

        return SequentialDesign(self.min, self.max, self.step, alpha)


@dataclass(frozen=True)
class StudySpec:
    name: str
    description: str
    base: RunConfig
    arms: tuple[str, ...]
    axes: dict[str, Any]  # grid: key -> list of values; tpe: key -> list (categorical) or {low, high, log, step}
    seeds: tuple[int, ...]
    sampler: Sampler = field(default_factory=Sampler)
    output: Output = field(default_factory=Output)
    path: str | None = None  # the study file it was read from (informational: workers read the store)
    rounds: SeedRounds | None = None  # sequential seeds: `seeds` is then range(max), run in rounds

    # ---- cells
    def axes_of(self, arm: str) -> list[str]:
        """The axes that can change `arm`'s result (the baseline ignores augmentation axes)."""
        return [k for k in self.axes if get_arm(arm).uses(k)]

    def cells(self) -> list[Cell]:
        """Every (arm, axis values, seed) of a grid study, in a stable order ([] for TPE)."""
        return list(self._cells)

    @cached_property
    def _cells(self) -> tuple[Cell, ...]:
        if self.sampler.type != "grid":
            return ()
        out = []
        for arm in self.arms:
            keys = self.axes_of(arm)
            for combo in itertools.product(*(self.axes[k] for k in keys)):
                for seed in self.seeds:
                    out.append(self.cell(arm, tuple(zip(keys, combo)), seed))
        return tuple(out)

    def cell_count(self) -> int:
        """How many cells the study has (grid), counted without building them; TPE: its trial budget."""
        if self.sampler.type != "grid":
            return self.sampler.n_trials or 0
        return len(self.seeds) * sum(math.prod(len(self.axes[k]) for k in self.axes_of(arm)) for arm in self.arms)

    def first_round(self) -> list[Cell]:
        """The cells every study runs: all of them, or under sequential seeds those of the first `min` seeds."""
        cells = self.cells()
        if self.rounds is None:
            return cells
        first = set(self.seeds[:self.rounds.min])
        return [c for c in cells if c.seed in first]

    def cell(self, arm: str, settings, seed: int) -> Cell:
        return make_cell(self.base, arm, settings, seed)[0]

    def config(self, cell: Cell) -> RunConfig:
        return resolve(self.base, cell.arm, cell.settings, cell.seed)

    # ---- identity
    def content(self) -> dict[str, Any]:
        """What determines the study's results: not its name, description, or where it is stored."""
        seeds = asdict(self.rounds) if self.rounds else list(self.seeds)
        return {"base": identity(self.base), "arms": list(self.arms), "axes": self.axes, "seeds": seeds,
                "sampler": asdict(self.sampler)}

    @cached_property
    def revision(self) -> str:
        return content_hash(self.content())[:12]

    def to_dict(self) -> dict[str, Any]:
        """The resolved study as stored with its runs; `from_dict` gives it back exactly."""
        return {"name": self.name, "description": self.description, "base": asdict(self.base),
                "arms": list(self.arms), "axes": self.axes, "seeds": list(self.seeds),
                "sampler": asdict(self.sampler), "output": asdict(self.output), "path": self.path,
                **({"rounds": asdict(self.rounds)} if self.rounds else {}), "revision": self.revision}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudySpec:
        spec = cls(name=data["name"], description=data["description"], base=from_dict(RunConfig, data["base"]),
                   arms=tuple(data["arms"]), axes=data["axes"], seeds=tuple(data["seeds"]),
                   sampler=Sampler(**data["sampler"]), output=Output(**data["output"]), path=data.get("path"),
                   rounds=SeedRounds(**data["rounds"]) if data.get("rounds") else None)
        if data.get("revision") not in (None, spec.revision):
            raise ValueError(f"stored study {data['name']!r} claims revision {data['revision']} but its content "
                             f"hashes to {spec.revision}: the store was edited or written by another version")
        return spec


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """`key: old -> new` for every setting that differs between two `StudySpec.content()` dicts."""
    def flat(content):
        out = {k: v for k, v in content["base"].items()}
        out.update({f"axes.{k}": v for k, v in content["axes"].items()})
        out.update({"arms": content["arms"], "seeds": content["seeds"]})
        out.update({f"sampler.{k}": v for k, v in content["sampler"].items()})
        return out

    a, b = flat(old), flat(new)
    shown = lambda key, v: "(none)" if v is _ABSENT else display_value(key, v)  # noqa: E731
    return [f"{k}: {shown(k, a.get(k, _ABSENT))} -> {shown(k, b.get(k, _ABSENT))}"
            for k in sorted(set(a) | set(b)) if canonical(a.get(k)) != canonical(b.get(k)) or (k in a) != (k in b)]


_ABSENT = object()


# --------------------------------------------------------------------------------------------- parsing

def load_study(path: str | Path, max_cells: int | None = None) -> StudySpec:
    """The study of a file; `max_cells` (None: no limit) refuses a grid bigger than that before building it."""
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
    return parse_study(raw, path, max_cells)


def parse_study(raw: Any, path: Path, max_cells: int | None = None) -> StudySpec:
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
    if not isinstance(raw["task"], str) or raw["task"] not in TASKS:
        raise err("task", f"{raw['task']!r} is not one of {', '.join(TASKS)}")
    task = get_task(raw["task"])

    data = _mapping(raw.get("data", {}), "data", path, {"source", "dir", "hub_id", "world"})
    source = data.get("source", task.sources[0])
    if source not in task.sources:
        raise err("data.source", f"{source!r} is not allowed for task {task.name}; allowed: {', '.join(task.sources)}")
    if source == "local" and not isinstance(data.get("dir"), str):
        raise err("data.dir", "a local data source needs dir: <directory with the released files>")
    data_dir = None
    if source == "local":
        data_dir = Path(data["dir"]) if Path(data["dir"]).is_absolute() else (path.parent / data["dir"]).resolve()
        if not data_dir.is_dir():
            raise err("data.dir", f"{data_dir} is not a directory")
    world = _config_value(path, "data.world", "world", data.get("world", "default"))
    model = raw.get("model", f"synthetic:{world}" if task.synthetic else None)
    if not isinstance(model, str) or not model:
        raise err("model", "required: a hub id (bert-base-multilingual-cased), a local directory or synthetic:<preset>")

    known_langs = task.languages(world)
    langs = _mapping(raw.get("languages", {}), "languages", path, {"source", "targets"})
    src = langs.get("source", task.spec.source_lang)
    if src not in known_langs:
        raise err("languages.source", f"{src!r} is not a language of {task.name}: {', '.join(known_langs)}")
    targets = langs.get("targets", "all")
    if targets == "all":
        targets = tuple(l for l in known_langs if l != src)
    if not isinstance(targets, list | tuple) or not targets:
        raise err("languages.targets", "a non-empty list of language codes, or 'all'")
    for i, lang in enumerate(targets):
        if lang not in known_langs or lang == src:
            raise err(f"languages.targets[{i}]", f"{lang!r} is not a target language of {task.name}: "
                      + ", ".join(l for l in known_langs if l != src))
    if len(set(targets)) != len(targets):
        raise err("languages.targets", "lists a language twice")

    base = _build(path, RunConfig(), [("task", task.name), ("data_source", source),
                                      ("data_dir", str(data_dir) if data_dir else None),
                                      ("hub_id", data.get("hub_id")), ("model", model), ("world", world),
                                      ("source_lang", src), ("target_langs", list(targets))], prefix="")
    if task.synthetic:
        from salt.presets import synthetic_defaults

        base = synthetic_defaults(base)
    for section in SECTIONS:
        values = raw.get(section, {})
        if values is None:
            continue
        if not isinstance(values, dict):
            raise err(section, "must be a mapping of settings, e.g. " + f"{section}: {{{_example(section)}}}")
        base = _build(path, base, [(f"{section}.{k}", v) for k, v in values.items()])
    try:
        check_rules(base)
    except ConfigError as e:
        raise StudyError(path, e.key, e.reason) from None

    arms = raw["arms"]
    if not isinstance(arms, list) or not arms:
        raise err("arms", f"a non-empty list of arms from: {', '.join(ARMS)}")
    for i, arm in enumerate(arms):
        if not isinstance(arm, str) or arm not in ARMS:
            raise err(f"arms[{i}]", f"{arm!r} is not one of {', '.join(ARMS)}")
    if len(set(arms)) != len(arms):
        raise err("arms", "lists an arm twice")

    sampler = _section(Sampler, raw.get("sampler", {}), "sampler", path)
    axes = _axes(raw.get("axes", {}), sampler, path)
    if sampler.type == "tpe":
        if not sampler.n_trials:
            raise err("sampler.n_trials", "a TPE study needs a trial budget: n_trials: <positive integer>")
        if sampler.arm not in arms:
            raise err("sampler.arm", f"{sampler.arm!r} must be one of the study's arms: {', '.join(arms)}")
    draws = raw.get("draws", 1)
    if not isinstance(draws, int) or isinstance(draws, bool) or draws < 1:
        raise err("draws", "a positive count of augmentation draws per training seed (draws: 3)")
    if draws > 1:
        drawing = [a for a in arms if ARMS[a].draws]
        if sampler.type != "grid":
            raise err("draws", "draws cross the draws with the seeds of a grid study; a TPE study cannot")
        if DRAW_KEY in axes:
            raise err("draws", f"set draws or the axis {DRAW_KEY}, not both")
        if not drawing:
            raise err("draws", "no arm of the study makes random draws (those that do: "
                      + ", ".join(a for a, arm in ARMS.items() if arm.draws) + ")")
        axes[DRAW_KEY] = list(range(draws))
    data_seeds = raw.get("data_seeds", 1)
    if not isinstance(data_seeds, int) or isinstance(data_seeds, bool) or data_seeds < 1:
        raise err("data_seeds", "a positive count of data orders per training seed (data_seeds: 3)")
    if data_seeds > 1:
        if sampler.type != "grid":
            raise err("data_seeds", "data_seeds cross the data orders with the seeds of a grid study; a TPE study cannot")
        if DATA_KEY in axes:
            raise err("data_seeds", f"set data_seeds or the axis {DATA_KEY}, not both")
        axes[DATA_KEY] = list(range(data_seeds))
    seeds, rounds = raw["seeds"], None
    if isinstance(seeds, dict):
        rounds = _rounds(seeds, sampler, path)
        seeds = list(range(rounds.max))
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds > 0:
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise err("seeds", "a positive count (seeds: 3) or a non-empty list of non-negative integers (seeds: [0, 1, 2])")
    if len(set(seeds)) != len(seeds):
        raise err("seeds", "lists a seed twice")
    output = _section(Output, raw.get("output", {}), "output", path)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise err("description", "must be a string")
    spec = StudySpec(name=name, description=description, base=base, arms=tuple(arms), axes=axes,
                     seeds=tuple(seeds), sampler=sampler, output=output, path=str(path), rounds=rounds)
    n = spec.cell_count()
    if max_cells is not None and spec.sampler.type == "grid" and n > max_cells:
        sizes = " x ".join(f"{len(v)} {k}" for k, v in axes.items()) or "no axes"
        raise err("axes", f"{n:,} cells ({len(arms)} arms, {sizes}, {len(seeds)} seeds) is more than the limit of "
                          f"{max_cells:,}: check the axes for a typo, or pass --max-cells {n} to run a study this big")
    _check_cells(spec, path)
    return spec


def _rounds(value: dict, sampler: Sampler, path: Path) -> SeedRounds:
    """`seeds: {min, max, step, until}`, checked by the sequential design itself (one validator)."""
    unknown = sorted(set(map(str, value)) - set(SeedRounds.KEYS))
    if unknown:
        raise StudyError(path, f"seeds.{unknown[0]}", f"unknown key; sequential seeds take {', '.join(SeedRounds.KEYS)}")
    if sampler.type != "grid":
        raise StudyError(path, "seeds", "sequential seeds add seeds to the cells of a grid study; a TPE study cannot")
    for key in ("min", "max"):
        if key not in value:
            raise StudyError(path, f"seeds.{key}", "required for sequential seeds (seeds: {min: 3, max: 10})")
    if value.get("until", "decided") != "decided":
        raise StudyError(path, "seeds.until", f"{value['until']!r}: the one rule is `decided` (seeds are added until "
                                              "every comparison is decided, or max)")
    rounds = SeedRounds(value["min"], value["max"], value.get("step", 1))
    try:
        rounds.design()
    except ValueError as bad:
        raise StudyError(path, "seeds", str(bad)) from None
    return rounds


def _check_cells(spec: StudySpec, path: Path) -> None:
    """Every cell resolves, and no two cells are the same run (e.g. axis values that mean the same)."""
    try:
        cells = spec.cells()
    except ConfigError as e:
        raise StudyError(path, f"axes.{e.key}", e.reason) from None
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.id in seen:
            raise StudyError(path, "axes", f"cells {seen[cell.id].label!r} and {cell.label!r} are the same run "
                             "(their settings resolve to one config): remove one of the values")
        if len(cell.to_json()) > MAX_RECORD:
            raise StudyError(path, "axes", f"cell {cell.label[:60]!r}... has settings too long to record "
                             f"({len(cell.to_json())} characters, at most {MAX_RECORD})")
        seen[cell.id] = cell


def _example(section: str) -> str:
    key = next(iter(k for k in config_fields() if k.startswith(section + ".")))
    f = config_field(key)
    return f"{key.split('.', 1)[1]}: {display_value(key, f.default)}"


def _build(path: Path, base: RunConfig, items, prefix: str = "") -> RunConfig:
    try:
        return build_config(base, items)
    except ConfigError as e:
        raise StudyError(path, f"{prefix}{e.key}", e.reason) from None


def _config_value(path: Path, where: str, key: str, value: Any) -> Any:
    try:
        return check_value(config_field(key), value)
    except ConfigError as e:
        raise StudyError(path, where, e.reason) from None


def _mapping(value: Any, key: str, path: Path, allowed: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StudyError(path, key, f"must be a mapping with keys from: {', '.join(sorted(allowed))}")
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        where = f"{key}.{unknown[0]}"
        if where in RENAMED:
            raise StudyError(path, where, f"renamed to {RENAMED[where]}: use that key")
        raise StudyError(path, where, f"unknown key; allowed: {', '.join(sorted(allowed))}")
    return value


def _section(cls, value: Any, key: str, path: Path):
    known = config_fields(cls)
    values = _mapping(value, key, path, set(known))
    out = {}
    for name, v in values.items():
        try:
            out[name] = check_value(known[name], v)
        except ConfigError as e:
            raise StudyError(path, f"{key}.{e.key}", e.reason) from None
    return cls(**out)


def _axes(value: Any, sampler: Sampler, path: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StudyError(path, "axes", "must be a mapping: <section>.<setting>: [values], e.g. augment.threshold: [0.3, 0.5]")
    axes = {}
    for key, values in value.items():
        where = f"axes.{key}"
        key = str(key)
        if key.split(".", 1)[0] not in SECTIONS or "." not in key:
            raise StudyError(path, where, "not a setting; axes are <section>.<setting> with section one of "
                             + ", ".join(SECTIONS) + " (e.g. augment.samples_per_lang)")
        try:
            f = config_field(key)
        except ConfigError as e:
            raise StudyError(path, where, e.reason) from None
        if not f.affects_results:
            raise StudyError(path, where, "does not change results (an operational setting): set it in the "
                             f"{key.split('.')[0]} section instead of making it an axis")
        if isinstance(values, dict) and sampler.type == "tpe":
            rng = _mapping(values, where, path, {"low", "high", "log", "step"})
            for bound in ("low", "high"):
                if not isinstance(rng.get(bound), int | float) or isinstance(rng.get(bound), bool):
                    raise StudyError(path, f"{where}.{bound}", "a TPE range needs numeric low and high")
                _checked(path, f, f"{where}.{bound}", rng[bound])
            if rng["low"] >= rng["high"]:
                raise StudyError(path, where, f"low ({rng['low']}) must be below high ({rng['high']})")
            axes[key] = dict(rng)
            continue
        if not isinstance(values, list) or not values:
            raise StudyError(path, where, "a non-empty list of values"
                             + (" (or, for TPE, {low, high, log})" if sampler.type == "tpe" else ""))
        checked = [_checked(path, f, f"{where}[{i}]", v) for i, v in enumerate(values)]
        if any(isinstance(v, PerLanguage) for v in checked):
            raise StudyError(path, where, "a per-language mapping cannot be an axis value (Optuna params are numbers "
                             "or names): set it in the augment section, or make augment.budget.total (with "
                             "augment.budget.rule) the axis")
        if len(set(map(canonical, checked))) != len(checked):
            raise StudyError(path, where, "lists a value twice")
        axes[key] = [list(v) if isinstance(v, tuple) else v for v in checked]
    return axes


def _checked(path: Path, f, where: str, value: Any) -> Any:
    try:
        return check_value(f, value)
    except ConfigError as e:
        raise StudyError(path, where, e.reason) from None


def smoke_spec(spec: StudySpec) -> StudySpec:
    """`--smoke`: the same study structure (arms, axes, sampler) on the task's small synthetic stand-in,
    one seed, at most 4 TPE trials, in a throwaway store keyed by the smoke study's content (its revision):
    two files that share a name never share a smoke store, and an edited file gets a fresh one."""
    import os
    import tempfile

    plan = get_task(spec.base.task).smoke
    stand_in = get_task(plan.task)
    langs = stand_in.languages(plan.world)
    base = replace(spec.base, task=plan.task, data_source="synthetic", data_dir=None, hub_id=None,
                   model=f"synthetic:{plan.world}", world=plan.world, source_lang=langs[0], target_langs=tuple(langs[1:]))
    base = build_config(base, plan.settings)
    sampler = replace(spec.sampler, n_trials=min(spec.sampler.n_trials or 0, 4) or None)
    root = Path(os.environ.get("SALT_SMOKE_DIR") or Path(tempfile.gettempdir()) / "salt-smoke")
    smoke = replace(spec, name=f"{spec.name}-smoke", base=base, seeds=spec.seeds[:1], sampler=sampler,
                    rounds=None)
    return replace(smoke, output=Output(dir=str(root / f"{spec.name}-{smoke.revision}")))


def preflight(spec: StudySpec) -> list[str]:
    """What would fail after training starts, found now: a model that cannot resolve, an objective that no
    run reports. Each problem is one sentence naming the key and the fix."""
    from salt.models import check_model
    from salt.run import metric_names

    problems = []
    model = check_model(spec.base.model)
    if model:
        problems.append(f"model: {model}")
    if any(get_arm(arm).uses("vocab.source") for arm in spec.arms):
        from salt.vocab_text import source_problems

        langs = [spec.base.source_lang, *(spec.base.target_langs or ())]
        problems += source_problems(spec.base, langs)
    names = metric_names(spec.base)
    if spec.sampler.objective not in names:
        problems.append(f"sampler.objective: {spec.sampler.objective!r} is not a metric a run reports; choose one of "
                        + ", ".join(names))
    return problems


def prepare_spec(path: str | Path, smoke: bool = False, check: bool = True,
                 max_cells: int | None = None) -> StudySpec:
    """The study of a file (or its `--smoke` stand-in), with `preflight` problems raised as one StudyError."""
    spec = load_study(path, max_cells)
    if smoke:
        spec = smoke_spec(spec)
    problems = preflight(spec) if check else []
    if problems:
        raise StudyError(path, "", "; ".join(problems))
    return spec
