"""`salt-harness augment`: preview code-switched examples side by side, with the statistics, for one language."""
from __future__ import annotations

import json

from salt.config import AugmentConfig, RunConfig, TrainConfig


def add_parser(sub) -> None:
    p = sub.add_parser("augment", help="preview self-augmentation for one target language")
    p.add_argument("--task", default="synthetic-nli", choices=["xnli", "pawsx", "synthetic-nli", "synthetic-paraphrase"])
    p.add_argument("--data-dir", help="local directory with the released files (xnli/pawsx); default: the hub")
    p.add_argument("--model", default="synthetic:default", help="hub id, local directory or synthetic:<preset>")
    p.add_argument("--world", default="default", help="synthetic world preset")
    p.add_argument("--source-lang", default="en")
    p.add_argument("--lang", required=True, help="target language to preview")
    d = AugmentConfig()
    p.add_argument("--mode", choices=["visible", "masked"], default=d.mode)
    p.add_argument("--unit", choices=["word", "piece"], default=d.unit)
    p.add_argument("--threshold", type=float, default=d.threshold)
    p.add_argument("--max-ratio", type=float, default=d.max_ratio)
    p.add_argument("--copies", type=int, default=d.copies)
    p.add_argument("--synonyms", action="store_true")
    p.add_argument("--synonym-threshold", type=float, default=d.synonym_threshold)
    p.add_argument("--substitution", choices=["mlm", "random"], default=d.substitution)
    p.add_argument("--samples", type=int, default=None, help="N augmented examples kept (default all)")
    p.add_argument("--selection", choices=["confidence", "random"], default=d.selection)
    p.add_argument("--max-source", type=int, default=500, help="source examples augmented for the preview")
    p.add_argument("--show", type=int, default=5, help="examples printed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="statistics only, as JSON")
    p.set_defaults(func=augment_cmd)


def augment_cmd(args) -> int:
    from salt.encode import encode
    from salt.models import load_tokenizer, pick_device
    from salt.run import cache_root, load_data

    if args.max_source <= 0 or args.show < 0 or args.copies < 1:
        raise ValueError("--max-source and --copies must be >= 1, --show >= 0")
    cfg = RunConfig(
        task=args.task, data_source="synthetic" if args.task.startswith("synthetic-") else
        ("local" if args.data_dir else "hub"), data_dir=args.data_dir, model=args.model, world=args.world,
        source_lang=args.source_lang, target_langs=(args.lang,), seed=args.seed, train=TrainConfig(),
        augment=AugmentConfig(mode=args.mode, unit=args.unit, threshold=args.threshold, max_ratio=args.max_ratio,
                              copies=args.copies, synonyms=args.synonyms, synonym_threshold=args.synonym_threshold,
                              substitution=args.substitution, samples_per_lang=args.samples,
                              selection=args.selection, max_source_examples=args.max_source))
    from salt.run import self_augment

    data, texts, lexicon = load_data(cfg)
    if args.lang not in data.spec.languages or args.lang == args.source_lang:
        raise ValueError(f"--lang {args.lang!r}: choose a target language of {args.task}: "
                         + ", ".join(l for l in data.spec.languages if l != args.source_lang))
    tokenizer = load_tokenizer(cfg.model, str(cache_root(cfg)))
    examples = data.get("train", cfg.source_lang)[:args.max_source]
    source = encode(tokenizer, examples, cfg.train.max_seq_len)
    result = self_augment(cfg, tokenizer, source, texts, lexicon, [args.lang], pick_device("auto"), progress=True)
    stats = result.stats[args.lang]
    if args.json:
        print(json.dumps({"lang": args.lang, "config": cfg.augment.__dict__, "stats": stats}, indent=2))
        return 0
    gold = (lexicon or {}).get(args.lang)
    for ex in result.examples[args.lang][:args.show]:
        print(side_by_side(tokenizer, source.input_ids[ex.source_index], ex, args.source_lang, gold))
        print()
    print(f"statistics ({args.lang}, {int(stats['n_source'])} source examples):")
    for key, value in stats.items():
        print(f"  {key:20s} {value:.3f}" if isinstance(value, float) and not key.startswith("n_") else f"  {key:20s} {int(value)}")
    return 0


def side_by_side(tokenizer, src_ids, ex, source_lang: str, gold: dict[str, str] | None) -> str:
    """Two aligned rows; substituted tokens in [brackets], with the probability and a gold check if known."""
    src_toks = tokenizer.convert_ids_to_tokens(src_ids.tolist())
    aug_toks = tokenizer.convert_ids_to_tokens(ex.aug_ids.tolist())
    subs = {int(p): (float(q), bool(s)) for p, q, s in zip(ex.positions, ex.probs, ex.synonym)}
    top, bottom = [], []
    for i, (a, b) in enumerate(zip(src_toks, aug_toks)):
        if i in subs:
            q, syn = subs[i]
            mark = "~" if syn else (("+" if gold.get(a) == b else "-") if gold else "")
            a, b = f"[{a}]", f"[{b}]{mark}"
        width = max(len(a), len(b))
        top.append(a.ljust(width))
        bottom.append(b.ljust(width))
    return (f"{source_lang:>4}: {' '.join(top)}\n{ex.lang:>4}: {' '.join(bottom)}\n"
            f"      confidence {ex.confidence:.2f}, {len(subs)} substituted" + (" (+ gold, - not, ~ synonym)" if gold else ""))
