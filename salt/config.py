"""Plain config objects for one SALT run, and the one validator of their values.

Every choice the paper leaves open is a field with a documented default (an ablation axis), never a
hidden constant. Each field's metadata carries its help text and constraints (range, `all` for
None, whether it can change a result), and `build_config` is the only place values are checked:
study files, `compare --set` and every CLI flag go through it, so a value means the same wherever
it comes from. `salt/` never sees a study file.
"""
from __future__ import annotations

import functools
import json
import math
import re
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, Iterable, Literal, Mapping


def setting(default: Any, help: str, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, none: str | None = None, affects_results: bool = True,
            choices: str | None = None, short: str | None = None, added: bool = False):
    """A config field with its constraints.

    `none`: the word a user writes for None (`all` = no cap). `affects_results=False` marks operational
    settings (threads, batch size of inference) that a cell's identity ignores. `choices`: the name of a
    registry whose keys are the allowed values (`tasks`, `worlds`). `short`: its name in run names, where
    MLflow's run table cuts long ones (`N` for samples_per_lang). `added`: a setting added after stores
    existed: a cell's identity leaves it out while it is at its default, so their cells and revisions hold.
    """
    meta = {"help": help, "ge": ge, "gt": gt, "le": le, "none": none, "affects_results": affects_results,
            "choices": choices, "short": short, "added": added}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class VocabConfig:
    """Where each language's candidate vocabulary comes from (see salt/vocab.py and salt/vocab_text.py).

    The text must not be the evaluation text: substitutes steered to the exact words of the dev set whose
    accuracy is the sweep objective make the comparison optimistic. So real tasks default to leak-free
    text (wordfreq word lists), the task's dev text needs `allow_eval_text` (runs are tagged contaminated),
    and its test text is never used.
    """

    source: Literal["auto", "corpus", "wordfreq", "files", "hub", "task"] = setting(
        "auto", "auto: the synthetic world's corpora for synthetic tasks, wordfreq for real ones; corpus; wordfreq "
                "(word lists, offline); files ({dir}/{lang}.txt); hub (a monolingual `datasets` id); task "
                "(the task's own text of text_split)")
    min_count: int = setting(2, "a token is a candidate once seen this often in running text (word lists: once)",
                             ge=1)
    # Tokens frequent in the source language too (shared subwords, loan words): "exclude" keeps every
    # substitution a real switch of language; "keep" lets the MLM propose them.
    shared: Literal["exclude", "keep"] = setting(
        "exclude", "tokens frequent in the source too: exclude keeps every substitution a real switch of language")
    neutral: Literal["exclude", "keep"] = setting(
        "exclude", "tokens with no letter (digits, punctuation): never candidates, never replaced")
    text_split: Literal["train", "dev", "test"] = setting(
        "dev", "source task: the split whose text (labels unused) is read; dev needs allow_eval_text, test is refused")
    allow_eval_text: bool = setting(False, "accept evaluation (dev) text as the vocabulary source: runs are "
                                           "tagged contaminated")
    dir: str | None = setting(None, "source files: the directory of {lang}.txt files (one text per line)")
    hub_id: str | None = setting(None, "source hub: a `datasets` id with one config per language")
    hub_config: str = setting("{lang}", "source hub: the config name, {lang} replaced (e.g. 20231101.{lang})")
    hub_split: str = setting("train", "source hub: the split streamed")
    hub_column: str = setting("text", "source hub: the text column")
    hub_revision: str | None = setting(None, "source hub: the dataset's commit or tag; part of the vocabulary "
                                             "cache's key (unpinned, a cached vocabulary is kept as the hub changes)",
                                     added=True)
    max_texts: int = setting(100_000, "source files and hub: the first texts read per language (a file's lines, "
                                      "a hub dataset's rows)", ge=1)
    wordfreq_words: int = setting(50_000, "source wordfreq: the most frequent words taken per language", ge=1)


