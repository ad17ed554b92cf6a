"""What SALT's online mixup costs per optimisation step, against plain fine-tuning on the same batch.

SALT trains on code-switched rows through `batch_loss` with mixup: two embedding lookups, a mix with a
fresh ratio per token, and the model fed `inputs_embeds`. Everything else in the step (backward, clipping,
AdamW, schedule) is shared, so the ratio isolates that overhead. If it grows, the demo's SALT arm gets slower.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from transformers import set_seed

from benchmarks.common import Figure, interleaved, main

ROOT = Path(__file__).resolve().parent.parent


def demo_setup():
    """The demo's SALT cell: its config, tokenizer, encoded source and real self-augmented rows."""
    from harness.study import load_study
    from salt.encode import encode
    from salt.run import cache_root, load_data, load_tokenizer, self_augment

    spec = load_study(ROOT / "studies" / "demo.yaml")
    cfg = spec.config(next(c for c in spec.cells() if c.arm == "salt"))
    inputs = load_data(cfg)
    data = inputs.data
    tokenizer = load_tokenizer(cfg.model, str(cache_root(cfg)))
    source = encode(tokenizer, data.get("train", cfg.source_lang), cfg.train.max_seq_len)
    aug = self_augment(cfg, tokenizer, source, inputs, list(cfg.target_langs), torch.device("cpu"))
    rows = [a for lang in cfg.target_langs for a in aug.examples[lang]]
    return cfg, data, tokenizer, source, rows


def make_step(model, optim, sched, scaler, ids, types, labels, pad_id: int, max_grad_norm: float, gen,
              amp_dtype=None, sync=lambda: None):
    """One optimisation step on a fixed batch, with the trainer's own functions (grad_accum 1)."""
    from salt.train import apply_update, batch_loss

    def step(tgt, mixup):
        loss = batch_loss(model, ids, tgt, types, labels, pad_id, mixup, gen, amp_dtype)
        scaler.scale(loss).backward()
        loss.detach().double()  # as the loop keeps it: on the device, read back only at logged updates
        apply_update(model, optim, sched, scaler, max_grad_norm)
        sync()

    return step


def run(opts: dict) -> list[Figure]:
    from salt.models import load_classifier
    from salt.run import cache_root
    from salt.train import _TrainSet, build_optimizer

    quick = opts["quick"]
    cfg, data, tokenizer, source, rows = demo_setup()
    torch.set_num_threads(cfg.train.threads or 1)  # the demo's workers train on 1 thread each
    pad_id = tokenizer.pad_token_id

    # 32 code-switched rows: ids = their source sentences, tgt = the switched ones (as _TrainSet serves them).
    pick = np.random.default_rng(0).choice(len(rows), cfg.train.batch_size, replace=False)
    ids, tgt, types, labels = (torch.as_tensor(a) for a in _TrainSet(source, rows).batch(len(source) + pick, pad_id))
    real = ids != pad_id
    switched = float(((ids != tgt) & real).sum() / real.sum())

    set_seed(cfg.seed)
    model = load_classifier(cfg.model, len(data.spec.labels), str(cache_root(cfg)))
    model.train()
    repeats, warmup = (5, 2) if quick else (100, 10)
    optim, sched = build_optimizer(model, cfg.train, 4 * (repeats + warmup), torch.device("cpu"))
    step = make_step(model, optim, sched, torch.amp.GradScaler("cuda", enabled=False), ids, types, labels, pad_id,
                     cfg.train.max_grad_norm, torch.Generator().manual_seed(cfg.seed))
    mixup_on, mixup_off = cfg.mixup, replace(cfg.mixup, enabled=False)

    t = interleaved({"salt": lambda: step(tgt, mixup_on), "vanilla": lambda: step(ids, mixup_off)},
                    repeats=repeats, warmup=warmup)
    salt_s, vanilla_s = t["salt"]["median_s"], t["vanilla"]["median_s"]
    ratio = salt_s / vanilla_s
    detail = {"salt_step_median_ms": salt_s * 1e3, "vanilla_step_median_ms": vanilla_s * 1e3,
              "batch": cfg.train.batch_size, "padded_len": ids.shape[1], "switched_token_share": switched,
              "repeats": repeats, "torch_threads": torch.get_num_threads(),
              "salt_times_s": t["salt"]["times_s"], "vanilla_times_s": t["vanilla"]["times_s"]}
    detail |= breakdown(model, ids, tgt, cfg.mixup, repeats)
    note = (f"Model {cfg.model}, {cfg.train.batch_size} real synthetic-NLI training pairs with their code-switched "
            f"copies from the real self-augmentation (salt.run.self_augment, demo SALT cell; "
            f"{switched:.0%} of tokens switched); step = batch_loss + backward + apply_update (clip, fused AdamW, schedule), "
            f"{repeats} interleaved steps each, median.")
    note += (f" SALT minus vanilla: {(salt_s - vanilla_s) * 1e3:.2f} ms per step; the mixup embedding path alone "
             f"(ratio draw, 2 lookups, mix; forward + backward) measures "
             f"{detail['mixup_embed_ms'] - detail['plain_embed_ms']:.2f} ms more than one lookup.")
    return [Figure("train_step.salt_vs_vanilla", "SALT step time / vanilla step time (same batch, CPU, 1 thread)",
                   ratio, "x", target=1.15, detail=detail, note=note)]


def breakdown(model, ids, tgt, mixup, repeats, sync=lambda: None) -> dict:
    """Where the SALT step's extra time goes: the embedding path alone, forward + backward."""
    from salt.mixup import mix_embeddings, sample_ratio

    embed, gen = model.get_input_embeddings(), torch.Generator().manual_seed(0)

    def plain():
        embed(ids).sum().backward()
        sync()

    def mixed():
        r = sample_ratio(mixup, (*ids.shape, embed.embedding_dim), gen, ids.device)
        mix_embeddings(embed, ids, tgt, r).sum().backward()
        sync()

    t = interleaved({"plain": plain, "mixed": mixed}, repeats=repeats, warmup=2)
    model.zero_grad(set_to_none=True)
    return {"plain_embed_ms": t["plain"]["median_s"] * 1e3, "mixup_embed_ms": t["mixed"]["median_s"] * 1e3}


if __name__ == "__main__":
    main(run)
