"""A real-size rehearsal on CPU: two trials of a SALT study on XNLI at full size, through the code path a user runs
(`data_source: local` reading the released formats, a WordPiece tokenizer of mBERT's vocabulary size, the caches).

Generated once into a temporary folder (set-up, not measured):
- XNLI-MT-1.0 `multinli/multinli.train.en.tsv` with 392,702 pairs, and XNLI-1.0 `xnli.dev.tsv`/`xnli.test.tsv` with
  2,490/5,010 pairs in each of the 15 languages, in their released columns. Text is drawn Zipf-like from each
  language's `wordfreq` list (real scripts: Arabic, Cyrillic, Greek, Devanagari, Han ...); wordfreq has no list for
  sw and th, whose words are made of Latin and Thai syllables.
- a 119,547-entry WordPiece vocabulary (mBERT's size: each language's most frequent words, every character seen and
  its `##` piece) as a BertTokenizerFast, and a 2-layer hidden-64 BERT with that vocabulary (random weights: the
  costs measured here grow with the data and the vocabulary, not with the encoder's depth).
- `vocab.source files`: 20,000 generated lines per language.

Each trial runs in a fresh process (as a restarted worker would) on one cache folder: trial 1 finds it empty,
trial 2 is another cell of the same study (N = 100 instead of 50). Per trial: data loading, tokenisation (training
rows and every evaluation set), vocabularies, proposals (the MLM pass over the pool, or the cache's open), training
and evaluation, and the peak RSS (ru_maxrss). Targets (issue 21): trial 2's time outside training <= 60 s and
peak RSS <= 8 GiB.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, main

ROOT = Path(__file__).resolve().parent.parent
PAIRS, DEV, TEST = 392_702, 2_490, 5_010
LANGS = ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
VOCAB = 119_547  # bert-base-multilingual-cased
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
LIST_WORDS, VOCAB_LINES = 30_000, 20_000
POOL = 2_000  # source sentences proposed for (augment.max_source_examples): the MLM pass is GPU work at full size
QUICK = {"pairs": 20_000, "dev": 200, "test": 400, "vocab_lines": 2_000, "pool": 200}
LABELS = ("entailment", "neutral", "contradictory")  # XNLI-MT's spelling
GOLD = ("entailment", "neutral", "contradiction")


def word_list(lang: str, n: int) -> list[str]:
    """The language's most frequent words; for sw and th (no wordfreq list) words of 2-3 syllables."""
    import wordfreq

    if lang in wordfreq.available_languages(wordlist="best"):
        return [w for w in wordfreq.top_n_list(lang, n) if "\t" not in w and w.strip()]
    rng = np.random.default_rng(len(lang))
    syllables = ([c + v for c in "bcdfghjklmnprstvwyz" for v in "aeiou"] if lang == "sw" else
                 [chr(c) + chr(v) for c in range(0x0E01, 0x0E2F) for v in (0x0E30, 0x0E32, 0x0E34, 0x0E38)])
    out = dict.fromkeys("".join(rng.choice(syllables, rng.integers(2, 4))) for _ in range(3 * n))
    return list(out)[:n]


class Writer:
    """Sentences of one language: Zipf-ranked words of its list (a = 1.1), premise 18-35 and hypothesis 8-19 words."""

    def __init__(self, lang: str, words: list[str], seed: int):
        self.words, self.rng = np.array(words, dtype=object), np.random.default_rng(seed)
        self.sep = "" if lang in ("zh", "th") else " "

    def sentences(self, n: int, low: int, high: int) -> list[str]:
        lengths = self.rng.integers(low, high + 1, n)
        idx = np.minimum(self.rng.zipf(1.1, int(lengths.sum())) - 1, len(self.words) - 1)
        flat, out, at = self.words[idx], [], 0
        for k in lengths.tolist():
            out.append(self.sep.join(flat[at:at + k]))
            at += k
        return out


def make_world(root: Path, sizes: dict) -> dict:
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    lists = {lang: word_list(lang, LIST_WORDS) for lang in LANGS}
    writers = {lang: Writer(lang, lists[lang], k) for k, lang in enumerate(LANGS)}
    data = root / "data"
    (data / "XNLI-MT-1.0" / "multinli").mkdir(parents=True)
    (data / "XNLI-1.0").mkdir(parents=True)
    rng = np.random.default_rng(99)
    en = writers["en"]
    with open(data / "XNLI-MT-1.0" / "multinli" / "multinli.train.en.tsv", "w", encoding="utf-8") as f:
        f.write("premise\thypo\tlabel\n")
        for start in range(0, sizes["pairs"], 50_000):
            n = min(50_000, sizes["pairs"] - start)
            labels = rng.integers(0, 3, n)
            for a, b, y in zip(en.sentences(n, 18, 35), en.sentences(n, 8, 19), labels.tolist()):
                f.write(f"{a}\t{b}\t{LABELS[y]}\n")
    header = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
              "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2",
              "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match"]
    for split, n in (("dev", sizes["dev"]), ("test", sizes["test"])):
        with open(data / "XNLI-1.0" / f"xnli.{split}.tsv", "w", encoding="utf-8") as f:
            f.write("\t".join(header) + "\n")
            for lang in LANGS:
                w = writers[lang]
                for i, (a, b, y) in enumerate(zip(w.sentences(n, 18, 35), w.sentences(n, 8, 19),
                                                  rng.integers(0, 3, n).tolist())):
                    g = GOLD[y]
                    f.write("\t".join([lang, g, "", "", "", "", a, b, str(i), str(i), "fiction", g, g, g, g, g, a, b,
                                       "True"]) + "\n")
    vocab_dir = root / "vocab-text"
    vocab_dir.mkdir()
    for lang in LANGS:
        (vocab_dir / f"{lang}.txt").write_text("\n".join(writers[lang].sentences(sizes["vocab_lines"], 8, 30)) + "\n",
                                               encoding="utf-8")
    # mBERT-sized WordPiece: every character and its ## piece, then each language's most frequent words in turn
    chars = sorted({c for words in lists.values() for w in words for c in w})
    vocab = dict.fromkeys([*SPECIALS, *chars, *("##" + c for c in chars)])
    ranked = iter([w for rank in range(LIST_WORDS) for lang in LANGS if rank < len(lists[lang])
                   for w in [lists[lang][rank]]])
    while len(vocab) < VOCAB:
        vocab.setdefault(next(ranked))
    model = root / "model"
    model.mkdir()
    (model / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab=str(model / "vocab.txt"), do_lower_case=False).save_pretrained(model)
    import torch

    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=256, max_position_embeddings=128)).save_pretrained(model)
    return {"data": str(data), "model": str(model), "vocab_dir": str(vocab_dir), "vocab_size": len(vocab)}


