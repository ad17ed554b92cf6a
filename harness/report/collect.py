"""From a study revision's MLflow runs to one tidy table of scores: (arm, setting, seed, language) -> accuracy.

Each run's cell (harness.records) says its arm, settings and seed; a setting's label
(`samples_per_lang=800`) keys the table, and the typed settings stay with the comparisons. Rows are
every language, then `avg` (all languages) and `avg_targets` (without the source), exactly the run's own
`<split>_acc_*` metrics.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from harness.records import Cell, canonical, setting_label
from harness.stats.components import variance_components
from harness.tracking.readback import Reader, TrialRun
from harness.tracking.results import examples_at
from harness.tracking.tags import CONTAMINATED, DEGENERATE, REVISION
from salt.arms import ARMS, DATA_KEY, DRAW_KEY, REPLICATE_KEYS
from salt.config import display_value
from salt.metrics import AVERAGES, accuracy_metric, describe_shortfall

SAMPLES_KEY = "augment.samples_per_lang"
COLUMNS = ["run_id", "arm", "setting", "seed", "lang", "score", "samples", "x", "series", "steps", "seconds", "n_eff",
           "degenerate", "contaminated", "draws", "drawn", "end_time"]
DRAW_COLUMNS = ["run_id", "arm", "setting", "seed", "draw", "data", "lang", "score", "samples", "x", "series", "steps",
                "seconds", "n_eff", "degenerate", "contaminated", "end_time"]
REPLICATES = {"data": DATA_KEY, "draw": DRAW_KEY}  # column -> the setting crossed with the training seed


def study_runs(tracking_uri: str, study: str, revision: str) -> list[TrialRun]:
    """The finished trial runs of one study revision, or a ValueError in one sentence saying what to do."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):].split("?", 1)[0])
        if not db.is_file():  # opening it would create an empty store
            raise ValueError(f"study {study!r} has not been run yet: no MLflow store at {db} "
                             f"(run `salt-harness run <study file>` first)")
    reader = Reader(tracking_uri)
    runs = [r for r in reader.trial_runs(study, revision=revision) if r.cell is not None]
    if not runs:
        others = [p.data.tags.get(REVISION) for p in reader.parents(study)]
        others = [r for r in others if r and r != revision]
        hint = (f"; the store has other revisions of it: {', '.join(others)} (pass --revision)" if others else
                " (run it with `salt-harness run`, or check `salt-harness status`)")
        raise ValueError(f"study {study!r} has no finished runs of revision {revision} in {tracking_uri}{hint}")
    return runs


def samples_x(value) -> float:
    """Where a samples-per-language value sits on an axis: `all` (None) last."""
    return math.inf if value is None else float(value)


def _samples(cell: Cell) -> tuple[str | None, float]:
    """The cell's samples per language as a label and an axis position; (None, nan) for arms that do not
    augment by a count, or studies without the axis."""
    arm = ARMS.get(cell.arm)
    if arm is None or not arm.uses(SAMPLES_KEY):
        return None, math.nan
    settings = dict(cell.settings)
    if SAMPLES_KEY not in settings:
        return None, math.nan
    return display_value(SAMPLES_KEY, settings[SAMPLES_KEY]), samples_x(settings[SAMPLES_KEY])


def without_draw(settings: tuple) -> tuple:
    """The settings without the replicate seeds (draws, data orders): what a comparison's side is."""
    return tuple((k, v) for k, v in settings if k not in REPLICATE_KEYS)


def settings_by_label(runs: list[TrialRun]) -> dict[tuple[str, str], tuple]:
    """(arm, setting label) -> the typed settings (draws and data orders aside), for comparisons that fix or match
    settings."""
    return {(r.cell.arm, setting_label(without_draw(r.cell.settings))): without_draw(r.cell.settings) for r in runs}


def _rank(settings: tuple, axes: dict) -> tuple:
    """Where a cell's settings sit in the study's axes (value order as declared), for a stable row order."""
    out = []
    for key, value in settings:
        values = axes.get(key)
        known = isinstance(values, list) and value in values
        out.append((0, values.index(value), "") if known else (1, 0, canonical(value)))
    return tuple(out)


def _effective_n(run: TrialRun, languages: list[str]) -> float:
    """Augmented examples the run really trained on per target language (mean), or, for a step-matched run, those
    it is matched to: not the nominal N."""
    counts = [n for lang in languages[1:] if (n := examples_at(run.metrics, lang)) is not None]
    return float(sum(counts) / len(counts)) if counts else math.nan


def _degenerate(run: TrialRun) -> str:
    text = run.tags.get(DEGENERATE)
    if not text:
        return ""
    return "; ".join(describe_shortfall(lang, c) for lang, c in json.loads(text).items())


