"""Cost at the size of a real study: XNLI's 392,702 English training pairs x 14 target languages.

Augmentation, with mBERT's shape where it matters: a vocabulary of 119,547 (WordPiece, `##` pieces), top-8
proposals, pairs of about 44 tokens (~37 eligible), 14 target vocabularies of 15k-45k candidates. Each phase
runs in a fresh process; peak RSS is the kernel's high-water mark (ru_maxrss), memory-mapped pages read included.

- propose: `propose()` with a random-weight tiny BertForMaskedLM (vocabulary 119,547, 2 layers, hidden 64) over a
  few hundred pairs x 14 languages, written to disk as the cache does. The head's 119,547-way logits and the
  restricted top-k over each language's candidates are what the vocabulary's shape costs; mBERT's 12-layer
  encoder adds its own forward pass (GPU work at this size), not measured here.
- cache write: proposals of the realistic shape (random top-8 substitutes from each language's candidates with
  sorted random probabilities; MLM-proposing 160k pairs on 2 shared cores would take hours) for 10k, 40k and
  160k pairs, written through `proposal_cache`, the cache `augment()` uses: time, bytes on disk, peak RSS.
- trial: `augment()` from that cache (open, code-switch, select, statistics; the default AugmentConfig:
  threshold 0.3, max_ratio 0.5, 1 copy, every pool example selected), and the cache open alone.
- before: the code before issue 15, tests/augment_reference.py (per-example arrays pickled whole, a Python loop per example), on the same
  proposals at the smaller sizes: pickle write, load, and its augmentation loop.

Projections to 392,702 pairs: times and bytes from the largest size by the growth between the two largest sizes
(log-log slope; the fitted exponent over all sizes is in the detail), peak RSS by a straight line. The harness at study sizes is `benchmarks/scale_harness.py`.
"""
from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, main

ROOT = Path(__file__).resolve().parent.parent
XNLI_PAIRS = 392_702
TARGETS = ("ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")  # XNLI but en
VOCAB = 119_547  # bert-base-multilingual-cased
N_PIECES = 20_000  # `##` continuation pieces among them
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TOP_K = 8  # AugmentConfig.top_k's default
SIZES, BEFORE_SIZES, PROPOSE_SIZES = (10_000, 40_000, 160_000), (10_000, 40_000), (16, 32, 64)
QUICK_SIZES, QUICK_BEFORE_SIZES, QUICK_PROPOSE_SIZES = (300, 600), (300, 600), (8, 16)
CHUNK = 1 << 20  # rows generated at a time (bounded memory)
CAPPED, QUICK_CAPPED = 1_000, 50  # samples per language of the capped trial


# ---- the world: a tokenizer and model of mBERT's vocabulary, source pairs and target vocabularies, at the id level

def _word(j: int) -> str:
    out = ""
    j += 26 * 27  # at least three letters
    while j:
        j, r = divmod(j, 26)
        out += chr(97 + r)
    return out


def make_model(folder: Path) -> None:
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    words = len(SPECIALS) + N_PIECES
    vocab = [*SPECIALS, *("##" + _word(j) for j in range(N_PIECES)), *(_word(j) for j in range(VOCAB - words))]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=False).save_pretrained(folder)
    import torch

    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=256, max_position_embeddings=128)).save_pretrained(folder)


def first_word() -> int:
    return len(SPECIALS) + N_PIECES


def source(n: int):
    """n premise/hypothesis pairs of 18-35 and 8-19 tokens, Zipfian whole words, 5% `##` pieces glued on."""
    from salt.encode import Encoded

    rng = np.random.default_rng(0)
    la, lb = rng.integers(18, 36, n), rng.integers(8, 20, n)
    total = int(la.sum() + lb.sum())
    words = first_word() + np.minimum(rng.zipf(1.3, total) - 1, VOCAB - first_word() - 1)
    pieces = len(SPECIALS) + rng.integers(0, N_PIECES, total)
    tokens = np.where(rng.random(total) < 0.05, pieces, words).astype(np.int64)
    cls, sep = SPECIALS.index("[CLS]"), SPECIALS.index("[SEP]")
    ids, types, at = [], [], 0
    for a, b in zip(la.tolist(), lb.tolist()):
        ids.append(np.concatenate([[cls], tokens[at:at + a], [sep], tokens[at + a:at + a + b], [sep]]).astype(np.int64))
        types.append(np.repeat(np.array([0, 1], np.int64), [a + 2, b + 1]))
        at += a + b
    return Encoded(ids, types, rng.integers(0, 3, n).astype(np.int64), [f"xnli-en-{i}" for i in range(n)], ["en"] * n)


