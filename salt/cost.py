"""What a run costs before it runs: its training rows, optimizer updates and the sentences its augmentation
proposes for, counted by the functions the run itself uses (salt.train.stage_sizes and stage_updates, salt.run's
row slices, salt.augment.budget), and the updates per second a few real steps take on this device.

Augmented rows are known before the proposals only as asked for: N = k per language selects k when the pool of
code-switched candidates holds k (a shorter pool gives fewer, and the run warns: degenerate augmentation); N = all,
or a count above the largest pool possible, can only be bounded (`upper_bound`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch

from salt.augment.budget import requested, taken
from salt.augment.switch import most_candidates
from salt.config import RunConfig
from salt.data.tasks import get_task
from salt.run import cache_root, load_data, pool_rows, source_rows, target_languages, torch_threads
from salt.train import stage_sizes, stage_updates

DATA_KEYS = ("task", "data_source", "data_dir", "hub_id", "world", "source_lang")  # what the task's loader reads


@dataclass(frozen=True)
class RunCost:
    source_rows: int  # source training rows
    augmented_rows: int  # code-switched rows trained on (0 for the step-matched control)
    matched_rows: int  # augmented rows a step-matched control stands in for with resampled source rows
    updates: int  # optimizer updates, over all stages
    proposal_sentences: int  # source sentences the augmentation proposes for (0 without augmentation)
    upper_bound: bool  # augmented (or matched) rows, hence rows and updates, are an upper bound

    @property
    def rows(self) -> int:
        """Rows one epoch of each stage draws: source, augmented and step-matched stand-ins."""
        return self.source_rows + self.augmented_rows + self.matched_rows


def data_key(cfg: RunConfig) -> tuple:
    return tuple(getattr(cfg, k) for k in DATA_KEYS)


@dataclass(frozen=True)
class DataSize:
    """What a cost needs of a task's data: its source training rows and its languages."""

    train_rows: int
    languages: tuple[str, ...]


def data_size(cfg: RunConfig) -> DataSize:
    """Load the task's data (the source language only, where the loader can select) and count its training rows."""
    data = load_data(replace(cfg, target_langs=())).data
    return DataSize(len(data.get("train", cfg.source_lang)), tuple(data.spec.languages))


def run_cost(cfg: RunConfig, size: DataSize) -> RunCost:
    """The cost of one run of `cfg` on data of `size`."""
    n_source = len(range(size.train_rows)[source_rows(cfg)])
    augmented = matched = sentences = 0
    bound = False
    if cfg.augment.enabled:
        sentences = len(range(n_source)[pool_rows(cfg)])
        targets = target_languages(cfg, size.languages)
        largest = most_candidates(cfg.augment, sentences)
        counts, _ = requested(cfg.augment, {lang: largest for lang in targets})
        selected = sum(taken(counts[lang], largest) for lang in targets)
        asked = cfg.augment.budget.total if cfg.augment.budget.total is not None else (
            math.inf if any(counts[lang] is None for lang in targets) else sum(counts.values()))
        bound = selected < asked
        augmented, matched = (0, selected) if cfg.train.equal_steps else (selected, 0)
    updates = sum(stage_updates(cfg.train, s) for s in stage_sizes(cfg.train, n_source, augmented, matched))
    return RunCost(n_source, augmented, matched, updates, sentences, bound)


def run_costs(cfgs: list[RunConfig]) -> list[RunCost]:
    """The cost of each config, loading each distinct task data once."""
    sizes: dict[tuple, DataSize] = {}
    out = []
    for cfg in cfgs:
        key = data_key(cfg)
        if key not in sizes:
            sizes[key] = data_size(cfg)
        out.append(run_cost(cfg, sizes[key]))
    return out


def proposal_key(cfg: RunConfig) -> tuple:
    """What a run's proposals depend on (salt.augment.proposals_folder: model, source rows, mode, unit, neutral
    tokens, top-k; its language subfolders: each language's vocabulary): runs with one key share one pass over
    the source sentences through the proposal cache."""
    a = cfg.augment
    return (cfg.model, data_key(cfg), cfg.train.max_train_examples, cfg.train.max_seq_len, a.max_source_examples,
            a.mode, a.unit, a.top_k, a.synonyms, cfg.target_langs, cfg.vocab)


# --------------------------------------------------------------------------------------------- throughput

@dataclass(frozen=True)
class Probe:
    """Updates per second measured by real optimizer steps, and what was measured."""

    updates_per_s: float
    device: str
    detail: str  # model, batch, sequence length, precision, steps timed


def probe_key(cfg: RunConfig) -> tuple:
    """The settings a step's time depends on: runs with one key share one probe."""
    t = cfg.train
    return (cfg.model, cfg.task, t.device, t.batch_size, t.grad_accum, t.max_seq_len, t.precision, t.threads,
            _mixes(cfg))


def _mixes(cfg: RunConfig) -> bool:
    """Whether the run's (mixed) stage mixes embeddings: augmented rows are trained and mixup is on."""
    return cfg.augment.enabled and not cfg.train.equal_steps and cfg.mixup.enabled


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def probe(cfg: RunConfig, steps: int = 5, warmup: int = 2) -> Probe:
    """Time `steps` real optimizer updates (after `warmup`) of the run's model at its batch size, gradient
    accumulation, full sequence length and precision, on its device. Full-length rows make it a slow-side
    estimate: the run pads each batch only to its longest row."""
    from salt.models import load_classifier, load_tokenizer, pick_device
    from salt.train import apply_update, batch_loss, build_optimizer

    t = cfg.train
    device = pick_device(t.device)
    cache = str(cache_root(cfg))
    with torch_threads(t.threads):
        tokenizer = load_tokenizer(cfg.model, cache)
        n_labels = len(get_task(cfg.task).labels)
        model = load_classifier(cfg.model, n_labels, cache).to(device)
        gen = torch.Generator().manual_seed(0)
        ids = torch.randint(0, len(tokenizer), (t.batch_size, t.max_seq_len), generator=gen)
        ids[ids == tokenizer.pad_token_id] = (tokenizer.pad_token_id + 1) % len(tokenizer)  # no padding: full rows
        batch = [x.to(device) for x in (ids, ids, torch.zeros_like(ids),
                                         torch.randint(0, n_labels, (t.batch_size,), generator=gen))]
        amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(t.precision) if device.type == "cuda" else None
        mixup = cfg.mixup if _mixes(cfg) else replace(cfg.mixup, enabled=False)
        optim, sched = build_optimizer(model, t, steps + warmup, device)
        scaler = torch.amp.GradScaler("cuda", enabled=amp is torch.float16)
        model.train()

        def update():
            for _ in range(t.grad_accum):
                loss = batch_loss(model, *batch, tokenizer.pad_token_id, mixup, gen, amp) / t.grad_accum
                scaler.scale(loss).backward()
            apply_update(model, optim, sched, scaler, t.max_grad_norm)

        for _ in range(warmup):
            update()
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            update()
        _sync(device)
        seconds = time.perf_counter() - start
    detail = (f"{cfg.model}, batch {t.batch_size} x {t.grad_accum} accumulated, {t.max_seq_len} tokens per row, "
              f"{t.precision if amp is not None else 'fp32'}{', mixup' if mixup.enabled else ''}; "
              f"{steps} updates timed after {warmup} warm-up")
    return Probe(steps / seconds, device_name(device), detail)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
