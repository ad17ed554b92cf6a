"""`salt-harness augment`: preview code-switched examples side by side, with the statistics, for one language."""
from __future__ import annotations

import json
from dataclasses import replace

from harness.commands.settings import add_setting_flags, apply_flags
from salt.config import RunConfig, build_config
from salt.data.tasks import TASKS, get_task

FLAGS = {"--mode": "augment.mode", "--unit": "augment.unit", "--threshold": "augment.threshold",
         "--threshold-on": "augment.threshold_on", "--vocab-source": "vocab.source", "--vocab-dir": "vocab.dir",
         "--allow-eval-text": "vocab.allow_eval_text",
         "--max-ratio": "augment.max_ratio", "--copies": "augment.copies", "--synonyms": "augment.synonyms",
         "--synonym-threshold": "augment.synonym_threshold", "--substitution": "augment.substitution",
         "--samples": "augment.samples_per_lang", "--selection": "augment.selection",
         "--max-source": "augment.max_source_examples", "--seed": "seed", "--world": "world",
         "--model": "model", "--source-lang": "source_lang"}
PREVIEW = {"augment.max_source_examples": 500}  # a preview augments the first 500 source examples


def add_parser(sub) -> None:
    p = sub.add_parser("augment", help="preview self-augmentation for one target language")
    p.add_argument("--task", default="synthetic-nli", choices=list(TASKS), help="the task (default synthetic-nli)")
    p.add_argument("--data-dir", help="local directory with the released files (real tasks); default: the hub")
    p.add_argument("--lang", required=True, help="target language to preview")
    add_setting_flags(p, FLAGS, _defaults())
    p.add_argument("--show", type=int, default=5, help="examples printed (default 5)")
    p.add_argument("--json", action="store_true", help="statistics only, as JSON")
    p.set_defaults(func=augment_cmd)


def _defaults() -> RunConfig:
    return build_config(RunConfig(), PREVIEW)


def augment_cmd(args) -> int:
    from salt.encode import encode
    from salt.models import load_tokenizer, pick_device
    from salt.run import cache_root, load_data, self_augment

    if args.show < 0:
        raise ValueError(f"--show must be >= 0, got {args.show}")
    task = get_task(args.task)
    base = build_config(_defaults(), {"task": task.name, "data_dir": args.data_dir,
                                      "data_source": "local" if args.data_dir else task.sources[0]})
    cfg = apply_flags(base, args, FLAGS)
    if args.model is None:  # the synthetic world's model for the chosen world
        cfg = replace(cfg, model=f"synthetic:{cfg.world}")
    cfg = _with_target(cfg, args.lang)
    inputs = load_data(cfg)
    data, lexicon = inputs.data, inputs.lexicon
    tokenizer = load_tokenizer(cfg.model, str(cache_root(cfg)))
    examples = data.get("train", cfg.source_lang)[:cfg.augment.max_source_examples]
    source = encode(tokenizer, examples, cfg.train.max_seq_len)
    result = self_augment(cfg, tokenizer, source, inputs, [args.lang], pick_device("auto"), progress=True)
    stats = result.stats[args.lang]
    if args.json:
        print(json.dumps({"lang": args.lang, "config": cfg.augment.__dict__, "stats": stats}, indent=2))
        return 0
    gold = (lexicon or {}).get(args.lang)
    for ex in result.examples[args.lang][:args.show]:
        print(side_by_side(tokenizer, source.input_ids[ex.source_index], ex, cfg.source_lang, gold))
        print()
    print(f"statistics ({args.lang}, {int(stats['n_source'])} source examples):")
    for key, value in stats.items():
        print(f"  {key:20s} {value:.3f}" if isinstance(value, float) and not key.startswith("n_") else f"  {key:20s} {int(value)}")
    return 0


def _with_target(cfg: RunConfig, lang: str) -> RunConfig:
    langs = get_task(cfg.task).languages(cfg.world)
    if lang not in langs or lang == cfg.source_lang:
        raise ValueError(f"--lang {lang!r}: choose a target language of {cfg.task}: "
                         + ", ".join(l for l in langs if l != cfg.source_lang))
    return replace(cfg, target_langs=(lang,))


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