def draw_scores(runs: list[TrialRun], languages: list[str], split: str = "test") -> pd.DataFrame:
    """One row per run and language, draws apart: run_id, arm, setting (draws aside), seed, draw, lang, score,
    samples, x, series, steps, seconds (the run's wall time), n_eff, degenerate, contaminated, end_time."""
    if split not in ("test", "dev"):
        raise ValueError(f"split must be test or dev, got {split!r}")
    rows = []
    for run in runs:
        cell = run.cell
        settings = without_draw(cell.settings)
        samples, x = _samples(cell)
        series = setting_label([(k, v) for k, v in settings if k != SAMPLES_KEY])
        extra = [run.metrics.get("train_steps", math.nan), run.metrics.get("wall_seconds", math.nan),
                 _effective_n(run, languages), _degenerate(run),
                 run.tags.get(CONTAMINATED) == "true", run.end_time]
        for lang in [*languages, *AVERAGES]:
            score = run.metrics.get(accuracy_metric(split, lang))
            if score is not None and math.isfinite(score):
                rows.append([run.run_id, cell.arm, setting_label(settings), cell.seed, dict(cell.settings).get(DRAW_KEY),
                             dict(cell.settings).get(DATA_KEY), lang, float(score), samples, x, series, *extra])
    out = pd.DataFrame(rows, columns=DRAW_COLUMNS)
    if out.empty:
        raise ValueError(f"no run has {accuracy_metric(split, '<language>')} metrics: nothing to report for split "
                         f"{split!r}")
    # a cell run twice (a rare race between workers) keeps its latest run
    return out.sort_values("end_time", kind="stable").drop_duplicates(
        ["arm", "setting", "seed", "draw", "data", "lang"], keep="last")


def scores(runs: list[TrialRun], languages: list[str], split: str = "test", axes: dict | None = None) -> pd.DataFrame:
    """Long table, one row per (arm, setting, seed, language), in arm and axis order: run_id, arm, setting, seed,
    lang, score, samples, x, series, steps, seconds (of the seed's runs together), n_eff, degenerate, contaminated,
    draws, drawn, end_time.

    `samples` labels the `augment.samples_per_lang` value ("500", "all"; None for arms that do not depend
    on it), `x` is its axis position and `n_eff` the examples really selected; `series` is the setting
    without it (what a sample-count curve holds fixed). An arm run with several augmentation draws or data orders
    per seed (`draws: k`, `data_seeds: k`) is averaged over them, so seeds still pair across arms; `draw_scores`
    keeps them apart.
    """
    raw = draw_scores(runs, languages, split)
    keys = ["arm", "setting", "seed", "lang"]
    out = raw.groupby(keys, sort=False, dropna=False).agg(
        run_id=("run_id", "first"), score=("score", "mean"), samples=("samples", "first"), x=("x", "first"),
        series=("series", "first"), steps=("steps", "mean"), seconds=("seconds", lambda s: s.sum(min_count=1)), n_eff=("n_eff", "mean"),
        degenerate=("degenerate", lambda d: "; ".join(x for x in d if x)), contaminated=("contaminated", "any"),
        draws=("run_id", "size"), drawn=("draw", lambda d: bool(d.notna().any())),
        end_time=("end_time", "max")).reset_index()
    arms = arm_order(out["arm"])
    ranks = {label: _rank(settings, axes or {}) for (arm, label), settings in settings_by_label(runs).items()}
    order = sorted(range(len(out)), key=lambda i: (arms.index(out["arm"].iat[i]), ranks[out["setting"].iat[i]],
                                                   out["seed"].iat[i]))
    return out.iloc[order][COLUMNS].reset_index(drop=True)


def replicate_components(raw: pd.DataFrame, rows: list[str]) -> pd.DataFrame:
    """Per (arm, setting, row) run with draws or data orders crossed with its seeds: the SD of the seed
    (initialisation) effect, of the data-order effect, of the draw effect and the residual."""
    factors = [c for c in REPLICATES if raw[c].notna().any()]
    out = []
    crossed = raw.dropna(subset=factors, how="all")
    for (arm, setting), part in crossed.groupby(["arm", "setting"], sort=False):
        present = [c for c in factors if part[c].notna().all()]
        if not present:
            continue
        for row in rows:
            table = part[part["lang"] == row]
            if table.empty:
                continue
            levels = [table["seed"].nunique(), *(table[c].nunique() for c in present)]
            c = variance_components(_cube(table, present), ("seed", *present))
            sd = dict(c.sd)
            out.append({"arm": arm, "setting": setting, "row": row, "levels": " x ".join(map(str, levels)),
                        "factors": " x ".join(("seed", *present)), "mean": c.mean, "sd_seed": sd.get("seed", math.nan),
                        "sd_data": sd.get("data", math.nan), "sd_draw": sd.get("draw", math.nan),
                        "sd_residual": c.sd_residual, "note": c.note})
    return pd.DataFrame(out, columns=COMPONENT_COLUMNS)


COMPONENT_COLUMNS = ["arm", "setting", "row", "levels", "factors", "mean", "sd_seed", "sd_data", "sd_draw",
                     "sd_residual", "note"]


def _cube(table: pd.DataFrame, present: list[str]):
    """Scores as an array indexed [seed, replicate...] (NaN where a combination is missing)."""
    keys = ["seed", *present]
    axes = [sorted(table[k].unique()) for k in keys]
    cube = np.full([len(a) for a in axes], np.nan)
    for r in table.itertuples():
        cube[tuple(a.index(getattr(r, k)) for a, k in zip(axes, keys))] = r.score
    return cube


def row_order(frame: pd.DataFrame, languages: list[str]) -> list[str]:
    """Languages (source first), then the averages, as present."""
    present = set(frame["lang"])
    return [l for l in [*languages, *AVERAGES] if l in present]


def arm_order(arms) -> list[str]:
    """Registry order (reference first), then arms no longer registered."""
    arms = list(dict.fromkeys(arms))
    return [a for a in ARMS if a in arms] + sorted(a for a in arms if a not in ARMS)


def parent_run_id(tracking_uri: str, study: str, revision: str) -> str | None:
    """The parent run of a study revision (the oldest if a race left two)."""
    parents = [p for p in Reader(tracking_uri).parents(study, revision) if p.data.tags.get(REVISION) == revision]
    return parents[0].info.run_id if parents else None