# ---- one trial, in its own process, with its stages timed from outside (the run's own functions, wrapped)

def trial(args: dict) -> dict:
    import salt.augment
    import salt.run
    from salt.config import AugmentConfig, RunConfig, TrainConfig, VocabConfig

    clock: dict[str, float] = {}

    def timed(module, name, key):
        real = getattr(module, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return real(*a, **k)
            finally:
                clock[key] = clock.get(key, 0.0) + time.perf_counter() - t
        setattr(module, name, wrapper)

    timed(salt.run, "load_data", "data loading")
    timed(salt.run, "encode", "tokenisation")
    timed(salt.run, "load_tokenizer", "tokenizer load")
    timed(salt.run, "vocabularies" if hasattr(salt.run, "vocabularies") else "language_vocabularies", "vocabularies")
    timed(salt.augment, "proposal_cache", "proposals (MLM pass or cache open)")
    timed(salt.run, "train_and_evaluate", "training and evaluation")
    cfg = RunConfig(task="xnli", data_source="local", data_dir=args["data"], model=args["model"],
                    cache_dir=args["cache"], source_lang="en", target_langs=LANGS[1:], seed=args["seed"],
                    vocab=VocabConfig(source="files", dir=args["vocab_dir"], **{args["texts_key"]: args["vocab_lines"]}),
                    augment=AugmentConfig(enabled=True, mode="visible", threshold=0.0, samples_per_lang=args["n"],
                                          max_source_examples=args["pool"]),
                    train=TrainConfig(epochs=args["epochs"], batch_size=32, max_seq_len=128, evals_per_epoch=1,
                                      log_every=10, threads=2))
    start = time.perf_counter()
    res = salt.run.run(cfg)
    total = time.perf_counter() - start
    return {"total_s": round(total, 1), "stages_s": {k: round(v, 1) for k, v in clock.items()},
            "outside_training_s": round(total - clock["training and evaluation"], 1), "steps": res.train.steps,
            "augmented": res.train.n_augmented, "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def run_trial(code: Path, **args) -> dict:
    """`code`: the checkout whose salt/ runs the trial (the benchmark's own, or an older one for 'before')."""
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}", "SALT_PROGRESS_EVERY": "0"}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--trial", json.dumps(args)], cwd=code,
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"trial {args} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rehearse(world: dict, cache: Path, code: Path, sizes: dict, texts_key: str = "max_texts") -> list[dict]:
    base = {**world, "cache": str(cache), "vocab_lines": sizes["vocab_lines"], "pool": sizes["pool"], "seed": 0,
            "epochs": 32 * 25 / sizes["pairs"], "texts_key": texts_key}  # 25 updates of 32 rows: training is not the point
    return [run_trial(code, **base, n=50), run_trial(code, **base, n=100)]


def run(opts: dict) -> list[Figure]:
    sizes = QUICK if opts["quick"] else {"pairs": PAIRS, "dev": DEV, "test": TEST, "vocab_lines": VOCAB_LINES, "pool": POOL}
    before = os.environ.get("SALT_REALSIZE_BEFORE")  # a checkout of older code to rehearse on the same files
    with tempfile.TemporaryDirectory(prefix="salt-bench-realsize-") as tmp:
        t = time.perf_counter()
        world = make_world(Path(tmp), sizes)
        made = round(time.perf_counter() - t, 1)
        vocab_size = world.pop("vocab_size")
        trials = rehearse(world, Path(tmp) / "cache", ROOT, sizes)
        old = rehearse(world, Path(tmp) / "cache-before", Path(before), sizes, "max_lines") if before else None
    second = trials[1]
    detail = {"sizes": sizes, "vocab_size": vocab_size, "set_up_s": made, "trials": trials, "before": old,
              "before_code": before}
    note = (f"{sizes['pairs']:,} training pairs, {len(LANGS) - 1} targets, WordPiece {vocab_size:,}; trial 1 (empty "
            f"cache) outside training {trials[0]['outside_training_s']} s, trial 2 {second['outside_training_s']} s")
    return [Figure("realsize.second_trial_outside_training", "real size: trial 2's time outside training",
                   second["outside_training_s"], "s", 60.0, detail=detail, note=note),
            Figure("realsize.peak_rss", "real size: peak RSS of a trial", max(t["peak_rss_mib"] for t in trials) / 1024,
                   "GiB", 8.0, detail={"per_trial_mib": [t["peak_rss_mib"] for t in trials]})]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--trial":
        print(json.dumps(trial(json.loads(sys.argv[2]))))
    else:
        main(run)