class PerLanguage(tuple):
    """Counts per target language (`{fr: 200, de: 800}`), held as sorted (language, count) pairs so a config
    stays frozen and hashable; a count of None is `all`."""

    @classmethod
    def of(cls, pairs: Mapping[str, Any] | Iterable) -> PerLanguage:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        return cls(sorted((str(k), v) for k, v in items))

    def as_dict(self) -> dict[str, int | None]:
        return dict(self)


@dataclass(frozen=True)
class BudgetConfig:
    """One total of augmented examples shared among the target languages by a rule, instead of a count each.

    The shares follow each language's pool (its code-switched candidates): uniform, proportional to the pool, or
    proportional to pool**alpha (the temperature rule mBERT used for its languages, alpha 0.7). A language
    whose share exceeds its pool gets its pool and the rest is shared among the others.
    """

    total: int | None = setting(None, "augmented examples over all target languages (null: samples_per_lang "
                                      "decides)", ge=0)
    rule: Literal["uniform", "proportional", "temperature"] = setting(
        "uniform", "how the total is shared: equally, by pool size, or by pool size ** alpha")
    alpha: float = setting(0.7, "temperature rule: shares by pool ** alpha (1: proportional, 0: uniform)", ge=0, le=1)


@dataclass(frozen=True)
class AugmentConfig:
    """Offline self-augmentation: the MLM head proposes target-language substitutes for source tokens."""

    enabled: bool = setting(True, "augment at all (arms set this)")
    mode: Literal["visible", "masked"] = setting("visible", "token kept visible (1 pass per sentence) or masked")
    unit: Literal["word", "piece"] = setting("word", "substitute single-piece words only, or any piece")
    threshold: float = setting(0.3, "minimum probability of a substitute (its meaning: threshold_on)", ge=0, le=1)
    # What the threshold is applied to. "restricted" (the default, as in SALT): the probability renormalised
    # over the target language's candidates, whose meaning shifts with the candidate set's size (a language
    # with few candidates gets confident proposals more easily). "full": the probability under the MLM's
    # whole vocabulary, independent of the candidate set. "quantile": the threshold is a quantile of the
    # language's top-1 restricted probabilities, so every language keeps the same share of its positions.
    threshold_on: Literal["restricted", "full", "quantile"] = setting(
        "restricted", "restricted (renormalised over the target candidates), full (whole vocabulary) or quantile "
                      "(a per-language quantile of top-1 probabilities)")
    max_ratio: float = setting(0.5, "at most this share of a sentence's eligible tokens is switched", ge=0, le=1)
    copies: int = setting(1, "augmented copies per source example and language (copy 0 = top-1 choices)", ge=1)
    synonyms: bool = setting(False, "also propose source-language synonyms")
    synonym_threshold: float = setting(0.5, "minimum probability of a synonym", ge=0, le=1)
    substitution: Literal["mlm", "random", "random-frequency"] = setting(
        "mlm", "random: the random-substitution control, target tokens drawn uniformly; random-frequency: drawn "
               "by their frequency in the target text (a control closer to real text)")
    samples_per_lang: int | PerLanguage | None = setting(
        None, "augmented examples per target language: one number, all (no cap), or {lang: count, ...}", ge=0,
        none="all", short="N")
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    selection: Literal["confidence", "random"] = setting("confidence", "random: the random-sampling control")
    # The draws of augmentation (random selection, sampled copies, random substitutes) apart from the
    # training seed, so that selection luck and training noise can be told apart.
    draw_seed: int | None = setting(None, "seed of the augmentation's random draws (null: the run's seed)", ge=0)
    top_k: int = setting(8, "proposals kept per position (memory bound; copies sample among them)", ge=1)
    batch_size: int | None = setting(None, "sentences per MLM forward pass (auto: from the vocabulary size and the "
                                           "device's free memory, at most 64 on CPU)", ge=1, none="auto",
                                     affects_results=False)
    max_source_examples: int | None = setting(None, "augment only the first M source examples (the pool)",
                                              ge=1, none="all")


