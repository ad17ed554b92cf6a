"""GPU figures at mBERT scale: SALT's step overhead, our loop against transformers.Trainer, peak memory.

The paper's runs are mBERT on a GPU in bf16, where the balance differs from the tiny CPU model: the
embedding matrix is 119547 x 768, so mixup's second lookup and its dense gradient weigh far more.
Random weights and random tokens: no download, and speed does not depend on what the weights are.

Without CUDA every figure is recorded as not measured. SALT_BENCH_GPU_ON_CPU=1 runs the same code with a
tiny config on CPU in fp32, to check the code path on a machine with no GPU (figures not for quoting).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np
import torch

from benchmarks.common import Figure, interleaved, main
from benchmarks.trainer import RUNS

TITLES = {
    "gpu.salt_vs_vanilla": ("SALT step time / vanilla step time (mBERT-size, bf16, batch 32 x 128)", "x", 1.15),
    "gpu.ours_vs_trainer": ("our train_and_evaluate time / transformers.Trainer.train() time (mBERT-size, bf16)",
                            "x", 1.0),
    "gpu.peak_memory": ("peak GPU memory of our SALT step (mBERT-size, bf16, batch 32 x 128)", "MiB", None),
}


def figure(name: str, value, detail: dict | None = None, note: str = "") -> Figure:
    title, unit, target = TITLES[name]
    return Figure(name, title, value, unit, target=target, detail=detail or {}, note=note)


def run(opts: dict) -> list[Figure]:
    on_cpu = os.environ.get("SALT_BENCH_GPU_ON_CPU") == "1"
    if not torch.cuda.is_available() and not on_cpu:
        return [figure(name, None, note="no GPU available on this machine") for name in TITLES]
    from transformers import BertConfig

    quick = opts["quick"]
    if on_cpu:  # a tiny BERT, fp32: the same code path, seconds instead of minutes
        torch.set_num_threads(1)
        device, amp_dtype, batch, seq = torch.device("cpu"), None, 8, 32
        config = BertConfig(vocab_size=2000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=128, max_position_embeddings=128, type_vocab_size=2, num_labels=3)
    else:
        device, amp_dtype, batch, seq = torch.device("cuda"), torch.bfloat16, 32, 128
        config = BertConfig(vocab_size=119547, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                            intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2, num_labels=3)
    where = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (SALT_BENCH_GPU_ON_CPU=1: "
             "tiny config, fp32; a check of the code path, not a GPU figure)", "precision": str(amp_dtype or "fp32")}
    step_ratio, peak = step_figures(config, device, amp_dtype, batch, seq, quick, where)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return [step_ratio, trainer_figure(config, device, amp_dtype, batch, seq, quick, where), peak]


def sync(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def first_word_id(vocab_size: int) -> int:
    """Random tokens are drawn above the special and unused ids (mBERT's first ~1000; 0 is padding)."""
    return 1000 if vocab_size > 2000 else 5


def new_model(config, device, seed: int = 0):
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)  # same random initial weights for every model built here
    return BertForSequenceClassification(config).to(device).train()


