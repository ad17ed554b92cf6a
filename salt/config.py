"""Plain config objects for one SALT run.

Every choice the paper leaves open is a field with a documented default (an ablation axis), never a
hidden constant. The harness builds these from study files; `salt/` never sees a study file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class VocabConfig:
    """How a language's candidate vocabulary is derived from its unlabeled text (see salt/vocab.py)."""

    min_count: int = 2
    # Tokens frequent in the source language too (shared subwords, loan words): "exclude" keeps every
    # substitution a real switch of language; "keep" lets the MLM propose them.
    shared: Literal["exclude", "keep"] = "exclude"
    # Tokens with no letter (digits, punctuation) are language-neutral: never candidates, never replaced.
    neutral: Literal["exclude", "keep"] = "exclude"
    # Unlabeled text of each language: "corpus" (the synthetic world's monolingual corpora), a split
    # name whose text is used without labels ("dev", "train"), or "auto": corpus if any, else "dev".
    text_split: str = "auto"


@dataclass(frozen=True)
class AugmentConfig:
    """Offline self-augmentation: the MLM head proposes target-language substitutes for source tokens."""

    enabled: bool = True
    mode: Literal["visible", "masked"] = "visible"  # token kept visible (1 pass/sentence) or masked
    unit: Literal["word", "piece"] = "word"  # substitute single-piece words only, or any piece
    threshold: float = 0.3  # on the probability restricted (renormalised) to the target vocabulary
    max_ratio: float = 0.5  # at most this share of a sentence's eligible tokens is switched
    copies: int = 1  # augmented copies per source example and language (copy 0 = top-1 choices)
    synonyms: bool = False  # also propose source-language synonyms ...
    synonym_threshold: float = 0.5  # ... above their own threshold
    substitution: Literal["mlm", "random"] = "mlm"  # "random": the random-substitution control
    samples_per_lang: int | None = None  # N augmented examples per target language; None = all
    selection: Literal["confidence", "random"] = "confidence"  # "random": the random-sampling control
    top_k: int = 8  # proposals kept per position (memory bound; copies sample among them)
    batch_size: int = 64
    max_source_examples: int | None = None  # augment only the first M source examples (pool size)


@dataclass(frozen=True)
class MixupConfig:
    """Online mixup of aligned input embeddings: h = r*h_src + (1-r)*h_tgt."""

    enabled: bool = True
    granularity: Literal["token", "dim"] = "token"  # one r per token, or per embedding dimension
    distribution: Literal["uniform", "beta"] = "uniform"
    alpha: float = 1.0  # Beta(alpha, beta) parameters
    beta: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    learning_rate: float = 5e-5
    epochs: float = 3.0
    batch_size: int = 32
    grad_accum: int = 1
    max_seq_len: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    # Zero-shot protocol: pick the checkpoint on source-language dev; "target-dev" is the
    # (optimistic) per-target-dev alternative.
    model_selection: Literal["source-dev", "target-dev"] = "source-dev"
    evals_per_epoch: int = 1
    # Baseline trained for as many updates as the augmented run would take (source data resampled),
    # so that a gain is not merely more updates.
    equal_steps: bool = False
    max_train_examples: int | None = None  # cap on source training examples (smoke runs)
    max_eval_examples: int | None = None  # cap per language and split (smoke runs)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # mixed precision applies on GPU only
    device: str = "auto"
    threads: int | None = None  # torch CPU threads; None leaves torch's default
    eval_batch_size: int = 128
    # Batches of similar-length examples (`transformers`' group_by_length): windows of 50 batches
    # sorted by length, batch order shuffled. Off by default: on the synthetic world it made steps
    # 1.45x faster but cost SALT 10 points of target accuracy (3 seeds), as length tracks the label there.
    group_by_length: bool = False
    log_every: int = 20


@dataclass(frozen=True)
class RunConfig:
    """One training run: a task, a model, the method's settings and a seed."""

    task: str = "synthetic-nli"  # xnli | pawsx | synthetic-nli | synthetic-paraphrase
    data_source: Literal["hub", "local", "synthetic"] = "synthetic"
    data_dir: str | None = None
    hub_id: str | None = None
    # A hub id ("bert-base-multilingual-cased"), a local directory, or "synthetic:<preset>".
    model: str = "synthetic:default"
    world: str = "default"  # synthetic world preset (synthetic tasks only)
    source_lang: str = "en"
    target_langs: tuple[str, ...] | None = None  # None = every other language of the task
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    mixup: MixupConfig = field(default_factory=MixupConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    cache_dir: str | None = None  # None: $SALT_CACHE or ~/.cache/salt


def to_dict(cfg: Any) -> dict[str, Any]:
    return asdict(cfg)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a (nested) config dataclass from a plain dict, rejecting unknown keys."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} key(s): {', '.join(unknown)}; allowed: {', '.join(known)}")
    kwargs = {}
    for name, value in data.items():
        default = cls.__dataclass_fields__[name].default_factory  # type: ignore[attr-defined]
        nested = default() if callable(default) else None
        if is_dataclass(nested) and isinstance(value, dict):
            value = from_dict(type(nested), value)
        elif name == "target_langs" and value is not None:
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys (augment.threshold=0.3): the shape trackers and tables want."""
    out: dict[str, Any] = {}
    for key, value in (asdict(cfg) if is_dataclass(cfg) else cfg).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
