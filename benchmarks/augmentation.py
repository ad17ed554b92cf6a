"""What self-augmentation's MLM proposals cost beyond the forward pass they cannot avoid.

Visible mode reads every position from one forward pass per sentence, so it should cost little more
than a bare batched MLM forward over the same sentences; what it adds (the restricted top-k per
language, writing results into the flat arrays) is overhead we can remove. Masked mode runs one row
per eligible position: we report how many rows that is and what it costs relative to visible mode.

`propose` is called directly, so the on-disk proposal cache of `augment` is never involved.
Torch runs on 1 thread, as the demo's trials do.
"""
from __future__ import annotations

import cProfile
import importlib
import inspect
import pstats

import numpy as np
import torch

from benchmarks.common import Figure, interleaved, main

THREADS = 1


def setup(n: int) -> dict:
    """The demo's model, tokenizer, target vocabularies and first `n` source training sentences."""
    from harness.study import load_study
    from salt.encode import encode
    from salt.models import load_mlm, load_tokenizer
    from salt.run import cache_root, load_data
    from salt.vocab import TokenTable, language_vocabularies

    spec = load_study("studies/demo.yaml")
    cfg = spec.config(spec.cells()[0])
    cache = cache_root(cfg)
    from salt.vocab_text import unlabeled_text

    inputs = load_data(cfg)
    data, texts = inputs.data, unlabeled_text(cfg, inputs, [cfg.source_lang, *cfg.target_langs]).texts
    tokenizer = load_tokenizer(cfg.model, str(cache))
    src = encode(tokenizer, data.get("train", cfg.source_lang)[:n], cfg.train.max_seq_len)
    vocabs = language_vocabularies(tokenizer, texts, cfg.source_lang, list(cfg.target_langs), cfg.vocab,
                                   cfg.augment.unit, cache)
    model = load_mlm(cfg.model, str(cache)).eval()
    return {"cfg": cfg, "tokenizer": tokenizer, "src": src, "vocabs": vocabs, "table": TokenTable.build(tokenizer),
            "model": model}


def proposer(s: dict, mode: str, n: int | None = None):
    """A no-argument call of `propose` in `mode` over the first `n` sentences (all when None)."""
    from salt.augment.propose import propose
    from salt.encode import Encoded

    src, aug = s["src"], s["cfg"].augment
    if n is not None:
        src = Encoded(src.input_ids[:n], src.token_type_ids[:n], src.labels[:n], src.uids[:n], src.langs[:n])
    return lambda: propose(s["model"], s["tokenizer"], src, s["vocabs"], s["table"], mode, aug.unit,
                           s["cfg"].vocab.neutral, aug.top_k, batch_size(s), progress=False)


def batch_size(s: dict) -> int:
    """The study's `augment.batch_size`, auto as it resolves on CPU: one batch size for `propose` and the reference."""
    from salt.augment.sizing import CPU_CAP

    return s["cfg"].augment.batch_size or CPU_CAP


