"""What a salt RunResult becomes in MLflow: summary metrics, and the artifacts a report reads back."""
from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable

PREDICTIONS = ("predictions.parquet", "predictions.csv.gz")
MANIFEST = "manifest.parquet"  # every selected augmented example (salt.augment.manifest), zstd-compressed columns
SAMPLE_PER_LANG = 20  # augmented examples per language kept in the augmented_sample.jsonl artifact


def as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def aug_metric(lang: str, stat: str) -> str:
    """`aug/fr/n_selected`: MLflow groups metrics by the part before `/`, so the per-language augmentation
    statistics get their own chart section and the accuracies (no `/`) come first."""
    return f"aug/{lang}/{stat}"


def read_aug_metric(metrics: dict[str, float], lang: str, stat: str) -> float | None:
    """The statistic from a run of this version or of one before the `/` names (`aug.fr.n_selected`)."""
    return metrics.get(aug_metric(lang, stat), metrics.get(f"aug.{lang}.{stat}"))


def matched_metric(lang: str) -> str:
    """`matched/fr/n_examples`: the augmented examples of a language whose updates a step-matched run trained
    for on source rows (it records the N it is matched to, never the augmented arm's sample)."""
    return f"matched/{lang}/n_examples"


def examples_at(metrics: dict[str, float], lang: str) -> float | None:
    """Where a run sits on a sample-count axis: the augmented examples of `lang` it selected, or those it is
    step-matched to."""
    selected = read_aug_metric(metrics, lang, "n_selected")
    return selected if selected is not None else metrics.get(matched_metric(lang))


def result_metrics(result: Any) -> dict[str, float]:
    """The summary metrics of a RunResult (step 0): its flat metrics, counts, timings, augmentation stats."""
    train, aug = result.train, result.augmentation
    out = dict(result.metrics)
    out.update(train_steps=train.steps, examples_seen=getattr(train, "examples_seen", None), best_step=train.best_step,
               n_source=train.n_source,
               n_augmented=train.n_augmented, wall_seconds=result.seconds, train_seconds=train.seconds)
    for stage in getattr(train, "stages", []):
        out.update({f"stage/{stage['name']}/steps": stage["steps"],
                    f"stage/{stage['name']}/examples_seen": stage["examples_seen"]})
    if aug is not None:
        out.update(aug_seconds=getattr(aug, "seconds", None), aug_forward_rows=getattr(aug, "forward_rows", None))
        for lang, stats in aug.stats.items():
            out.update({aug_metric(lang, k): v for k, v in stats.items()})
    out.update({matched_metric(lang): n for lang, n in getattr(result, "matched", {}).items()})
    return {k: f for k, v in out.items() if (f := as_float(v)) is not None}


def write_artifacts(out: Path, result: Any, render: Callable[[list[int]], list[str]] | None,
                    manifest: Any = None) -> None:
    """`manifest`: the run's `sample_manifest` when the caller built it already (else built here)."""
    preds = result.train.predictions
    try:
        import pyarrow  # noqa: F401

        preds.to_parquet(out / PREDICTIONS[0], index=False)
    except ImportError:
        preds.to_csv(out / PREDICTIONS[1], index=False, compression="gzip")
    if is_dataclass(result.config):
        (out / "run_config.json").write_text(json.dumps(asdict(result.config), indent=1, default=str))
    aug = result.augmentation
    if aug is None:
        return
    (out / "augmentation_stats.json").write_text(json.dumps(
        {"stats": aug.stats, "n_examples": {lang: len(v) for lang, v in aug.examples.items()},
         "forward_rows": getattr(aug, "forward_rows", None), "seconds": getattr(aug, "seconds", None),
         "cached": getattr(aug, "cached", None)}, indent=1, default=float))
    # Columnar and compressed: at N = all a run selects millions of examples, and a CSV of them ran to
    # hundreds of MB per run (pyarrow comes with `datasets`).
    (sample_manifest(aug) if manifest is None else manifest).to_parquet(out / MANIFEST, index=False, compression="zstd")
    with (out / "augmented_sample.jsonl").open("w", encoding="utf-8") as f:
        for lang, examples in aug.examples.items():
            for a in examples[:SAMPLE_PER_LANG]:
                f.write(json.dumps(_augmented_record(a, render), ensure_ascii=False) + "\n")


def sample_manifest(aug: Any):
    from salt.augment.manifest import manifest

    return manifest(aug.examples)


def _augmented_record(a: Any, render: Callable[[list[int]], list[str]] | None) -> dict:
    ids = [int(i) for i in a.aug_ids]
    positions = [int(p) for p in a.positions]
    rec = {"uid": a.uid, "lang": a.lang, "label": int(a.label), "source_index": int(a.source_index),
           "positions": positions, "probs": [round(float(p), 4) for p in a.probs],
           "synonym": [bool(s) for s in a.synonym], "aug_ids": ids}
    if render is not None:
        tokens = list(render(ids))
        rec["tokens"] = tokens
        rec["substitutes"] = [tokens[p] for p in positions]
    return rec
