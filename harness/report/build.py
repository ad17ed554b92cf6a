"""A study's report, end to end: runs -> scores -> the comparison engine -> tables, curves, plots -> files and
MLflow."""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import pandas as pd

from harness.records import resolve
from harness.report import answer_text, collect, latex, sequential, tables
from harness.report.answer import answer
from harness.report.curves import has_samples_axis, sample_curves
from harness.report.engine import Engine
from harness.report.html import render_html
from harness.report.model import Report
from harness.report.options import FORMATS, Options
from harness.report.plots import plot_differences, plot_forest, plot_samples
from harness.stats.registry import by_level
from harness.tracking.readback import Reader, TrialRun
from salt.config import RunConfig

log = logging.getLogger(__name__)
__all__ = ["FORMATS", "Report", "build_report", "log_to_mlflow", "render", "write_report"]


def build_report(runs: list[TrialRun], study: str, revision: str, languages: list[str], source: str | None,
                 options: Options | None = None, compare: list[tuple[str, str]] | None = None,
                 tracking_uri: str = "", predictions=None, arms: list[str] | None = None,
                 expected_runs: int | None = None, axes: dict | None = None,
                 base: RunConfig | None = None, rule=None) -> Report:
    """Every comparison table and the sample-count curves of one study revision's runs.

    `languages`: the study's languages, source first (the table's row order). `compare`: pairs of arms
    (`arm` or `arm:setting=value`); default `comparisons.default_comparisons`, over `arms` (the study's declared
    arms, so an arm with no finished run still gets its table, saying so). `predictions`: run id ->
    predictions frame, needed by example-level tests (default: read from MLflow). `axes`: the study's axes,
    whose declared value order orders the tables. `base`: the study's base config, from which each cell's
    config is resolved to find comparisons identical by construction (default: the defaults). `rule`: the
    group-sequential design of a study run with sequential seeds, whose decisions then set the marks.
    """
    opts = options or Options()
    scores = collect.scores(runs, languages, opts.split, axes)
    if opts.example_level and (scores["draws"] > 1).any():
        raise ValueError(f"--test {opts.test} pairs one run per seed, and this study has several runs per seed "
                         f"(augmentation draws or data orders): use a seed-level test ({', '.join(t.name for t in by_level('seed'))})")
    typed = collect.settings_by_label(runs)
    rows = collect.row_order(scores, languages)
    if opts.example_level and predictions is None:
        if not tracking_uri:
            raise ValueError(f"--test {opts.test} reads per-example predictions from MLflow: give a tracking URI")
        predictions = _predictions_reader(tracking_uri)
    engine = Engine(scores, typed, rows, source, opts, predictions, _config_of(base or RunConfig()))
    comps = engine.named_comparisons(compare, arms) if compare else engine.default_comparisons(arms)
    built = engine.tables(comps)
    curves = sample_curves(scores, rows, opts.confidence) if has_samples_axis(scores) else None
    curve_answer = answer(engine) if curves is not None else None
    raw = collect.draw_scores(runs, languages, opts.split)
    draws = collect.replicate_components(raw, rows) if raw[list(collect.REPLICATES)].notna().any().any() else None
    starts = [r.start_time for r in runs if r.start_time is not None and not pd.isna(r.start_time)]
    ends = [r.end_time for r in runs if r.end_time is not None and not pd.isna(r.end_time)]
    period = (min(starts), max(ends)) if starts and ends else None
    report = Report(study, revision, tracking_uri, opts, len({r.run_id for r in runs}),
                    collect.arm_order(scores["arm"].unique()), sorted(scores["seed"].unique().tolist()), rows, source,
                    scores, built, curves, expected_runs, draws, typed, bool(scores["contaminated"].any()), curve_answer,
                    period)
    if rule is not None:
        report.sequential, report.rule = sequential.apply(report, rule), rule
    return report


def study_report(spec, tracking_uri: str, options: Options | None = None,
                 compare: list[tuple[str, str]] | None = None) -> Report:
    """The report of a study revision's finished runs, as `salt-harness report` builds it (languages, arms, axes,
    base and sequential rule from the study)."""
    from salt.data.tasks import get_task

    opts = options or Options()
    base = spec.base
    targets = base.target_langs or tuple(l for l in get_task(base.task).languages(base.world) if l != base.source_lang)
    runs = collect.study_runs(tracking_uri, spec.name, spec.revision)
    expected = len(spec.first_round()) if spec.sampler.type == "grid" and spec.rounds else (
        len(spec.cells()) if spec.sampler.type == "grid" else None)
    return build_report(runs, spec.name, spec.revision, [base.source_lang, *targets], base.source_lang, opts, compare,
                        tracking_uri, arms=list(spec.arms), expected_runs=expected, axes=spec.axes, base=base,
                        rule=spec.rounds.design(opts.alpha) if spec.rounds else None)


def _config_of(base: RunConfig):
    """(arm, settings) -> the cell's config (seed 0), None where it no longer resolves (an arm since removed)."""
    @lru_cache(maxsize=None)
    def config(arm: str, settings: tuple):
        try:
            return resolve(base, arm, settings, 0)
        except ValueError:
            return None

    return config


def _predictions_reader(tracking_uri: str):
    reader = Reader(tracking_uri)

    @lru_cache(maxsize=None)
    def read(run_id: str) -> pd.DataFrame:
        try:
            return reader.predictions(run_id)
        except FileNotFoundError as err:
            raise ValueError(str(err)) from None

    return read


def render(report: Report, fmt: str) -> dict[str, str]:
    """File name -> text for one format; rendered once per report (the files, the HTML page and stdout share it)."""
    if fmt not in report.texts:
        report.texts[fmt] = _render(report, fmt)
    return report.texts[fmt]


def _render(report: Report, fmt: str) -> dict[str, str]:
    if fmt == "md":
        return {"report.md": tables.render_markdown(report)}
    if fmt == "latex":  # the paper's main table and the appendix of every comparison (and the curve's answer)
        out = {"main.tex": latex.render_paper(report), "report.tex": latex.render_appendix(report)}
        if report.answer is not None and not report.answer.differences.empty:
            out["curve.tex"] = answer_text.render_latex(report.answer, report.options.split)
        return out
    if fmt == "csv":
        return tables.render_csv(report)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_report(report: Report, out: Path, formats=FORMATS, plots: bool = True) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        for name, text in render(report, fmt).items():
            (out / name).write_text(text, encoding="utf-8")
            paths.append(out / name)
    if plots:
        paths += plot_samples(report.curves, out, report.options.split, report.source)
        paths += plot_differences(report.answer, out, report.options.split)
        paths += plot_forest(report.tables, out)
        if "md" in formats:  # one file with everything, for a browser and the MLflow UI
            page = out / "report.html"
            page.write_text(render_html(f"Study {report.study} ({report.revision})", render(report, "md")["report.md"],
                                        paths), encoding="utf-8")
            paths.append(page)
    report.files = paths
    return paths


def log_to_mlflow(report: Report, paths: list[Path]) -> str | None:
    """Attach the files to the study's parent run under `report/`; returns its id (None if there is none)."""
    from mlflow import MlflowClient

    run_id = collect.parent_run_id(report.tracking_uri, report.study, report.revision)
    if run_id is None:
        log.warning("study %s revision %s has no parent run in %s: report not logged", report.study, report.revision,
                    report.tracking_uri)
        return None
    client = MlflowClient(report.tracking_uri)
    for path in paths:
        client.log_artifact(run_id, str(path), "report")
    return run_id
