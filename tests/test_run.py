"""The whole method path (data -> vocab -> augmentation -> training -> evaluation) on the tiny world."""
import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

import salt.train
from salt.arms import apply_arm
from salt.config import AugmentConfig, RunConfig, TrainConfig
from salt.run import run
from salt.train import Callback, TrainingDiverged


@pytest.fixture(scope="module")
def cfg(tiny_world, salt_cache):
    return RunConfig(task="synthetic-nli", world="tiny", model="synthetic:tiny", cache_dir=str(salt_cache),
                     target_langs=("fr", "de"), augment=AugmentConfig(threshold=0.1),
                     train=TrainConfig(learning_rate=1e-3, epochs=1, batch_size=16, max_train_examples=160,
                                       max_eval_examples=40, log_every=2, evals_per_epoch=2))


def test_result_shape(cfg):
    res = run(cfg)
    preds = res.train.predictions
    assert set(preds.columns) == {"split", "lang", "uid", "label", "pred"} and len(preds) == 6 * 40
    for split in ("dev", "test"):
        for lang in ("en", "fr", "de"):  # every metric is the accuracy of the logged predictions
            part = preds[(preds.split == split) & (preds.lang == lang)]
            assert len(part) == 40 and res.metrics[f"{split}_acc_{lang}"] == pytest.approx((part.label == part.pred).mean())
        assert res.metrics[f"{split}_acc_avg_targets"] == pytest.approx(
            np.mean([res.metrics[f"{split}_acc_fr"], res.metrics[f"{split}_acc_de"]]))
        assert res.metrics[f"{split}_acc_avg"] == pytest.approx(
            np.mean([res.metrics[f"{split}_acc_{l}"] for l in ("en", "fr", "de")]))
    assert res.train.n_augmented == sum(len(v) for v in res.augmentation.examples.values()) > 0
    assert {"loss", "lr"} <= set(res.train.curves[0]) and any("selection_acc" in c for c in res.train.curves)


def test_deterministic_for_a_seed(cfg):
    torch.manual_seed(123)  # whatever the process did before must not matter (the head init once did)
    a = run(cfg)
    torch.manual_seed(456)
    b, c = run(cfg), run(replace(cfg, seed=1))
    assert a.metrics == b.metrics
    pd.testing.assert_frame_equal(a.train.predictions, b.train.predictions)
    assert [x["loss"] for x in a.train.curves if "loss" in x] == [x["loss"] for x in b.train.curves if "loss" in x]
    assert [x["loss"] for x in a.train.curves if "loss" in x] != [x["loss"] for x in c.train.curves if "loss" in x]


def test_the_data_order_has_a_seed_of_its_own(cfg, monkeypatch):
    """`train.data_seed` orders the data (and draws dropout and mixup); the run's seed alone initialises the head.
    Unset, the run's seed does both, as before."""
    import salt.run

    heads, orders = [], []
    real_load, real_train = salt.run.load_classifier, salt.run.train_and_evaluate

    def load(*a, **k):
        model = real_load(*a, **k)
        heads.append(next(p for n, p in model.named_parameters() if "classifier" in n).detach().clone())
        return model

    def train(*a, **k):
        orders.append(a[8])  # the seed the loop's generators are seeded with
        return real_train(*a, **k)
    monkeypatch.setattr(salt.run, "load_classifier", load)
    monkeypatch.setattr(salt.run, "train_and_evaluate", train)
    plain = run(cfg)
    same = run(replace(cfg, train=replace(cfg.train, data_seed=0)))
    other = run(replace(cfg, train=replace(cfg.train, data_seed=7)))
    assert orders == [0, 0, 7] and torch.equal(heads[0], heads[2])  # same head, another data order
    assert plain.metrics == same.metrics
    assert [x["loss"] for x in plain.train.curves if "loss" in x] != [x["loss"] for x in other.train.curves if "loss" in x]


_RUN_IN_CHILD = """
import hashlib, json, sys
from salt.config import from_dict, RunConfig
from salt.run import run
res = run(from_dict(RunConfig, json.loads(sys.argv[1])))
print(json.dumps({"metrics": res.metrics, "preds": hashlib.sha256(res.train.predictions.to_csv().encode()).hexdigest(),
                  "losses": [x["loss"] for x in res.train.curves if "loss" in x]}))
"""