def vocabularies() -> dict:
    from salt.vocab import LanguageVocab

    rng = np.random.default_rng(1)
    out = {}
    for lang in TARGETS:
        size = int(rng.integers(15_000, 45_000))
        ids = np.sort(rng.choice(np.arange(first_word(), VOCAB), size, replace=False)).astype(np.int64)
        out[lang] = LanguageVocab(lang, ids, np.zeros(0, np.int64))
    return out


def fill(src, table, vocabs, clock: dict):
    """`proposal_cache`'s compute: realistic-shape proposals written by `ProposalWriter`, as `propose(folder=...)`
    writes them; the seconds spent storing (not generating) are added to clock["write_s"]."""
    from salt.augment.propose import ProposalWriter

    positions = [np.flatnonzero(table.eligible(ids, "word", "exclude")) for ids in src.input_ids]

    def compute(missing: dict, tmp: Path) -> int:
        start = time.perf_counter()
        out = ProposalWriter(positions, missing, TOP_K, tmp)
        clock["write_s"] += time.perf_counter() - start
        rows = len(out.positions)
        for lang, vocab in missing.items():
            rng = np.random.default_rng([2, TARGETS.index(lang)])
            for a in range(0, rows, CHUNK):
                b = min(rows, a + CHUNK)
                ids = vocab.word_ids[rng.integers(0, len(vocab.word_ids), (b - a, TOP_K))].astype(np.int32)
                raw = np.sort(rng.random((b - a, TOP_K), dtype=np.float32) ** 4, axis=1)[:, ::-1]
                probs = raw / raw.sum(axis=1, keepdims=True) * rng.uniform(0.35, 1.0, (b - a, 1)).astype(np.float32)
                mass = rng.uniform(0.05, 0.9, b - a).astype(np.float32)
                start = time.perf_counter()
                out.write(lang, a, ids, probs, mass)
                clock["write_s"] += time.perf_counter() - start
        start = time.perf_counter()
        out.finish()
        clock["write_s"] += time.perf_counter() - start
        return 0
    return compute


# ---- the code before issue 15

def before_modules():
    """The augmentation before issue 15: tests/augment_reference.py, its verbatim copy that the columnar code
    is tested against (tests/test_augment_columnar.py), so the comparison needs no git history."""
    sys.path.insert(0, str(ROOT / "tests"))
    import augment_reference

    return augment_reference


# ---- one phase, in its own process

