"""Our own training loop against a plain `transformers.Trainer`, on the baseline arm (no augmentation, no mixup).

salt/train.py keeps a hand-written loop because mixup needs the input embeddings of two aligned sequences;
that choice is only free if the loop is no slower than the library's on the plain fine-tuning it replaces.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common import Figure, main

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3  # each, alternating; with 2 the median is the mean, and one descheduled run moves it
NAME, TITLE = "trainer.ours_vs_trainer", "our train_and_evaluate time / transformers.Trainer.train() time (CPU)"


def run(opts: dict) -> list[Figure]:
    from harness.study import load_study
    from salt.encode import encode
    from salt.run import cache_root, load_data, load_tokenizer

    try:
        import accelerate  # noqa: F401  (transformers.Trainer needs it on torch)
    except ImportError:
        return [Figure(NAME, TITLE, None, "x", target=1.0, note="not measured: transformers.Trainer needs "
                       "`accelerate>=1.1`, which is not installed (pip install 'accelerate>=1.1')")]

    n_train = 200 if opts["quick"] else 2000
    spec = load_study(ROOT / "studies" / "demo.yaml")
    cfg = spec.config(next(c for c in spec.cells() if c.arm == "baseline"))
    cfg = replace(cfg, train=replace(cfg.train, epochs=1))
    torch.set_num_threads(1)
    data = load_data(cfg).data
    tokenizer = load_tokenizer(cfg.model, str(cache_root(cfg)))
    source = encode(tokenizer, data.get("train", cfg.source_lang)[:n_train], cfg.train.max_seq_len)
    selection = encode(tokenizer, data.get("dev", cfg.source_lang)[:32], cfg.train.max_seq_len)
    n_labels = len(data.spec.labels)

    runs = {"ours": [], "trainer": []}
    losses = {}
    for _ in range(RUNS):  # alternate, so drift in machine speed hits both alike
        seconds, losses["ours"] = ours(cfg, tokenizer, source, selection, n_labels)
        runs["ours"].append(seconds)
        seconds, losses["trainer"], trainer_info = hf_trainer(cfg, tokenizer, source, n_labels)
        runs["trainer"].append(seconds)
    ours_s, trainer_s = statistics.median(runs["ours"]), statistics.median(runs["trainer"])
    detail = {"ours_median_s": ours_s, "trainer_median_s": trainer_s,
              "ours_examples_per_s": n_train / ours_s, "trainer_examples_per_s": n_train / trainer_s,
              "ours_runs_s": runs["ours"], "trainer_runs_s": runs["trainer"],
              "ours_mean_train_loss": losses["ours"], "trainer_mean_train_loss": losses["trainer"],
              "train_examples": n_train, "epochs": 1, "batch_size": cfg.train.batch_size,
              "torch_threads": torch.get_num_threads()} | trainer_info
    note = (f"Demo baseline arm ({cfg.model}), {n_train} encoded synthetic-NLI training pairs, 1 epoch, batch "
            f"{cfg.train.batch_size}, lr {cfg.train.learning_rate:g}, same warmup steps, weight decay, max grad norm, "
            f"dynamic padding, 1 torch thread, fresh classifier from the same seed; median of {RUNS} alternating runs "
            f"each. Ours always runs its model selection: here one evaluation on 32 source-dev examples (plus the "
            f"best-state copy) and no eval sets, so both do the same training work. Trainer: optimizer "
            f"{trainer_info['trainer_optim']} (its default here), no eval, saving or reporting; time of "
            f"Trainer.train() (its own train_runtime, which leaves out its setup, is in the detail).")
    return [Figure(NAME, TITLE, ours_s / trainer_s, "x", target=1.0, detail=detail, note=note)]


def ours(cfg, tokenizer, source, selection, n_labels) -> tuple[float, float]:
    from salt.models import load_classifier
    from salt.run import cache_root
    from salt.train import EvalSet, train_and_evaluate
    from transformers import set_seed

    set_seed(cfg.seed)
    model = load_classifier(cfg.model, n_labels, str(cache_root(cfg)))
    start = time.perf_counter()
    result = train_and_evaluate(model, tokenizer.pad_token_id, source, [], [EvalSet("dev", cfg.source_lang, selection)],
                                [], cfg.train, replace(cfg.mixup, enabled=False), cfg.seed, device=torch.device("cpu"))
    seconds = time.perf_counter() - start
    logged = [c["loss"] for c in result.curves if "loss" in c]
    return seconds, statistics.fmean(logged)


def hf_trainer(cfg, tokenizer, source, n_labels) -> tuple[float, float, dict]:
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments, set_seed

    from salt.models import load_classifier
    from salt.run import cache_root

    t = cfg.train
    total_steps = -(-len(source) // t.batch_size)  # ceil: 1 epoch, no accumulation
    rows = [{"input_ids": ids.tolist(), "token_type_ids": types.tolist(), "labels": int(label)}
            for ids, types, label in zip(source.input_ids, source.token_type_ids, source.labels)]
    set_seed(cfg.seed)
    model = load_classifier(cfg.model, n_labels, str(cache_root(cfg)))
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, num_train_epochs=1, per_device_train_batch_size=t.batch_size,
            learning_rate=t.learning_rate, weight_decay=t.weight_decay, max_grad_norm=t.max_grad_norm,
            warmup_steps=int(t.warmup_ratio * total_steps),  # an int: the same steps as ours (a ratio rounds up)
            lr_scheduler_type="linear", eval_strategy="no", save_strategy="no", report_to=[],
            logging_steps=t.log_every, disable_tqdm=True, use_cpu=True, dataloader_num_workers=0, seed=cfg.seed)
        trainer = Trainer(model=model, args=args, train_dataset=rows,
                          data_collator=DataCollatorWithPadding(tokenizer))
        trainer.remove_callback(PrinterCallback)  # with tqdm off it prints every log line; ours prints nothing
        start = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - start
    info = {"trainer_optim": str(getattr(args.optim, "value", args.optim)),
            "trainer_optimizer_class": type(trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer")
                                            else trainer.optimizer).__name__,
            "trainer_steps": output.global_step, "trainer_own_train_runtime_s": output.metrics["train_runtime"]}
    return seconds, output.training_loss, info


if __name__ == "__main__":
    main(run)