def test_deterministic_across_processes(cfg):
    """Two fresh interpreters with different hash seeds give the same run (workers are processes)."""
    import json
    import subprocess
    import sys
    from dataclasses import asdict

    out = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([sys.executable, "-c", _RUN_IN_CHILD, json.dumps(asdict(cfg))], env=env,
                              capture_output=True, text=True, check=True)
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert out[0] == out[1]


def test_arms(cfg):
    base, salt_, eq = (run(apply_arm(cfg, arm)) for arm in ("baseline", "salt", "equal-steps"))
    assert base.augmentation is None and base.train.n_augmented == 0
    assert eq.train.n_augmented == 0 and eq.train.steps == salt_.train.steps > base.train.steps
    rs = run(apply_arm(cfg, "random-substitution"))
    assert rs.train.n_augmented == salt_.train.n_augmented
    with pytest.raises(ValueError, match="unknown arm"):
        apply_arm(cfg, "oracle")


def test_mixup_resampled_every_step_and_off_switch(cfg, monkeypatch):
    seen = []
    real = salt.train.sample_ratio

    def spy(mix, shape, gen, device=None):
        r = real(mix, shape, gen, device)
        seen.append(r.clone())
        return r

    monkeypatch.setattr(salt.train, "sample_ratio", spy)
    res = run(cfg)
    assert len(seen) == res.train.steps  # one draw per step (grad_accum 1)
    assert not any(np.array_equal(seen[0].numpy(), s.numpy()) for s in seen[1:])
    seen.clear()
    run(replace(cfg, mixup=replace(cfg.mixup, enabled=False)))
    assert seen == []


def test_callbacks_and_grad_accumulation(cfg):
    events = []

    class Recorder(Callback):
        def on_train_begin(self, total, info):
            events.append(("begin", total))

        def on_log(self, step, logs):
            events.append(("log", step))

        def on_evaluate(self, step, metrics):
            events.append(("eval", step))

        def on_train_end(self, result):
            events.append(("end", result.steps))

    res = run(replace(apply_arm(cfg, "baseline"), train=replace(cfg.train, grad_accum=2)), callbacks=[Recorder()])
    assert events[0] == ("begin", 5) and events[-1] == ("end", 5)  # 160 examples / (16 x 2)
    assert [e for e in events if e[0] == "eval"] and res.train.steps == 5


@pytest.mark.parametrize("selection,langs", [("source-dev", [("dev", "en")]),
                                             ("target-dev", [("dev", "fr"), ("dev", "de")])])
def test_model_selection_uses_the_named_dev_sets(cfg, monkeypatch, selection, langs):
    """The checkpoint is chosen on source dev (zero-shot) or on the target dev sets, and it is the best one."""
    seen = []
    real = salt.train._selection_accuracy

    def spy(model, sets, *args):
        seen.append([(es.split, es.lang) for es in sets])
        return real(model, sets, *args)

    monkeypatch.setattr(salt.train, "_selection_accuracy", spy)
    res = run(replace(cfg, train=replace(cfg.train, model_selection=selection)))
    assert seen and all(s == langs for s in seen)
    evals = [c for c in res.train.curves if "selection_acc" in c]
    best = max(evals, key=lambda c: c["selection_acc"])  # the first of the best, as the loop keeps it
    assert res.train.best_step == best["step"] and len(evals) == 2


def test_an_explicit_cache_dir_is_the_only_cache_used(cfg, tmp_path, monkeypatch):
    """Nothing reads or builds models under $SALT_CACHE when the config names its cache (the proposing MLM
    once came from $SALT_CACHE and was pretrained there again)."""
    elsewhere = tmp_path / "salt-cache-env"
    elsewhere.mkdir()
    monkeypatch.setenv("SALT_CACHE", str(elsewhere))
    res = run(replace(cfg, augment=replace(cfg.augment, top_k=7)))  # a new proposals cache entry
    assert res.train.n_augmented > 0 and res.augmentation.forward_rows > 0
    assert list(elsewhere.iterdir()) == []


def test_a_run_leaves_the_process_settings_as_it_found_them(cfg):
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(2)
    hf_logging.set_verbosity_warning()
    run(replace(apply_arm(cfg, "baseline"), train=replace(cfg.train, threads=1)))
    assert torch.get_num_threads() == 2 and hf_logging.get_verbosity() == hf_logging.WARNING


