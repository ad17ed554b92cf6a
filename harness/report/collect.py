"""From a study revision's MLflow runs to one tidy table of scores: (arm, setting, seed, language) -> accuracy.

Each run's cell (harness.records) says its arm, settings and seed; a setting's label
(`samples_per_lang=800`) keys the table, and the typed settings stay with the comparisons. Rows are
every language, then `avg` (all languages) and `avg_targets` (without the source), exactly the run's own
`<split>_acc_*` metrics.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from harness.records import NO_SETTING, Cell, canonical, setting_label
from harness.tracking.readback import Reader, TrialRun
from harness.tracking.tags import REVISION
from salt.arms import ARMS
from salt.config import display_value

AVG, AVG_TARGETS = "avg", "avg_targets"
AVERAGES = (AVG, AVG_TARGETS)
SAMPLES_KEY = "augment.samples_per_lang"
COLUMNS = ["run_id", "arm", "setting", "seed", "lang", "score", "samples", "x", "series", "end_time"]


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


def settings_by_label(runs: list[TrialRun]) -> dict[tuple[str, str], tuple]:
    """(arm, setting label) -> the typed settings, for comparisons that fix or match settings."""
    return {(r.cell.arm, r.cell.setting_label): r.cell.settings for r in runs}


def _rank(settings: tuple, axes: dict) -> tuple:
    """Where a cell's settings sit in the study's axes (value order as declared), for a stable row order."""
    out = []
    for key, value in settings:
        values = axes.get(key)
        known = isinstance(values, list) and value in values
        out.append((0, values.index(value), "") if known else (1, 0, canonical(value)))
    return tuple(out)


def scores(runs: list[TrialRun], languages: list[str], split: str = "test", axes: dict | None = None) -> pd.DataFrame:
    """Long table: run_id, arm, setting, seed, lang, score, samples, x, series, end_time, in arm and axis order.

    `samples` labels the `augment.samples_per_lang` value ("500", "all"; None for arms that do not depend
    on it), `x` is its axis position; `series` is the setting without it (what a sample-count curve holds
    fixed). Runs repeated for one cell (a rare race between workers) keep the latest.
    """
    if split not in ("test", "dev"):
        raise ValueError(f"split must be test or dev, got {split!r}")
    rows = []
    for run in runs:
        cell = run.cell
        samples, x = _samples(cell)
        series = setting_label([(k, v) for k, v in cell.settings if k != SAMPLES_KEY])
        for lang in [*languages, *AVERAGES]:
            score = run.metrics.get(f"{split}_acc_{lang}")
            if score is not None and math.isfinite(score):
                rows.append([run.run_id, cell.arm, cell.setting_label, cell.seed, lang, float(score), samples, x,
                             series, run.end_time])
    out = pd.DataFrame(rows, columns=COLUMNS)
    if out.empty:
        raise ValueError(f"no run has {split}_acc_<language> metrics: nothing to report for split {split!r}")
    out = out.sort_values("end_time", kind="stable").drop_duplicates(["arm", "setting", "seed", "lang"], keep="last")
    arms, ranks = arm_order(out["arm"]), {(r.cell.arm, r.cell.setting_label): _rank(r.cell.settings, axes or {})
                                            for r in runs}
    order = sorted(range(len(out)), key=lambda i: (arms.index(out["arm"].iat[i]),
                                                   ranks[(out["arm"].iat[i], out["setting"].iat[i])],
                                                   out["seed"].iat[i]))
    return out.iloc[order].reset_index(drop=True)


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
