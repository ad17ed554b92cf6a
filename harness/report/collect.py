"""From MLflow runs to one tidy table of scores: (arm, setting, seed, language) -> accuracy.

A setting is the cell's axis values ("samples_per_lang=500", "-" for none), read from the `salt.cell`
tag, so any study's axes work without knowing them. Rows are every language, then `avg` (all languages)
and `avg_targets` (without the source), exactly the run's own `<split>_acc_*` metrics.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.tracking import load_runs

AVG, AVG_TARGETS = "avg", "avg_targets"
AVERAGES = (AVG, AVG_TARGETS)
NO_SETTING = "-"
SAMPLES_KEY = "augment.samples_per_lang"
ARM_ORDER = ("baseline", "salt", "random-selection", "random-substitution", "equal-steps")
COLUMNS = ["run_id", "arm", "setting", "seed", "lang", "score", "samples", "series", "end_time"]


def study_runs(tracking_uri: str, study_name: str) -> pd.DataFrame:
    """The study's finished trial runs, or a ValueError in one sentence saying what to do."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):].split("?", 1)[0])
        if not db.is_file():  # opening it would create an empty store
            raise ValueError(f"study {study_name!r} has not been run yet: no MLflow store at {db} "
                             f"(run `salt-harness run <study file>` first)")
    runs = load_runs(tracking_uri, study_name)
    if runs.empty:
        raise ValueError(f"study {study_name!r} has no finished runs in {tracking_uri} "
                         f"(run it with `salt-harness run`, or check `salt-harness status`)")
    return runs


def setting_of(cell: str) -> str:
    """The axis part of a cell id `arm/k=v,k2=v2/seed=s`."""
    parts = str(cell).split("/")
    return parts[1] if len(parts) >= 3 and parts[1] else NO_SETTING


def _drop_key(setting: str, short: str) -> str:
    kept = [kv for kv in setting.split(",") if kv and kv != NO_SETTING and kv.split("=", 1)[0] != short]
    return ",".join(kept) or NO_SETTING


def languages(runs: pd.DataFrame, split: str) -> list[str]:
    """Languages with a `<split>_acc_<lang>` metric: the source first, then the targets in study order."""
    prefix = f"metrics.{split}_acc_"
    found = [c[len(prefix):] for c in runs.columns if c.startswith(prefix) and c[len(prefix):] not in AVERAGES]
    order: list[str] = []
    if "params.source_lang" in runs:
        order += [s for s in runs["params.source_lang"].dropna().unique()]
    if "params.target_langs" in runs:
        for value in runs["params.target_langs"].dropna().unique():
            try:
                order += [t for t in json.loads(value) if t not in order]
            except (TypeError, ValueError):
                pass
    return [l for l in order if l in found] + sorted(l for l in found if l not in order)


def source_language(runs: pd.DataFrame) -> str | None:
    if "params.source_lang" not in runs:
        return None
    values = runs["params.source_lang"].dropna().unique()
    return str(values[0]) if len(values) == 1 else None


def scores(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Long table: run_id, arm, setting, seed, lang, score, samples, series, end_time.

    `samples` is the `augment.samples_per_lang` value as a label ("500", "all"; None for the baseline, which
    does not augment); `series` is the setting without it (what a sample-count curve holds fixed). Runs
    repeated for one cell (a rare race between workers) keep the latest.
    """
    if split not in ("test", "dev"):
        raise ValueError(f"split must be test or dev, got {split!r}")
    if "tags.salt.arm" not in runs:
        raise ValueError("the runs have no tags.salt.arm column: are these runs of a SALT study?")
    langs = languages(runs, split)
    if not langs:
        raise ValueError(f"no run has {split}_acc_<language> metrics: nothing to report for split {split!r}")
    seed_col = "tags.salt.seed" if "tags.salt.seed" in runs else "params.seed"
    base = pd.DataFrame({
        "run_id": runs["run_id"],
        "arm": runs["tags.salt.arm"].astype(str),
        "setting": runs["tags.salt.cell"].map(setting_of) if "tags.salt.cell" in runs else NO_SETTING,
        "seed": pd.to_numeric(runs[seed_col], errors="coerce"),
        "end_time": runs["end_time"] if "end_time" in runs else pd.NaT,
    })
    if base["seed"].isna().any():
        raise ValueError(f"some runs have no numeric seed in {seed_col}")
    base["seed"] = base["seed"].astype(int)
    short = SAMPLES_KEY.split(".")[-1]
    raw = runs[f"params.{SAMPLES_KEY}"] if f"params.{SAMPLES_KEY}" in runs else pd.Series(None, index=runs.index)
    base["samples"] = [None if arm == "baseline" or pd.isna(v) else ("all" if v == "None" else str(v))
                       for arm, v in zip(base["arm"], raw)]
    base["series"] = [_drop_key(s, short) for s in base["setting"]]
    parts = []
    for lang in [*langs, *AVERAGES]:
        col = f"metrics.{split}_acc_{lang}"
        if col in runs:
            parts.append(base.assign(lang=lang, score=pd.to_numeric(runs[col], errors="coerce")))
    out = pd.concat(parts, ignore_index=True).dropna(subset=["score"])
    out = out.sort_values("end_time", kind="stable").drop_duplicates(["arm", "setting", "seed", "lang"], keep="last")
    return out[COLUMNS].reset_index(drop=True)


def row_order(frame: pd.DataFrame, runs: pd.DataFrame, split: str) -> list[str]:
    """Languages (source first), then the averages, as present."""
    present = set(frame["lang"])
    return [l for l in [*languages(runs, split), *AVERAGES] if l in present]


def arm_order(arms) -> list[str]:
    arms = list(dict.fromkeys(arms))
    return [a for a in ARM_ORDER if a in arms] + sorted(a for a in arms if a not in ARM_ORDER)


def parent_run_id(tracking_uri: str, study_name: str) -> str | None:
    """The study's parent run (tags salt.role=parent, salt.study=<name>); the oldest if several."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri)
    exp_ids = [e.experiment_id for e in client.search_experiments(ViewType.ACTIVE_ONLY)]
    if not exp_ids:
        return None
    name = study_name.replace("'", "")
    runs = client.search_runs(exp_ids, f"tags.`salt.role` = 'parent' and tags.`salt.study` = '{name}'",
                              ViewType.ACTIVE_ONLY, order_by=["attributes.start_time ASC"], max_results=10)
    return runs[0].info.run_id if runs else None