def test_a_bad_config_made_in_python_fails_before_any_work(cfg):
    from salt.config import ConfigError

    with pytest.raises(ConfigError, match="augment.threshold: must be in \\[0, 1\\], got 2.0"):
        run(replace(cfg, augment=replace(cfg.augment, threshold=2.0)))


def test_errors_name_the_problem(cfg, monkeypatch):
    with pytest.raises(ValueError, match="'xx'.*known: en"):
        run(replace(cfg, target_langs=("xx",)))
    real = torch.nn.functional.cross_entropy
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", lambda *a, **k: real(*a, **k) * float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan at step 1"):
        run(apply_arm(cfg, "baseline"))


def test_same_path_on_real_xnli_files_with_a_wordpiece_model(real_dir, wordpiece_tokenizer, tmp_path):
    """The user's path (XNLI released files, WordPiece model directory), with a small random-weight mBERT."""
    from transformers import BertConfig, BertForMaskedLM

    model_dir = tmp_path / "mini-mbert"
    wordpiece_tokenizer.save_pretrained(model_dir)
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(wordpiece_tokenizer), hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=64)).save_pretrained(model_dir)
    cfg = RunConfig(task="xnli", data_source="local", data_dir=str(real_dir), model=str(model_dir),
                    target_langs=("fr", "zh"), cache_dir=str(tmp_path / "cache"),
                    augment=AugmentConfig(threshold=0.0, unit="piece"),
                    train=TrainConfig(epochs=1, batch_size=4, max_eval_examples=30, max_seq_len=64))
    res = run(apply_arm(cfg, "salt"))
    assert res.train.n_source == 5  # the real MultiNLI extract
    assert res.train.n_augmented > 0 and set(res.augmentation.examples) == {"fr", "zh"}
    assert {"dev_acc_en", "dev_acc_fr", "dev_acc_zh", "dev_acc_avg_targets"} <= set(res.metrics)
    assert "precision" not in res.augmentation.stats["fr"]  # no gold lexicon for real languages


def test_length_grouped_batches_cover_the_epoch_once_with_less_padding():
    from salt.batching import chunks, length_grouped_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 60, 1000)
    order = rng.permutation(1000)
    grouped = length_grouped_batches(order, lengths, 16, torch.Generator().manual_seed(0), window=10)
    assert sorted(np.concatenate(grouped).tolist()) == list(range(1000))
    assert [b.tolist() for b in grouped] == [b.tolist() for b in
                                            length_grouped_batches(order, lengths, 16, torch.Generator().manual_seed(0), 10)]

    def padded(batches):
        return sum(len(b) * lengths[b].max() for b in batches)

    assert padded(grouped) < 0.8 * padded(list(chunks(order, 16)))


def test_group_by_length_option_trains(cfg):
    res = run(replace(cfg, train=replace(cfg.train, group_by_length=True)))
    assert res.train.steps > 0 and 0 <= res.metrics["test_acc_avg"] <= 1


_SYNCS = ("item", "tolist", "numpy", "cpu", "__float__", "__int__", "__bool__", "__index__")


def test_the_loop_reads_the_device_back_only_at_logged_updates(cfg, monkeypatch):
    """Losses stay on the device between logs: salt's own reads of a tensor's value (each a device sync on GPU)
    are one per log and one per epoch's order, not one per update. Evaluation's reads are not counted."""
    import sys
    from pathlib import Path

    import salt

    here, counting, syncs, logs, orders = str(Path(salt.__file__).parent), [False], [], [], []
    for name in _SYNCS:
        def spy(self, *a, _real=getattr(torch.Tensor, name), _name=name, **k):
            if counting[0] and sys._getframe(1).f_code.co_filename.startswith(here):
                syncs.append(_name)
            return _real(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, spy)
    real_predict, real_order = salt.train.predict, salt.train._epoch_order

    def predict(*a, **k):
        counting[0] = False
        try:
            return real_predict(*a, **k)
        finally:
            counting[0] = True

    monkeypatch.setattr(salt.train, "predict", predict)
    monkeypatch.setattr(salt.train, "_epoch_order", lambda *a: orders.append(1) or real_order(*a))

    class Count(Callback):
        def on_train_begin(self, total, info):
            counting[0] = True

        def on_log(self, step, logs_):
            logs.append(step)

    res = run(replace(apply_arm(cfg, "baseline"), train=replace(cfg.train, epochs=2, log_every=5)), callbacks=[Count()])
    counting[0] = False
    assert res.train.steps == 20 and len(logs) == 4 and len(orders) == 2
    assert len(syncs) <= len(logs) + len(orders), syncs  # a read per update would make it 20 or more