@dataclass(frozen=True)
class MixupConfig:
    """Online mixup of aligned input embeddings: h = r*h_src + (1-r)*h_tgt."""

    enabled: bool = setting(True, "mix the embeddings of original and code-switched tokens")
    # The paper describes r as a random vector per instance: one r in [0,1]^d shared by the instance's tokens.
    granularity: Literal["vector", "token", "dim"] = setting(
        "vector", "r: one vector per instance (the paper), one scalar per token, or per token and dimension")
    distribution: Literal["uniform", "beta"] = setting("uniform", "the distribution r is drawn from")
    alpha: float = setting(1.0, "Beta(alpha, beta): alpha", gt=0)
    beta: float = setting(1.0, "Beta(alpha, beta): beta", gt=0)


@dataclass(frozen=True)
class TrainConfig:
    learning_rate: float = setting(5e-5, "peak learning rate (AdamW)", gt=0)
    epochs: float = setting(3.0, "passes over the training examples", gt=0)
    batch_size: int = setting(32, "examples per micro-batch", ge=1)
    grad_accum: int = setting(1, "micro-batches per optimizer update", ge=1)
    max_seq_len: int = setting(128, "tokens per example (pair) after truncation", ge=4)
    warmup_ratio: float = setting(0.1, "share of the updates with a rising learning rate", ge=0, le=1)
    weight_decay: float = setting(0.01, "AdamW weight decay (not on biases and norms)", ge=0)
    max_grad_norm: float = setting(1.0, "gradient clipping norm", gt=0)
    model_selection: Literal["source-dev", "target-dev"] = setting(
        "source-dev", "checkpoint chosen on source-language dev (zero-shot protocol) or on target dev (optimistic)")
    evals_per_epoch: int = setting(1, "model-selection evaluations per epoch", ge=1)
    equal_steps: bool = setting(
        False, "train as many updates as the augmented run would (source data resampled)")
    # "intermediate": the augmented examples as an intermediate task (X-STILTs style), then the source task; the
    # checkpoint is chosen in the last stage, so every reported model went through both.
    schedule: Literal["mixed", "intermediate"] = setting(
        "mixed", "mixed: source and augmented examples shuffled together; intermediate: first the augmented "
                 "examples (their own epochs and learning rate), then the source task")
    intermediate_epochs: float = setting(1.0, "schedule intermediate: passes over the augmented examples", gt=0)
    intermediate_learning_rate: float | None = setting(
        None, "schedule intermediate: peak learning rate of the first stage (null: learning_rate)", gt=0)
    max_train_examples: int | None = setting(None, "cap on source training examples (all = none)", ge=1,
                                             none="all")
    max_eval_examples: int | None = setting(None, "cap per language and split (all = none)", ge=1, none="all")
    precision: Literal["fp32", "bf16", "fp16"] = setting("fp32", "mixed precision (GPU only)")
    # On by choice, as it costs speed: CPU runs repeat bitwise without it, GPU runs only with it (salt.train's
    # deterministic_mode), and then only on the same GPU model, driver and library versions. It picks which of
    # equally valid results a GPU returns, not what a run measures, so like `device` it is recorded with each run
    # (a param) but is not part of the cell's identity: stores made before it existed stay valid.
    deterministic: bool = setting(False, "deterministic GPU kernels (torch deterministic algorithms, cuBLAS "
                                         "workspace :4096:8, no cuDNN autotuning): GPU runs repeat bitwise, slower",
                                  affects_results=False)
    device: str = setting("auto", "auto, cpu, cuda or cuda:N", affects_results=False)
    threads: int | None = setting(None, "torch CPU threads (null: torch's default)", ge=1, affects_results=False)
    eval_batch_size: int = setting(128, "examples per evaluation batch", ge=1, affects_results=False)
    # Batches of similar-length examples (`transformers`' group_by_length): windows of 50 batches
    # sorted by length, batch order shuffled. Off by default: on the synthetic world it made steps
    # 1.45x faster but cost SALT 10 points of target accuracy (3 seeds), as length tracks the label there.
    group_by_length: bool = setting(False, "batches of similar-length examples")
    # Dodge et al. (2020): weight initialisation and data order each move fine-tuning results about as much, so
    # they get seeds of their own: `seed` initialises the classifier head, `data_seed` orders the data.
    data_seed: int | None = setting(None, "seed of the data order, dropout and mixup draws (null: the run's seed, "
                                          "which then seeds the classifier head alone)", ge=0)
    log_every: int = setting(20, "updates between logged losses", ge=1, affects_results=False)