def step_figures(config, device, amp_dtype, batch: int, seq: int, quick: bool, where: dict) -> tuple[Figure, Figure]:
    """SALT step (~30% of tokens switched, mixup on) vs vanilla step on one random batch; peak memory of SALT."""
    from benchmarks.train_step import breakdown, make_step
    from salt.train import build_optimizer
    from salt.config import MixupConfig, TrainConfig

    gen, lo = torch.Generator().manual_seed(0), first_word_id(config.vocab_size)
    ids = torch.randint(lo, config.vocab_size, (batch, seq), generator=gen)
    switch = torch.rand((batch, seq), generator=gen) < 0.3
    switch[:, 0] = switch[:, -1] = False  # [CLS] / [SEP] positions stay
    tgt = torch.where(switch, torch.randint(lo, config.vocab_size, (batch, seq), generator=gen), ids)
    types = torch.zeros_like(ids)
    types[:, seq // 2:] = 1
    labels = torch.randint(0, 3, (batch,), generator=gen)
    ids, tgt, types, labels = (t.to(device) for t in (ids, tgt, types, labels))

    cfg = TrainConfig(precision="bf16")  # mBERT defaults: lr 5e-5, warmup 0.1, weight decay 0.01, clip 1.0
    model = new_model(config, device)
    repeats, warmup = (5, 2) if quick else (50, 5)
    optim, sched = build_optimizer(model, cfg, 4 * (repeats + warmup), device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)  # bf16: off, as in train_and_evaluate
    step = make_step(model, optim, sched, scaler, ids, types, labels, 0, cfg.max_grad_norm,
                     torch.Generator().manual_seed(0), amp_dtype, sync(device))
    on, off = MixupConfig(enabled=True), MixupConfig(enabled=False)

    t = interleaved({"salt": lambda: step(tgt, on), "vanilla": lambda: step(ids, off)}, repeats=repeats, warmup=warmup)
    salt_s, vanilla_s = t["salt"]["median_s"], t["vanilla"]["median_s"]
    detail = where | {"salt_step_median_ms": salt_s * 1e3, "vanilla_step_median_ms": vanilla_s * 1e3,
                      "batch": batch, "seq_len": seq, "switched_token_share": float(switch.float().mean()),
                      "repeats": repeats, "salt_times_s": t["salt"]["times_s"],
                      "vanilla_times_s": t["vanilla"]["times_s"]}
    detail |= breakdown(model, ids, tgt, on, repeats, sync(device))
    ratio = salt_s / vanilla_s
    note = (f"BertForSequenceClassification, random weights and tokens, {detail['switched_token_share']:.0%} of tgt "
            f"tokens substituted, mixup on (token, uniform); step = batch_loss + backward + clip + fused AdamW + "
            f"schedule, {repeats} interleaved steps each, median, synchronised.")
    note += (f" SALT minus vanilla: {(salt_s - vanilla_s) * 1e3:.2f} ms per step; the mixup embedding path alone "
             f"(forward + backward) measures {detail['mixup_embed_ms'] - detail['plain_embed_ms']:.2f} ms more than "
             f"one lookup.")
    ratio_fig = figure("gpu.salt_vs_vanilla", ratio, detail, note)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        for _ in range(3):
            step(tgt, on)
        peak_fig = figure("gpu.peak_memory", torch.cuda.max_memory_allocated() / 2**20,
                          where | {"batch": batch, "seq_len": seq}, "torch.cuda.max_memory_allocated over 3 SALT "
                          "steps (fp32 weights, AdamW state, grads, bf16 autocast activations).")
    else:
        peak_fig = figure("gpu.peak_memory", None, where, "CPU check mode: no GPU memory to measure.")
    return ratio_fig, peak_fig  # the model and optimizer go with this frame


def random_encoded(n: int, seq: int, vocab: int, seed: int):
    """Random sentence pairs as salt.encode.Encoded: varied lengths, so dynamic padding matters."""
    from salt.encode import Encoded

    rng, lo = np.random.default_rng(seed), first_word_id(vocab)
    ids, types = [], []
    for length in rng.integers(seq // 4, seq + 1, n):
        row = rng.integers(lo, vocab, length)
        row[0], row[-1] = 101 % vocab, 102 % vocab  # [CLS] ... [SEP], mBERT's ids
        ids.append(row.astype(np.int64))
        types.append((np.arange(length) >= length // 2).astype(np.int64))
    return Encoded(ids, types, rng.integers(0, 3, n), [str(i) for i in range(n)], ["en"] * n)


def trainer_figure(config, device, amp_dtype, batch: int, seq: int, quick: bool, where: dict) -> Figure:
    """train_and_evaluate (baseline: no augmentation, no mixup) vs Trainer.train() on the same model and data."""
    try:
        import accelerate  # noqa: F401  (transformers.Trainer needs it on torch)
    except ImportError:
        return figure("gpu.ours_vs_trainer", None, where, "not measured: transformers.Trainer needs `accelerate>=1.1`")
    from salt.config import MixupConfig, TrainConfig
    from salt.train import BestCheckpoint, EvalSet, train_and_evaluate

    n = 256 if quick else 2048
    source = random_encoded(n, seq, config.vocab_size, seed=0)
    selection = random_encoded(32, seq, config.vocab_size, seed=1)
    cfg = TrainConfig(epochs=1, batch_size=batch, max_seq_len=seq, precision="bf16" if amp_dtype else "fp32")
    runs: dict[str, list[float]] = {"ours": [], "trainer": []}

    for _ in range(RUNS):  # alternate, so drift in machine speed hits both alike
        model = new_model(config, device)
        sync(device)()
        start = time.perf_counter()
        train_and_evaluate(model, 0, source, [], [EvalSet("dev", "en", selection)], [], cfg,
                           MixupConfig(enabled=False), seed=0, device=device)
        sync(device)()
        runs["ours"].append(time.perf_counter() - start)
        del model
        seconds, optim = trainer_seconds(config, device, amp_dtype, source, cfg)
        runs["trainer"].append(seconds)

    ours_s, trainer_s = statistics.median(runs["ours"]), statistics.median(runs["trainer"])
    model = new_model(config, device)  # what ours pays per improvement to keep the best weights (BestCheckpoint)
    best = BestCheckpoint(device)
    best.save(model)  # the first save allocates (on the device where it has room)
    sync(device)()
    start = time.perf_counter()
    best.save(model)  # each later one copies in place
    sync(device)()
    best_state_copy_s = time.perf_counter() - start
    best_where = str(best.where)
    del model, best
    detail = where | {"ours_median_s": ours_s, "trainer_median_s": trainer_s, "ours_examples_per_s": n / ours_s,
                      "trainer_examples_per_s": n / trainer_s, "ours_runs_s": runs["ours"],
                      "trainer_runs_s": runs["trainer"], "train_examples": n, "batch_size": batch,
                      "best_state_copy_s": best_state_copy_s, "best_state_on": best_where,
                      "trainer_optim": optim}
    note = (f"{n} random sentence pairs (lengths {seq // 4}-{seq}), 1 epoch, batch {batch}, lr {cfg.learning_rate:g}, "
            f"same warmup steps, weight decay, clip; dynamic padding by one small pad-to-longest collator for "
            f"Trainer; median of {RUNS} alternating runs each. Ours includes its one model-selection eval (32 "
            f"examples) and its best-checkpoint copy (in place on {best_where}, {best_state_copy_s * 1000:.1f} ms "
            f"measured); Trainer: default optimizer ({optim}), no eval, saving or reporting, Trainer.train() only.")
    return figure("gpu.ours_vs_trainer", ours_s / trainer_s, detail, note)


def trainer_seconds(config, device, amp_dtype, source, cfg) -> tuple[float, str]:
    from transformers import PrinterCallback, Trainer, TrainingArguments

    from salt.encode import pad

    def collate(rows):  # DataCollatorWithPadding without a tokenizer (we have none for random weights)
        ids = torch.as_tensor(pad([r["input_ids"] for r in rows], 0))
        return {"input_ids": ids, "token_type_ids": torch.as_tensor(pad([r["token_type_ids"] for r in rows], 0)),
                "attention_mask": (ids != 0).long(), "labels": torch.as_tensor([r["labels"] for r in rows])}

    rows = [{"input_ids": i, "token_type_ids": t, "labels": int(y)}
            for i, t, y in zip(source.input_ids, source.token_type_ids, source.labels)]
    total_steps = -(-len(rows) // cfg.batch_size)
    model = new_model(config, device)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, num_train_epochs=1, per_device_train_batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
            warmup_steps=int(cfg.warmup_ratio * total_steps), lr_scheduler_type="linear", bf16=amp_dtype is not None,
            eval_strategy="no", save_strategy="no", report_to=[], logging_steps=cfg.log_every, disable_tqdm=True,
            use_cpu=device.type == "cpu", dataloader_num_workers=0, remove_unused_columns=False, seed=0)
        trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collate)
        trainer.remove_callback(PrinterCallback)
        sync(device)()
        start = time.perf_counter()
        trainer.train()
        sync(device)()
        seconds = time.perf_counter() - start
    del trainer, model
    return seconds, str(getattr(args.optim, "value", args.optim))


if __name__ == "__main__":
    main(run)