def test_divergence_is_caught_at_the_next_log_and_names_its_first_step(cfg, monkeypatch):
    calls = []
    real = torch.nn.functional.cross_entropy

    def loss(*a, **k):
        calls.append(1)
        return real(*a, **k) * (float("nan") if len(calls) >= 4 else 1.0)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", loss)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 4 \(read at step 5"):
        run(replace(apply_arm(cfg, "baseline"), train=replace(cfg.train, log_every=5)))


def test_the_best_checkpoint_is_the_model_evaluated(cfg, monkeypatch):
    """The weights of the best evaluation are what the final evaluation uses, copied in place into tensors
    allocated once (not a new host copy per improvement)."""
    saved, allocations, restored = [], [], {}
    real_save, real_alloc, real_restore = (salt.train.BestCheckpoint.save, salt.train.BestCheckpoint._allocate,
                                           salt.train.BestCheckpoint.restore)

    def save(self, model):
        real_save(self, model)
        saved.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    def restore(self, model):
        restored["last"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        real_restore(self, model)
        restored["best"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        restored["where"] = self.where

    monkeypatch.setattr(salt.train.BestCheckpoint, "save", save)
    monkeypatch.setattr(salt.train.BestCheckpoint, "_allocate", lambda self, s: allocations.append(1) or real_alloc(self, s))
    monkeypatch.setattr(salt.train.BestCheckpoint, "restore", restore)
    res = run(replace(apply_arm(cfg, "baseline"), target_langs=("fr",), train=replace(
        cfg.train, max_train_examples=640, epochs=2, evals_per_epoch=4, max_eval_examples=80, log_every=5)))
    evals = [c for c in res.train.curves if "selection_acc" in c]
    best = max(evals, key=lambda c: c["selection_acc"])
    assert res.train.best_step == best["step"] < evals[-1]["step"] and evals[-1]["selection_acc"] != best["selection_acc"]
    assert res.metrics["dev_acc_en"] == best["selection_acc"]  # source dev is the selection set
    assert len(saved) >= 2 and allocations == [1] and restored["where"] == torch.device("cpu")
    assert all(torch.equal(restored["best"][k], saved[-1][k]) for k in saved[-1])
    assert not all(torch.equal(restored["last"][k], saved[-1][k]) for k in saved[-1])


def test_a_checkpoint_stays_on_the_device_where_it_has_room(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(salt.train, "_spare_bytes", lambda device: 1000)
    assert salt.train.checkpoint_device(cuda, 500) == cuda
    assert salt.train.checkpoint_device(cuda, 501) == torch.device("cpu")  # more than half of the spare memory
    assert salt.train.checkpoint_device(torch.device("cpu"), 10**15) == torch.device("cpu")


def test_deterministic_mode_runs_on_cpu_records_itself_and_changes_nothing_there(cfg, monkeypatch):
    from salt.config import flatten, identity

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seen = {}

    class Probe(Callback):
        def on_train_begin(self, total, info):
            seen.update(algorithms=torch.are_deterministic_algorithms_enabled(), benchmark=torch.backends.cudnn.benchmark,
                        cublas=os.environ.get("CUBLAS_WORKSPACE_CONFIG"))

    torch.backends.cudnn.benchmark = True
    try:
        det = run(replace(cfg, train=replace(cfg.train, deterministic=True)), callbacks=[Probe()])
        assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()  # restored
    finally:
        torch.backends.cudnn.benchmark = False
    assert seen == {"algorithms": True, "benchmark": False, "cublas": ":4096:8"}
    # Recorded with the run, but not part of the cell's identity: a store made without it stays valid.
    assert flatten(det.config)["train.deterministic"] is True and "train.deterministic" not in identity(det.config)
    assert identity(det.config) == identity(cfg)
    plain = run(cfg)  # CPU kernels are deterministic already: the same figures
    assert det.metrics == plain.metrics and det.train.curves == plain.train.curves