@dataclass(frozen=True)
class RunConfig:
    """One training run: a task, a model, the method's settings and a seed."""

    task: str = setting("synthetic-nli", "a registered task (salt.data.tasks)", choices="tasks")
    data_source: Literal["hub", "local", "synthetic"] = setting("synthetic", "where the task's data comes from")
    data_dir: str | None = setting(None, "local directory with the released files (data_source local)")
    hub_id: str | None = setting(None, "override the task's `datasets` id (data_source hub)")
    model: str = setting("synthetic:default", "a hub id, a local directory, or synthetic:<preset>")
    world: str = setting("default", "synthetic world preset (synthetic tasks only)", choices="worlds")
    source_lang: str = setting("en", "the language with training data")
    target_langs: tuple[str, ...] | None = setting(None, "zero-shot languages (null: every other language)")
    seed: int = setting(0, "training seed: the classifier head's initialisation, and the data order, dropout and mixup "
                           "unless train.data_seed, and the augmentation's draws unless augment.draw_seed", ge=0)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    mixup: MixupConfig = field(default_factory=MixupConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    cache_dir: str | None = setting(None, "caches (null: $SALT_CACHE or ~/.cache/salt)", affects_results=False)


SECTIONS = {"train": TrainConfig, "augment": AugmentConfig, "mixup": MixupConfig, "vocab": VocabConfig}


class ConfigError(ValueError):
    """A setting that does not exist or a value it cannot take; `key` is the dotted setting."""

    def __init__(self, key: str, message: str):
        self.key, self.reason = key, message
        super().__init__(f"{key}: {message}")


# --------------------------------------------------------------------------------------------- fields

@dataclass(frozen=True)
class Field:
    """A leaf setting: its dotted key, type annotation and constraints."""

    key: str
    annotation: Any
    default: Any
    meta: Mapping[str, Any]

    @property
    def help(self) -> str:
        return self.meta.get("help", "")

    @property
    def affects_results(self) -> bool:
        return self.meta.get("affects_results", True)

    @property
    def choices(self) -> tuple | None:
        if typing.get_origin(self.annotation) is Literal:
            return typing.get_args(self.annotation)
        if self.meta.get("choices"):
            return tuple(_registry(self.meta["choices"]))
        return None


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def config_fields(cls: type = RunConfig, prefix: str = "") -> dict[str, Field]:
    """Every leaf setting of a config dataclass by dotted key (augment.threshold); any dataclass whose
    fields are `setting`s (the harness's own sections too) is checked by the same `check_value`."""
    out: dict[str, Field] = {}
    for f in fields(cls):
        annotation = _hints(cls)[f.name]
        if is_dataclass(annotation):
            out.update(config_fields(annotation, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = Field(f"{prefix}{f.name}", annotation, f.default, f.metadata)
    return out


RENAMED = {"vocab.max_lines": "vocab.max_texts"}  # old key -> new: a study file with the old one is told the new


def config_field(key: str) -> Field:
    found = config_fields().get(key)
    if found is None and key in RENAMED:
        raise ConfigError(key, f"renamed to {RENAMED[key]}: use that key")
    if found is None:
        section = key.split(".", 1)[0]
        if section in SECTIONS and "." in key:
            names = [k.split(".", 1)[1] for k in config_fields() if k.startswith(section + ".")]
            raise ConfigError(key, f"unknown setting; {section} has: {', '.join(names)}")
        raise ConfigError(key, "unknown setting; settings are " + ", ".join(
            k for k in config_fields() if "." not in k) + " and <section>.<name> with section one of "
            + ", ".join(SECTIONS))
    return found


def _registry(name: str) -> Iterable[str]:
    if name == "tasks":
        from salt.data.tasks import TASKS

        return TASKS
    if name == "worlds":
        from salt.synthetic.world import WORLD_PRESETS

        return WORLD_PRESETS
    raise KeyError(name)


# --------------------------------------------------------------------------------------------- values

_EXPONENT = re.compile(r"[-+]?\d+[eE][-+]?\d+")


def parse_value(key: str, value: Any, *, text: bool = False) -> Any:
    """`value` checked against the RunConfig setting `key` (dotted), in the field's own shape."""
    return check_value(config_field(key), value, text=text)


def check_value(f: Field, value: Any, *, text: bool = False) -> Any:
    """`value` checked against a field's type and constraints, in the field's own shape.

    `text=True`: `value` is a command-line string, parsed as the declared type (`train.epochs=2`,
    `augment.samples_per_lang=all`, `target_langs=fr,de`). Otherwise it is a typed value (YAML), and a
    string where a number belongs is an error that names the usual cause (quotes; YAML 1.1 reading
    `1e-5` as a string).
    """
    return _check(f, f.annotation, _from_text(f, value) if text else value)


def _from_text(f: Field, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    s = raw.strip()
    options = _options(f.annotation)
    if s.lower() in ("null", "none") and type(None) in options:
        return None
    if f.meta.get("none") and s == f.meta["none"]:
        return None
    for opt in options:
        if opt is bool and s.lower() in ("true", "false"):
            return s.lower() == "true"
        if opt is int and re.fullmatch(r"[-+]?\d+", s):
            return int(s)
        if opt is float:
            try:
                return float(s)
            except ValueError:
                pass
        if opt is PerLanguage and s.startswith("{"):
            import yaml

            return yaml.safe_load(s)
        if typing.get_origin(opt) is tuple:
            if s.startswith("["):
                import yaml

                return yaml.safe_load(s)
            return [p.strip() for p in s.split(",") if p.strip()]
    return s


def _options(annotation) -> tuple:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _check(f: Field, annotation: Any, value: Any) -> Any:
    key, meta = f.key, f.meta
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if meta.get("none") and value == meta["none"]:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check(f, arg, value)
            except ConfigError as err:
                errors.append(err.reason)
        allowed = " or ".join(_describe(a, meta) for a in args)
        detail = next((e for e in errors if not e.startswith("expected")), None)
        raise ConfigError(key, detail or f"{value!r} is not valid: expected {allowed}{_string_hint(value)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(key, f"{value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(key, f"expected a list, got {value!r}")
        return tuple(_check(replace(f, key=f"{key}[{i}]"), args[0], v) for i, v in enumerate(value))
    if annotation is PerLanguage:
        return _per_language(f, value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}{_string_hint(value)}")
        return _bounds(f, value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"expected a number, got {value!r}{_string_hint(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(key, f"expected a finite number, got {value}")
        return _bounds(f, value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}")
        choices = f.choices
        if choices is not None and value not in choices:
            raise ConfigError(key, f"{value!r} is not one of {', '.join(choices)}")
        return value
    raise ConfigError(key, f"cannot check a value of type {annotation!r}")


def _per_language(f: Field, value: Any) -> PerLanguage:
    """`{fr: 200, de: all}` (YAML) or its stored form, a list of pairs; each count checked like a single one."""
    if isinstance(value, list | tuple) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f.key, f"expected {{language: count, ...}}, got {value!r}")
    out = []
    for lang, n in value.items():
        try:
            out.append((str(lang), _check(replace(f, annotation=int | None), int | None, n)))
        except ConfigError as e:
            raise ConfigError(f.key, f"{lang}: {e.reason}") from None
    return PerLanguage.of(out)


def _bounds(f: Field, value: float) -> float:
    ge, gt, le = f.meta.get("ge"), f.meta.get("gt"), f.meta.get("le")
    if ge is not None and value < ge or gt is not None and value <= gt or le is not None and value > le:
        raise ConfigError(f.key, f"must be {_range(f.meta)}, got {value}")
    return value


def _range(meta) -> str:
    low = f">= {meta['ge']:g}" if meta.get("ge") is not None else f"> {meta['gt']:g}" if meta.get("gt") is not None else ""
    high = f"<= {meta['le']:g}" if meta.get("le") is not None else ""
    if meta.get("ge") is not None and high:
        return f"in [{meta['ge']:g}, {meta['le']:g}]"
    return " and ".join(p for p in (low, high) if p)


def _string_hint(value: Any) -> str:
    """Why a number arrived as a string, so the fix is in the message."""
    if not isinstance(value, str):
        return ""
    s = value.strip()
    if _EXPONENT.fullmatch(s):
        return (f" (YAML 1.1 reads {s} as a string: an exponent needs a dot, write "
                f"{s.split('e')[0].split('E')[0]}.0e{re.split('[eE]', s)[1]})")
    try:
        float(s)
    except ValueError:
        return ""
    return " (a quoted number is a string: remove the quotes)"


def _describe(annotation, meta) -> str:
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    if annotation is type(None):
        return f"{meta['none']} (or null)" if meta.get("none") else "null"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             PerLanguage: "{language: count, ...}"}
    text = names.get(annotation, getattr(annotation, "__name__", str(annotation)))
    rng = _range(meta) if annotation in (int, float) else ""
    return f"{text} {rng}" if rng else text


def display_value(key: str, value: Any) -> str:
    """How a setting's value is shown to people: `all` for an uncapped count, JSON for lists."""
    f = config_fields().get(key)
    if value is None:
        return f.meta["none"] if f is not None and f.meta.get("none") else "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, PerLanguage):
        return "{" + ", ".join(f"{lang}: {display_value(key, n)}" for lang, n in value) + "}"
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    return str(value)


# --------------------------------------------------------------------------------------------- building

def set_path(cfg: Any, key: str, value: Any) -> Any:
    """`cfg` with the dotted setting replaced (no validation: use `build_config`)."""
    head, _, rest = key.partition(".")
    if rest:
        return replace(cfg, **{head: set_path(getattr(cfg, head), rest, value)})
    return replace(cfg, **{head: tuple(value) if isinstance(value, list) else value})  # PerLanguage is typed already


def build_config(base: RunConfig | None = None, overrides: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 *, text: bool = False) -> RunConfig:
    """`base` with every override checked (`parse_value`) and applied; raises ConfigError naming the key."""
    cfg = base if base is not None else RunConfig()
    for key, value in (overrides.items() if isinstance(overrides, Mapping) else overrides):
        for leaf, v in dotted(key, value):
            cfg = set_path(cfg, leaf, parse_value(leaf, v, text=text))
    return cfg


def dotted(key: str, value: Any) -> list[tuple[str, Any]]:
    """A nested section written as a mapping (`augment.budget: {total: 4000}`) as its leaf settings."""
    known = config_fields()
    if key not in known and isinstance(value, Mapping) and any(k.startswith(key + ".") for k in known):
        return [pair for k, v in value.items() for pair in dotted(f"{key}.{k}", v)]
    return [(key, value)]


def check_config(cfg: RunConfig) -> RunConfig:
    """Every setting checked, then the rules that tie settings together."""
    for key, value in flatten(cfg).items():
        parse_value(key, value)
    return check_rules(cfg)


def check_rules(cfg: RunConfig) -> RunConfig:
    """The rules that tie settings together (`RULES`); a ConfigError names the setting to change."""
    for rule in RULES:
        rule(cfg)
    return cfg


def contaminated(cfg: RunConfig) -> bool:
    """Whether the candidate vocabularies come from evaluation text (the task's dev split)."""
    return cfg.vocab.source == "task" and cfg.vocab.text_split != "train"


def _vocab_text(cfg: RunConfig) -> None:
    v = cfg.vocab
    if v.text_split == "test":
        raise ConfigError("vocab.text_split", "the test split is evaluation text and never builds vocabularies: use "
                          "a leak-free vocab.source (wordfreq, files, hub) or, knowingly, text_split dev with "
                          "allow_eval_text: true")
    if contaminated(cfg) and not v.allow_eval_text:
        raise ConfigError("vocab.source", "task text of the dev split is the evaluation text the objective is "
                          "measured on (a leak): use a leak-free source (wordfreq, files, hub), text_split train, or "
                          "set vocab.allow_eval_text: true to accept it (runs are tagged contaminated)")
    if v.source == "files" and not v.dir:
        raise ConfigError("vocab.dir", "vocab.source files needs dir: a directory of {lang}.txt files")
    if v.source == "hub" and not v.hub_id:
        raise ConfigError("vocab.hub_id", "vocab.source hub needs hub_id: a `datasets` id with one config per language "
                          "(e.g. wikimedia/wikipedia with hub_config 20231101.{lang})")


def _budget(cfg: RunConfig) -> None:
    if cfg.augment.budget.total is not None and cfg.augment.samples_per_lang is not None:
        raise ConfigError("augment.budget.total", "a total budget and augment.samples_per_lang both set the counts: "
                          "keep one (samples_per_lang: all leaves the counts to the budget)")


def _schedule(cfg: RunConfig) -> None:
    if cfg.train.schedule == "intermediate" and cfg.train.group_by_length:
        raise ConfigError("train.group_by_length", "is not supported with train.schedule intermediate; set it false")


RULES = (_vocab_text, _budget, _schedule)


def parse_assignment(text: str) -> tuple[str, str]:
    """`KEY=VALUE` from the command line."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(text, "expected KEY=VALUE, e.g. augment.threshold=0.5")
    return key.strip(), raw


# --------------------------------------------------------------------------------------------- views

def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a (nested) config dataclass from a plain dict, rejecting unknown keys."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} key(s): {', '.join(unknown)}; allowed: {', '.join(known)}")
    kwargs = {}
    for name, value in data.items():
        nested = _hints(cls)[name]
        if is_dataclass(nested) and isinstance(value, dict):
            value = from_dict(nested, value)
        elif PerLanguage in _options(nested) and isinstance(value, list | dict):
            value = PerLanguage.of(dict(value))
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys (augment.threshold=0.3): the shape trackers and tables want. Reads the fields directly
    (no `asdict` deep copy): a study builds one per cell, and 50,000 cells must stay quick."""
    items = ((f.name, getattr(cfg, f.name)) for f in fields(cfg)) if is_dataclass(cfg) else cfg.items()
    out: dict[str, Any] = {}
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict) or is_dataclass(value):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def identity(cfg: RunConfig, ignore: Iterable[str] = ()) -> dict[str, Any]:
    """The settings that determine a run's result: operational ones and `ignore`d sections left out."""
    ignored = tuple(f"{s}." for s in ignore)
    known = config_fields()
    former = {new: old for old, new in RENAMED.items()}  # a renamed setting keeps its old name here: same cells
    return {former.get(k, k): v.as_dict() if isinstance(v, PerLanguage) else list(v) if isinstance(v, tuple) else v
            for k, v in flatten(cfg).items() if known[k].affects_results and not k.startswith(ignored)
            and not (known[k].meta.get("added") and v == known[k].default)}