def bare_forward(s: dict):
    """The reference: full-vocabulary logits for every position, batched and padded as `propose` does."""
    from salt.encode import pad

    src, bs, pad_id = s["src"], batch_size(s), s["tokenizer"].pad_token_id
    batches = []
    for start in range(0, len(src), bs):
        ids = torch.as_tensor(pad(src.input_ids[start:start + bs], pad_id))
        types = torch.as_tensor(pad(src.token_type_ids[start:start + bs], 0))
        batches.append((ids, (ids != pad_id).long(), types))

    @torch.no_grad()
    def forward():
        for ids, mask, types in batches:
            s["model"](input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    return forward


def breakdown(fn, model) -> dict[str, float]:
    """Seconds of one profiled call of `fn` (a `propose`), by part (cProfile inclusive times).

    `topk_softmax` lies within `lang_topk`; `other` is what no listed part covers (batch tensors,
    indexing, loops). cProfile inflates Python-heavy parts a little: read the shares, not the seconds.
    """
    P = importlib.import_module("salt.augment.propose")  # the module (`salt.augment.propose` is also the function)
    from salt.encode import pad

    def key(f):
        code = inspect.unwrap(f).__code__
        return code.co_filename, code.co_firstlineno, code.co_name

    top_level = {"encoder": type(model.base_model).forward, "mlm_head": type(P.mlm_head(model)).forward,
                 "lang_topk": P._lang_topk, "rows": P._rows, "pad": pad,
                 "eligible": P.TokenTable.eligible}
    prof = cProfile.Profile()
    prof.runcall(fn)
    stats = pstats.Stats(prof).stats
    seconds = lambda f: stats.get(key(f), (0, 0, 0, 0.0))[3]  # noqa: E731
    out = {"total": seconds(P.propose)} | {name: seconds(f) for name, f in top_level.items()}
    out["other"] = out["total"] - sum(out[name] for name in top_level)
    out["topk_softmax"] = seconds(P._restricted_topk)
    return {k: round(v, 4) for k, v in out.items()}


def run(opts: dict) -> list[Figure]:
    quick = opts["quick"]
    n, n_masked, repeats = (200, 40, 2) if quick else (2000, 300, 5)
    torch.set_num_threads(THREADS)
    s = setup(n)
    mean_len = float(np.mean([len(x) for x in s["src"].input_ids]))

    visible = proposer(s, "visible")
    t = interleaved({"propose_visible": visible, "bare_forward": bare_forward(s)}, repeats=repeats)
    ratio = t["propose_visible"]["median_s"] / t["bare_forward"]["median_s"]
    rows = visible().forward_rows
    parts = breakdown(visible, s["model"])
    share = {k: 100 * v / parts["total"] for k, v in parts.items()}
    rest = 100 - sum(share[k] for k in ("encoder", "mlm_head", "lang_topk"))
    langs = ", ".join(s["vocabs"])
    common = {"sentences": n, "mean_tokens": round(mean_len, 1), "batch_size": batch_size(s),
              "top_k": s["cfg"].augment.top_k, "languages": langs, "torch_threads": THREADS, "repeats": repeats}
    figs = [Figure(
        "augment.visible_vs_forward", "visible-mode proposals / bare MLM forward", ratio, "x", 1.3,
        detail={**common, "propose_visible_median_s": t["propose_visible"]["median_s"],
                "bare_forward_median_s": t["bare_forward"]["median_s"], "forward_rows": rows,
                "forward_rows_per_sentence": rows / n, "propose_times_s": t["propose_visible"]["times_s"],
                "forward_times_s": t["bare_forward"]["times_s"],
                **{f"profile_s.{k}": v for k, v in parts.items()}},
        note=f"`propose(mode='visible')` called directly (no disk cache) for {langs} over {n} demo source "
             f"sentences, against `AutoModelForMaskedLM(input_ids, attention_mask, token_type_ids)` with full "
             f"logits under no_grad on the same padded batches; torch threads {THREADS}, interleaved, medians. "
             f"Where one profiled call of `propose` goes (cProfile): encoder {share['encoder']:.0f}%, MLM head "
             f"on eligible positions {share['mlm_head']:.0f}%, restricted top-k per language (`_lang_topk`) "
             f"{share['lang_topk']:.0f}% (softmax+topk itself {share['topk_softmax']:.0f}%), the rest {rest:.0f}%.")]

    sub = min(n_masked, n)
    tm = interleaved({"masked": proposer(s, "masked", sub), "visible": proposer(s, "visible", sub)},
                     repeats=max(1, repeats - 2), warmup=1)
    masked_rows = proposer(s, "masked", sub)().forward_rows
    figs += [
        Figure("augment.masked_forward_per_sentence", "masked mode: forward rows per sentence", masked_rows / sub,
               "rows/sentence", detail={"sentences": sub, "forward_rows": masked_rows, "visible_rows": sub},
               note="One row per eligible (single-piece, non-neutral) position; visible mode runs 1 per sentence."),
        Figure("augment.masked_vs_visible", "masked-mode proposals / visible-mode proposals",
               tm["masked"]["median_s"] / tm["visible"]["median_s"], "x",
               detail={"sentences": sub, "masked_median_s": tm["masked"]["median_s"],
                       "visible_median_s": tm["visible"]["median_s"], "masked_times_s": tm["masked"]["times_s"],
                       "visible_times_s": tm["visible"]["times_s"], "torch_threads": THREADS},
               note=f"`propose` called directly on the first {sub} of the sentences above, interleaved, medians."),
    ]
    return figs


if __name__ == "__main__":
    main(run)