def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def phase(args: dict) -> dict:
    import torch

    from salt.augment import augment, proposal_cache, proposals_folder
    from salt.config import AugmentConfig
    from salt.models import load_mlm, load_tokenizer
    from salt.vocab import TokenTable

    torch.set_num_threads(1)
    work, model_dir, n, what = Path(args["dir"]), args["model"], args["n"], args["phase"]
    tok = load_tokenizer(model_dir)
    table, src, vocabs, cfg = TokenTable.build(tok), source(n), vocabularies(), AugmentConfig()
    cache = work / "cache"
    folder = proposals_folder(model_dir, src, cfg, "exclude", cache)
    out = {"phase": what, "pairs": n, "eligible_per_pair": None, "rss_before_mib": _rss_mib()}
    start = time.perf_counter()
    if what == "propose":
        from salt.augment.propose import propose
        from salt.augment.sizing import CPU_CAP

        model = load_mlm(model_dir)
        out["rss_before_mib"] = _rss_mib()
        start = time.perf_counter()
        props = propose(model, tok, src, vocabs, table, cfg.mode, cfg.unit, "exclude", TOP_K, CPU_CAP, False,
                        work / "propose")
        out |= {"seconds": time.perf_counter() - start, "bytes": _bytes(work / "propose"),
                "eligible_per_pair": len(props.positions) / n, "batch_size": CPU_CAP}
    elif what == "write":
        clock = {"write_s": 0.0}
        props, cached = proposal_cache(folder, vocabs, fill(src, table, vocabs, clock))
        assert not cached
        out |= {"seconds": time.perf_counter() - start, "write_s": clock["write_s"], "bytes": _bytes(folder),
                "eligible_per_pair": len(props.positions) / n}
    elif what == "trial":  # samples: per language (None: every pool example)
        cfg = replace(cfg, samples_per_lang=args.get("samples"))
        props, cached = proposal_cache(folder, vocabs, None)
        out["open_s"] = time.perf_counter() - start
        assert cached
        del props
        start = time.perf_counter()
        res = augment(model_dir, tok, src, vocabs, cfg, "en", 0, None, cache, progress=False)
        out |= {"seconds": time.perf_counter() - start, "selected": sum(len(v) for v in res.examples.values()),
                "samples_per_lang": cfg.samples_per_lang}
        assert res.cached
    elif what == "before_write":  # the proposals as the old code held them, then its cache write (a whole pickle)
        old = before_modules()
        new, _ = proposal_cache(folder, vocabs, None)
        spans = [new.rows(i) for i in range(n)]
        props = old.Proposals(positions=[new.positions[s].astype(np.int64) for s in spans])
        for lang in vocabs:
            ids, probs, mass = (np.ascontiguousarray(a[lang]) for a in (new.ids, new.probs, new.mass))
            props.ids[lang] = [ids[s].copy() for s in spans]
            props.probs[lang] = [probs[s].copy() for s in spans]
            props.mass[lang] = [mass[s].copy() for s in spans]
            del ids, probs, mass
        del new
        path = work / "before.pkl"
        start = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(props, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        out |= {"seconds": time.perf_counter() - start, "bytes": path.stat().st_size,
                "eligible_per_pair": sum(len(p) for p in props.positions) / n}
    elif what == "before_trial":  # the old cache open (unpickle) and the old augment() loop after it
        old = before_modules()
        with (work / "before.pkl").open("rb") as f:
            props = pickle.load(f)
        out["open_s"] = time.perf_counter() - start
        start = time.perf_counter()
        table = TokenTable.build(tok)
        words = [table.scheme.strip(t or "") for t in tok.convert_ids_to_tokens(list(range(len(tok))))]
        selected = 0
        for k, lang in enumerate(vocabs):
            rng = np.random.default_rng([0, k])
            pool = old.code_switch(src, props, lang, "en", cfg, rng)
            chosen = old.select(pool, cfg.samples_per_lang, cfg.selection, rng)
            old.augmentation_stats(chosen, pool, src, props, lang, words, None)
            selected += len(chosen)
        out |= {"seconds": time.perf_counter() - start, "selected": selected}
    else:
        raise ValueError(what)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_phase(**args) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--phase", json.dumps(args)], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"phase {args} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- fits and projections

def exponent(sizes, values) -> float:
    return float(np.polyfit(np.log(sizes), np.log(np.maximum(values, 1e-9)), 1)[0])


def local_exponent(sizes, values) -> float:
    """The growth between the two largest sizes, where fixed costs weigh least."""
    return float(np.log(max(values[-1], 1e-9) / max(values[-2], 1e-9)) / np.log(sizes[-1] / sizes[-2]))


def project(sizes, values, to: int = XNLI_PAIRS) -> float:
    """From the largest size by the growth between the two largest (never shrinking)."""
    return float(values[-1] * (to / sizes[-1]) ** max(0.0, local_exponent(sizes, values)))


def project_linear(sizes, values, to: int = XNLI_PAIRS) -> float:
    slope, intercept = np.polyfit(sizes, values, 1)
    return float(intercept + slope * to)


def augmentation(work: Path, quick: bool) -> tuple[list[Figure], dict]:
    sizes = QUICK_SIZES if quick else SIZES
    before_sizes = QUICK_BEFORE_SIZES if quick else BEFORE_SIZES
    propose_sizes = QUICK_PROPOSE_SIZES if quick else PROPOSE_SIZES
    model = work / "model"
    make_model(model)
    common = {"model": str(model)}
    proposed = [run_phase(phase="propose", n=n, dir=str(work / f"p{n}"), **common) for n in propose_sizes]
    rows = []
    for n in sizes:
        d = str(work / f"s{n}")
        row = {"pairs": n, "write": run_phase(phase="write", n=n, dir=d, **common),
               "trial": run_phase(phase="trial", n=n, dir=d, **common),
               "trial_n": run_phase(phase="trial", n=n, dir=d, samples=QUICK_CAPPED if quick else CAPPED, **common)}
        if n in before_sizes:
            row["before_write"] = run_phase(phase="before_write", n=n, dir=d, **common)
            row["before_trial"] = run_phase(phase="before_trial", n=n, dir=d, **common)
        rows.append(row)
        shutil.rmtree(d, ignore_errors=True)
    return figures(rows, proposed, quick), {"rows": rows, "propose": proposed}


def figures(rows: list[dict], proposed: list[dict], quick: bool) -> list[Figure]:
    n = [r["pairs"] for r in rows]
    col = lambda ph, key: [r[ph][key] for r in rows]  # noqa: E731
    gib = 2**30
    disk = project(n, col("write", "bytes")) / gib
    rss = max(project_linear(n, col(ph, "peak_rss_mib")) for ph in ("write", "trial_n")) / 1024
    rss_all = project_linear(n, col("trial", "peak_rss_mib")) / 1024
    trial = project(n, col("trial", "seconds"))
    trial_n = project(n, col("trial_n", "seconds"))
    capped = rows[-1]["trial_n"]["samples_per_lang"]
    opened = project(n, col("trial", "open_s"))
    p_n = [p["pairs"] for p in proposed]
    per_pair = proposed[-1]["seconds"] / p_n[-1]
    before = [r for r in rows if "before_trial" in r]
    ref = before[-1] if before else None

    def table(r):
        w, t, c = r["write"], r["trial"], r["trial_n"]
        out = (f"{r['pairs']:,} pairs: cache {w['bytes'] / gib:.2f} GiB written in {w['write_s']:.1f} s "
               f"(peak RSS {w['peak_rss_mib']:,.0f} MiB), open {t['open_s']:.2f} s, augment() from the cache "
               f"{t['seconds']:.1f} s (peak RSS {t['peak_rss_mib']:,.0f} MiB), with {capped:,} per language "
               f"{c['seconds']:.1f} s (peak RSS {c['peak_rss_mib']:,.0f} MiB)")
        if "before_trial" in r:
            bw, bt = r["before_write"], r["before_trial"]
            out += (f"; BEFORE: pickle {bw['bytes'] / gib:.2f} GiB written in {bw['seconds']:.1f} s (peak RSS "
                    f"{bw['peak_rss_mib']:,.0f} MiB), load {bt['open_s']:.1f} s, switch+select+stats "
                    f"{bt['seconds']:.1f} s (peak RSS {bt['peak_rss_mib']:,.0f} MiB)")
        return out
    sizes_note = "; ".join(table(r) for r in rows) + "."
    rounded = lambda d: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}  # noqa: E731
    detail = {"languages": len(TARGETS), "vocab": VOCAB, "top_k": TOP_K,
              "eligible_per_pair": round(rows[-1]["write"]["eligible_per_pair"], 1),
              **{f"after.{r['pairs']}.{ph}": rounded(r[ph]) for r in rows for ph in ("write", "trial", "trial_n")},
              **{f"before.{r['pairs']}.{ph}": rounded(r[ph]) for r in before for ph in ("before_write", "before_trial")},
              "growth_exponent.cache_bytes": round(exponent(n, col("write", "bytes")), 3),
              "growth_exponent.trial_s": round(exponent(n, col("trial", "seconds")), 3),
              "growth_exponent.trial_capped_s": round(exponent(n, col("trial_n", "seconds")), 3),
              "growth_exponent.open_s": round(exponent(n, col("trial", "open_s")), 3),
              "growth_exponent.write_s": round(exponent(n, col("write", "write_s")), 3)}
    if len(before) > 1:
        bn = [r["pairs"] for r in before]
        detail |= {"growth_exponent.before_trial_s": round(exponent(bn, [r["before_trial"]["seconds"] for r in before]), 3),
                   "projected.before_pickle_gib": round(project(bn, [r["before_write"]["bytes"] for r in before]) / gib, 2),
                   "projected.before_trial_s": round(project(bn, [r["before_trial"]["seconds"] for r in before]), 1),
                   "projected.before_load_s": round(project(bn, [r["before_trial"]["open_s"] for r in before]), 1),
                   "projected.before_peak_rss_gib": round(max(project_linear(bn, [r[ph]["peak_rss_mib"] for r in before])
                                                              for ph in ("before_write", "before_trial")) / 1024, 2)}
    shape = (f"{len(TARGETS)} target languages, vocabulary {VOCAB:,}, top-{TOP_K}, "
             f"{detail['eligible_per_pair']} eligible positions per pair")
    how = (f"Projected to {XNLI_PAIRS:,} pairs x {len(TARGETS)} languages from 10k/40k/160k-pair runs "
           if not quick else "Quick sizes, not for quoting. ")
    figs = [
        Figure("scale.cache_disk", f"augmentation cache on disk, projected to XNLI ({XNLI_PAIRS:,} x 14)", disk, "GiB",
               4, detail=detail,
               note=f"{how}({shape}); proposals of the realistic shape written through `proposal_cache` (columnar "
                    f".npy, ids int32, probabilities and mass float32, column-major). Per size: {sizes_note}"),
        Figure("scale.proposals_rss", "peak RSS with the proposals (cache write, or a trial), projected to XNLI", rss,
               "GiB", 8, detail=detail,
               note=f"The larger of the cache-writing process's and a trial's peak RSS (ru_maxrss: the process's imports "
                    f"and memory-mapped pages read included), the trial selecting {capped:,} examples per language so "
                    f"that the proposals, not the examples built for training, dominate; projected by a straight line "
                    f"over the sizes."),
        Figure("scale.trial_rss_all", "peak RSS of a trial selecting every pool example, projected to XNLI", rss_all,
               "GiB", detail=detail,
               note=f"As above, every pool example of the 14 languages built as an `Augmented` (the training data "
                    f"itself: {rows[-1]['trial']['selected'] / (n[-1] * len(TARGETS)):.0%} of the pairs per language "
                    f"at {n[-1]:,} pairs)."),
        Figure("scale.trial_augment", "a trial's augmentation from the cache (open + switch + select + stats), "
               "projected to XNLI", trial, "s", 60, detail=detail,
               note="`augment()` with the default AugmentConfig (threshold 0.3, max_ratio 0.5, 1 copy, selection by "
                    "confidence, every pool example selected and built as an Augmented) for 14 languages, from a warm "
                    "page cache, torch threads 1; a fresh process per size on 2 cores shared with other work."),
        Figure("scale.trial_capped", f"a trial's augmentation from the cache, {capped:,} per language, projected "
               "to XNLI", trial_n, "s", detail=detail,
               note=f"As above with samples_per_lang {capped:,}: the switching and ranking over all the proposals, only "
                    f"{capped:,} examples per language built."),
        Figure("scale.cache_open", "opening the cache (14 languages), projected to XNLI", opened, "s", 5,
               detail=detail, note="`proposal_cache` finding every language: the arrays memory-mapped, nothing read."),
        Figure("scale.propose_rate", "MLM proposals per second (vocabulary 119,547, 14 languages, 1 thread)",
               1 / per_pair, "pairs/s", detail={"sizes": [rounded(p) for p in proposed],
                                                "growth_exponent.propose_s": round(exponent(p_n, [p["seconds"] for p in proposed]), 3),
                                                "projected.propose_hours_1_thread": round(per_pair * XNLI_PAIRS / 3600, 1)},
               note=f"`propose(mode='visible')` into the cache's files with a random-weight BertForMaskedLM "
                    f"(vocabulary {VOCAB:,}, 2 layers, hidden 64) over {', '.join(map(str, p_n))} pairs, batch "
                    f"{proposed[-1]['batch_size']}, one process each; peak RSS {proposed[-1]['peak_rss_mib']:,.0f} MiB "
                    f"(a batch's full-vocabulary logits: it grows until a batch is full, then stays). At this rate {XNLI_PAIRS:,} pairs take "
                    f"{per_pair * XNLI_PAIRS / 3600:.1f} h on one core, mBERT's encoder not included."),
    ]
    if ref is not None:
        figs.append(Figure(
            "scale.trial_speedup", f"a trial's augmentation, before / after issue 15 ({ref['pairs']:,} pairs x 14)",
            (ref["before_trial"]["open_s"] + ref["before_trial"]["seconds"]) / (ref["trial"]["open_s"] + ref["trial"]["seconds"]),
            "x", detail=detail,
            note=f"Before: the code before issue 15, tests/augment_reference.py (pickle load, then code_switch/select/stats per example); after: "
                 f"cache open + `augment()`, same proposals, same config. Before at {XNLI_PAIRS:,} pairs, projected: "
                 f"pickle {detail.get('projected.before_pickle_gib')} GiB, load {detail.get('projected.before_load_s')} s, "
                 f"switch+select {detail.get('projected.before_trial_s')} s, peak RSS "
                 f"{detail.get('projected.before_peak_rss_gib')} GiB."))
    return figs


def run(opts: dict) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="salt-bench-scale-") as tmp:
        figs, _ = augmentation(Path(tmp), opts["quick"])
    return figs


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--phase":
        print(json.dumps(phase(json.loads(sys.argv[2]))))
    else:
        main(run)
