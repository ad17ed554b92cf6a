"""A study's MLflow records without training: finished runs for every cell, recorded as the objective
records them, with accuracies computed from fabricated per-example predictions (seconds, not minutes)."""
import json

import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.entities import Metric

from harness.report import Options, build_report
from harness.storage import locate
from harness.study import load_study
from harness.tracking.readback import Reader, runs_frame
from harness.tracking.results import aug_metric
from harness.tracking.runs import StudyTracker
from harness.tracking.store import prepare_store

LANGS = ("en", "fr", "de")
GAIN = {"baseline": 0.0, "equal-steps": 0.01, "salt": 0.06, "random-selection": 0.02}
POOL = 400  # augmented examples a language's pool holds: an N of `all` selects this many
UPDATES = {"baseline": 100}  # optimizer updates: the augmented arms (and equal-steps) train for 150


def study_file(tmp, name, seeds=5, arms=("baseline", "salt", "random-selection"), **extra):
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "task": "synthetic-nli", "data": {"source": "synthetic", "world": "tiny"},
        "languages": {"source": "en", "targets": ["fr", "de"]}, "arms": list(arms),
        "axes": {"augment.samples_per_lang": [50, "all"]}, "seeds": list(range(seeds)),
        "output": {"dir": str(tmp / "store")}, **extra}))
    return path


def predictions(rng, acc, exact=False):
    """`exact`: exactly round(acc * n) examples right (no binomial noise), at random positions."""
    rows = []
    for split, n in (("dev", 40), ("test", 120)):
        for lang in LANGS:
            labels = np.random.default_rng([n, LANGS.index(lang)]).integers(0, 3, n)  # one test set for every run
            correct = (rng.permutation(n) < round(acc[lang] * n)) if exact else rng.random(n) < acc[lang]
            rows.append(pd.DataFrame({"split": split, "lang": lang, "uid": [f"{lang}/{split}/{i}" for i in range(n)],
                                      "label": labels, "pred": np.where(correct, labels, (labels + 1) % 3)}))
    return pd.concat(rows, ignore_index=True)


def write_store(path, skip=(), degenerate=(), with_predictions=True, accuracy=None):
    """Finished runs for every cell of the study, recorded as the objective records them (minus training):
    accuracies, updates, augmented examples selected (the cells in `degenerate` selected none in fr), and
    (`with_predictions`) the per-example predictions that example-level tests read. `accuracy(cell)`: each
    language's accuracy of a cell, met exactly (default: a gain per arm plus a random effect per cell)."""
    spec = load_study(path)
    uri = locate(spec).tracking_uri
    exp = prepare_store(uri, spec.name)
    tracker = StudyTracker(uri, exp)
    parent = tracker.parent_run(spec.name, spec.revision, spec.to_dict(), path)
    client = MlflowClient(uri)
    rng = np.random.default_rng(0)
    for cell in spec.cells():
        if cell.id in skip:
            continue
        size = cell.value("augment.samples_per_lang")
        seed_effect = rng.normal(0, 0.03)
        acc = {l: 0.55 + (0.25 if l == "en" else 0.0) + GAIN[cell.arm] * (1.5 if size is None else 1.0)
               + seed_effect for l in LANGS} if accuracy is None else accuracy(cell)
        preds = predictions(rng, acc, exact=accuracy is not None)
        run = tracker.start_trial(parent, cell.label, cell.run_params(spec.config(cell)), cell.tags(),
                                  revision=spec.revision)
        metrics = {}
        for split in ("dev", "test"):
            p = preds[preds["split"] == split]
            per = {l: float((g["pred"] == g["label"]).mean()) for l, g in p.groupby("lang")}
            metrics.update({f"{split}_acc_{l}": v for l, v in per.items()})
            metrics[f"{split}_acc_avg"] = float(np.mean(list(per.values())))
            metrics[f"{split}_acc_avg_targets"] = float(np.mean([per["fr"], per["de"]]))
        metrics["train_steps"] = UPDATES.get(cell.arm, 150)
        if cell.arm != "baseline":
            for lang in ("fr", "de"):
                metrics[aug_metric(lang, "n_selected")] = 0 if cell.id in degenerate and lang == "fr" else (
                    POOL if size is None else min(size, POOL))
        if cell.id in degenerate:
            client.set_tag(run, "salt.degenerate", json.dumps({"fr": {"requested": size, "selected": 0, "pool": 0}}))
        client.log_batch(run, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()])
        if with_predictions:
            out = path.parent / f"preds-{run}"
            out.mkdir()
            preds.to_parquet(out / "predictions.parquet", index=False)
            client.log_artifact(run, str(out / "predictions.parquet"))
        client.set_terminated(run, "FINISHED")
    tracker.finish_parent(parent)
    return spec, uri, parent


def load_frame(uri, spec):
    """The finished runs of the study's revision as one row each (columns arm, setting, seed, metrics.*)."""
    return runs_frame(Reader(uri).trial_runs(spec.name, revision=spec.revision))


def report_of(spec, uri, options=None, compare=None, **kw):
    runs = Reader(uri).trial_runs(spec.name, revision=spec.revision)
    return build_report(runs, spec.name, spec.revision, list(LANGS), "en", options or Options(), compare, uri,
                        axes=spec.axes, **kw)


