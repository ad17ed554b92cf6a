"""`salt-harness report` on a real MLflow store: the numbers in the tables are the runs' own numbers.

The store is written through harness.tracking (the same parent/child runs, tags, params and predictions
artifacts a study writes), with accuracies computed from the predictions, so it takes seconds.
"""
import math

import numpy as np
import pandas as pd
import pytest
from fakes import LANGS, load_frame, report_of, study_file as _study_file, write_store
from mlflow import MlflowClient
from scipy import stats

from harness.cli import main
from harness.report import Options, build_report
from harness.report.collect import scores
from harness.stats import holm
from harness.study import load_study
from harness.tracking.readback import Reader


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    path = _study_file(tmp, "rep")
    spec, uri, parent = write_store(path)
    return path, spec, uri, parent


@pytest.fixture(scope="module")
def rendered(store, tmp_path_factory):
    path, spec, uri, parent = store
    out = tmp_path_factory.mktemp("out")
    assert main(["report", str(path), "--out", str(out)]) == 0
    return out


def test_renders_all_formats_and_plots_and_logs_them(rendered, store):
    names = {p.name for p in rendered.iterdir()}
    assert {"report.md", "report.tex", "main.tex", "comparisons.csv", "samples.csv", "samples_all.png", "samples_all.pdf",
            "samples_avg_targets.png", "forest_salt_vs_baseline.pdf", "forest_salt_vs_random-selection.png"} <= names
    _, spec, uri, parent = store
    logged = {a.path for a in MlflowClient(uri).list_artifacts(parent, "report")}
    assert {f"report/{n}" for n in names} == logged


def test_a_table_cell_equals_a_recomputation_from_the_runs(rendered, store):
    _, spec, uri, _ = store
    runs = load_frame(uri, spec)
    salt = runs[(runs["arm"] == "salt") & (runs["setting"] == "samples_per_lang=50")]
    base = runs[runs["arm"] == "baseline"]
    a = salt.set_index("seed")["metrics.test_acc_fr"].sort_index()
    b = base.set_index("seed")["metrics.test_acc_fr"].sort_index()
    assert len(a) == len(b) == 5
    t = stats.ttest_rel(a, b)
    ci = t.confidence_interval(0.95)
    csv = pd.read_csv(rendered / "comparisons.csv")
    row = csv[(csv["comparison"] == "salt [samples_per_lang=50] vs baseline") & (csv["row"] == "fr")].iloc[0]
    assert row["a_mean"] == pytest.approx(a.mean()) and row["a_std"] == pytest.approx(a.std(ddof=1))
    assert row["b_mean"] == pytest.approx(b.mean()) and row["a_n"] == 5
    assert row["diff"] == pytest.approx((a - b).mean())
    assert row["p"] == pytest.approx(t.pvalue)
    assert (row["diff_low"], row["diff_high"]) == pytest.approx((ci.low, ci.high))
    # the family (default: a paper table): every target-language test against the same arm, Holm together;
    # the averages a family of their own; the source language unadjusted and unmarked
    for kind in ("target", "average"):
        family = csv[(csv["arm_b"] == "baseline") & (csv["kind"] == kind)]
        assert len(family) == 4 * 2 and family["p_adj"].to_numpy() == pytest.approx(holm(family["p"].to_numpy()))
    assert csv[csv["kind"] == "source"]["p_adj"].isna().all() and not csv[csv["kind"] == "source"]["mark"].any()
    # the average without the source is the runs' own metric, not something we recompute differently
    avg = csv[(csv["comparison"] == row["comparison"]) & (csv["row"] == "avg_targets")].iloc[0]
    a_avg = salt.set_index("seed")["metrics.test_acc_avg_targets"]
    assert avg["a_mean"] == pytest.approx(a_avg.mean())
    # and the Markdown shows the same numbers, rounded
    md = (rendered / "report.md").read_text()
    section = md.split("## salt [samples_per_lang=50] vs baseline")[1].split("## ")[0]
    fr = next(line for line in section.splitlines() if line.startswith("| fr |"))
    assert f"{100 * a.mean():.1f} ± {100 * a.std(ddof=1):.1f} (5)" in fr
    assert f"{100 * (a - b).mean():+.1f} [{100 * ci.low:+.1f}, {100 * ci.high:+.1f}]" in fr
    assert (f"{t.pvalue:.3f}" if t.pvalue >= 0.001 else f"{t.pvalue:.1e}") in fr


def test_default_comparisons_and_samples_table(rendered):
    csv = pd.read_csv(rendered / "comparisons.csv")
    assert list(dict.fromkeys(csv["comparison"])) == [
        "salt [samples_per_lang=50] vs baseline", "salt [samples_per_lang=all] vs baseline",
        "random-selection [samples_per_lang=50] vs baseline", "random-selection [samples_per_lang=all] vs baseline",
        "salt [samples_per_lang=50] vs random-selection [samples_per_lang=50]",
        "salt [samples_per_lang=all] vs random-selection [samples_per_lang=all]"]
    assert list(csv["row"].iloc[:5]) == ["en", "fr", "de", "avg", "avg_targets"]
    # ASO is Bonferroni-adjusted over the same family as the p-values: 4 comparisons x 2 targets against the
    # baseline; against random-selection only N=50 is tested (2 targets): at N=all random selection selects every
    # candidate, as SALT does, so that comparison is identical by construction, shown and never tested
    against = csv.drop_duplicates("comparison").set_index("arm_b")["aso_alpha"]
    assert against.loc["baseline"].tolist() == pytest.approx([0.05 / 8] * 4)
    assert against.loc["random-selection"].tolist() == pytest.approx([0.05 / 2] * 2)
    same = csv[csv["comparison"] == "salt [samples_per_lang=all] vs random-selection [samples_per_lang=all]"]
    tested = csv[csv["comparison"] == "salt [samples_per_lang=50] vs random-selection [samples_per_lang=50]"]
    assert same["identical"].all() and same["p"].isna().all() and (same["family_size"] == 0).all()
    assert (tested.loc[tested["kind"] == "target", "family_size"] == 2).all() and not tested["identical"].any()
    assert same["note"].str.contains("identical by construction").all()
    curves = pd.read_csv(rendered / "samples.csv", keep_default_na=False)
    fr = curves[(curves["row"] == "fr")]
    assert set(fr["arm"]) == {"baseline", "salt", "random-selection"}
    assert list(fr[fr["arm"] == "salt"]["samples"]) == ["50", "all"]
    md = (rendered / "report.md").read_text()
    assert "## Accuracy against samples per language" in md and "| fr | 50 |" in md


def test_latex_main_table_and_appendix(rendered, store):
    """The paper's main table: table*, arms x languages, registry labels, marks as superscripts, bold only for
    a significant best; the appendix: every comparison with a short caption, the legend once."""
    main = (rendered / "main.tex").read_text()
    assert r"\begin{table*}" in main and r"\toprule" in main and "Model & N & en & fr & de & Avg." in main
    assert "SALT & 50 &" in main and "Random selection & all &" in main and "Baseline &  &" in main
    assert r"$^{" in main and main.count(r"\caption{") == 1
    for line in main.splitlines():
        if r"\textbf{" in line:  # bold only on a mark of significance
            cell = line.split(r"\textbf{", 1)[1].split("&")[0]
            assert "*" in cell, line
    appendix = (rendered / "report.tex").read_text()
    assert appendix.count(r"\begin{table*}") == 6 and appendix.count(r"\paragraph{How to read") == 1
    assert r"$\varepsilon_{\min}$" in appendix and "SALT (N=50)" in appendix
    assert "$-$" in appendix and " -0." not in appendix.replace("$-$", "")  # minus signs, not hyphens


def test_example_level_test_reads_predictions(store, tmp_path):
    path, spec, uri, _ = store
    out = tmp_path / "boot"
    assert main(["report", str(path), "--out", str(out), "--test", "bootstrap", "--format", "csv", "--no-plots",
                 "--no-log", "--compare", "salt:samples_per_lang=50", "baseline", "--resamples", "999"]) == 0
    csv = pd.read_csv(out / "comparisons.csv")
    assert list(dict.fromkeys(csv["comparison"])) == ["salt [samples_per_lang=50] vs baseline"]
    fr = csv[csv["row"] == "fr"].iloc[0]
    assert fr["test"] == "bootstrap" and 0 <= fr["p"] <= 1 and fr["ci"] == "example bootstrap"
    assert fr["diff_low"] < fr["diff"] < fr["diff_high"]  # the example bootstrap is centred on the accuracy gap
    runs = load_frame(uri, spec)
    salt = runs[(runs["arm"] == "salt") & (runs["setting"] == "samples_per_lang=50")]
    preds = Reader(uri).predictions(salt["run_id"].iloc[0])
    assert len(preds[(preds["split"] == "test") & (preds["lang"] == "fr")]) == 120


@pytest.mark.parametrize("args,fragment", [
    (["salt:samples_per_lang=70", "baseline"], "no finished run of salt has that setting"),
    (["salt:sample=50", "baseline"], "'sample' is not one of salt's settings (augment.samples_per_lang)"),
    (["salt:samples_per_lang=many", "baseline"], "expected an integer >= 0 or {language: count, ...} or all"),
    (["salt", "oracle"], "unknown arm 'oracle'"),
    (["salt", "random-substitution"], "unknown arm 'random-substitution': not one of this study's arms"),
])
def test_compare_arguments_are_checked(store, tmp_path, capsys, args, fragment):
    path, *_ = store
    assert main(["report", str(path), "--out", str(tmp_path), "--no-plots", "--no-log", "--compare", *args]) == 2
    assert fragment in capsys.readouterr().err


def test_options_split_correction_and_cli_choices_agree():
    from harness.cli import build_parser
    from harness.report.options import FAMILIES, FORMATS
    from harness.stats.registry import CORRECTIONS, TESTS

    report = build_parser()._subparsers._group_actions[0].choices["report"]
    choices = {a.dest: a.choices for a in report._actions if a.choices}
    assert choices["test"] == list(TESTS) and choices["format"] == FORMATS
    assert choices["correction"] == list(CORRECTIONS) and choices["family"] == list(FAMILIES)
    with pytest.raises(ValueError, match="unknown test"):
        Options(test="anova")


def test_dev_split_bh_and_one_format_printed(store, tmp_path, capsys):
    path, *_ = store
    assert main(["report", str(path), "--out", str(tmp_path), "--format", "md", "--split", "dev",
                 "--correction", "bh", "--no-plots", "--no-log"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Study rep: dev split") and "p BH" in printed
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_degenerate_input_gives_messages_not_silent_nans(tmp_path):
    from dataclasses import replace

    path = _study_file(tmp_path, "thin", seeds=2)
    spec = load_study(path)
    skip = {spec.cell("random-selection", (("augment.samples_per_lang", 50),), 1).id}
    spec, uri, _ = write_store(path, skip=skip)
    runs = Reader(uri).trial_runs(spec.name, revision=spec.revision)
    # one language missing for the random-selection arm
    runs = [replace(r, metrics={k: v for k, v in r.metrics.items() if k != "test_acc_de"})
            if r.cell.arm == "random-selection" else r for r in runs]
    report = build_report(runs, spec.name, spec.revision, list(LANGS), "en", Options(),
                          [("salt", "random-selection")], uri)
    tables = {t.comparison.label: t for t in report.tables}
    one = tables["salt [samples_per_lang=50] vs random-selection [samples_per_lang=50]"].rows.set_index("row")
    assert one.at["fr", "note"] == "too few seeds (salt: 2, random-selection: 1, 1 in common): no test; run more seeds"
    assert one.at["de", "note"] == "no test_acc_de for random-selection" and math.isnan(one.at["de", "p"])
    from harness.report.tables import render_markdown

    md = render_markdown(report)
    assert "nan" not in md.lower().replace("finished", "")
    assert "no test_acc_de for random-selection" in md
    # an arm the study does not have, named explicitly, is an error, not a table that only says "no runs"
    # (a declared arm without runs keeps its table among the defaults: test_a_declared_arm_without_runs_gets_its_table)
    with pytest.raises(ValueError, match="unknown arm 'equal-steps': not one of this study's arms"):
        build_report(runs, spec.name, spec.revision, list(LANGS), "en", Options(), [("salt", "equal-steps")], uri)


def test_identical_arms_and_a_single_seed(tmp_path):
    from dataclasses import replace

    from salt.arms import ARMS, Arm, register_arm

    path = _study_file(tmp_path, "one", seeds=1)
    spec, uri, _ = write_store(path)
    report = report_of(spec, uri)
    t = report.tables[0]
    assert t.notes and "one seed per arm" in t.notes[0] and t.rows["p"].isna().all()
    runs = Reader(uri).trial_runs(spec.name, revision=spec.revision)
    register_arm(Arm("salt-copy", ARMS["salt"].apply, "SALT copy", "#000000", "a copy"))
    try:
        twin = [replace(r, run_id=r.run_id + "-copy", cell=replace(r.cell, arm="salt-copy"))
                for r in runs if r.cell.arm == "salt"]
        both = [r for r in runs if r.cell.arm == "salt"] + twin
        r = build_report(both, spec.name, spec.revision, list(LANGS), "en", Options(test="t"), [("salt", "salt-copy")])
        assert (r.tables[0].rows["diff"] == 0).all()
    finally:
        ARMS.pop("salt-copy")


def test_errors_are_one_sentence_without_traceback(store, tmp_path, capsys):
    path = _study_file(tmp_path, "never")
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has not been run yet" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "store" / "mlflow.db").exists()  # reading did not create an empty store
    other = _study_file(store[0].parent, "other")  # the same store, but this study never ran in it
    assert main(["report", str(other)]) == 2
    err = capsys.readouterr().err
    assert "study 'other' has no finished runs" in err and len(err.strip().splitlines()) == 1


def test_scores_frame_from_typed_runs():
    from harness.records import Cell
    from harness.tracking.readback import TrialRun

    def run(run_id, arm, settings, metrics):
        cell = Cell(arm, settings, 0, run_id * 32)
        return TrialRun(run_id, "0", cell.label, "FINISHED", cell, {}, cell.tags(), metrics, pd.NaT, pd.NaT)

    metrics = {"test_acc_en": 0.8, "test_acc_fr": 0.6, "test_acc_avg": 0.7, "test_acc_avg_targets": 0.6}
    runs = [run("r1", "baseline", (), metrics), run("r2", "salt", (("augment.samples_per_lang", None),), metrics)]
    s = scores(runs, ["en", "fr"])
    assert set(s["lang"]) == {"en", "fr", "avg", "avg_targets"}
    assert s[s["arm"] == "salt"]["samples"].unique().tolist() == ["all"] and (s[s["arm"] == "salt"]["x"] == math.inf).all()
    assert s[s["arm"] == "baseline"]["samples"].isna().all()
    assert list(dict.fromkeys(s["arm"])) == ["baseline", "salt"]
    with pytest.raises(ValueError, match="no run has dev_acc"):
        scores(runs, ["en", "fr"], "dev")


def test_a_declared_arm_without_runs_gets_its_table(store):
    _, spec, uri, _ = store
    report = report_of(spec, uri, arms=["baseline", "salt", "random-substitution"], expected_runs=30)
    labels = [t.comparison.label for t in report.tables]
    assert "random-substitution vs baseline" in labels
    assert "salt [samples_per_lang=50] vs random-substitution" in labels
    missing = next(t for t in report.tables if t.comparison.label == "salt [samples_per_lang=50] vs random-substitution")
    assert missing.notes == ["no finished runs for random-substitution"]
    from harness.report.tables import render_markdown

    assert f"{report.n_runs} finished runs of 30 cells" in render_markdown(report)
    # named explicitly, the same arm is an error: a table that only says "no runs" would pass for a result
    with pytest.raises(ValueError, match="arm 'random-substitution' has no finished run in this revision"):
        report_of(spec, uri, compare=[("salt", "random-substitution")],
                  arms=["baseline", "salt", "random-substitution"])


def test_a_changed_study_never_reports_the_old_runs(store, tmp_path, capsys):
    """Same name, changed settings: a new revision with no runs, and the old runs only under --revision."""
    import yaml

    path, spec, uri, _ = store
    changed = tmp_path / "rep.yaml"
    raw = yaml.safe_load(path.read_text())
    changed.write_text(yaml.safe_dump({**raw, "train": {"epochs": 5}, "augment": {"threshold": 0.6}}))
    new = load_study(changed)
    assert new.name == spec.name and new.revision != spec.revision
    assert main(["report", str(changed), "--no-plots", "--no-log", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"no finished runs of revision {new.revision}" in err and spec.revision in err and "--revision" in err
    assert main(["report", str(changed), "--revision", spec.revision[:6], "--format", "csv", "--no-plots",
                 "--no-log", "--out", str(tmp_path / "old")]) == 0
    assert len(pd.read_csv(tmp_path / "old" / "comparisons.csv")) > 0


def test_augmented_arms_are_compared_with_the_step_matched_baseline(tmp_path):
    """With equal-steps in the study, SALT's gain is measured against as many updates of plain fine-tuning;
    every table says the updates of both arms."""
    path = _study_file(tmp_path, "steps", seeds=3, arms=("baseline", "equal-steps", "salt", "random-selection"))
    spec, uri, _ = write_store(path)
    report = report_of(spec, uri, arms=list(spec.arms))
    labels = [t.comparison.label for t in report.tables]
    assert labels == ["salt [samples_per_lang=50] vs equal-steps [samples_per_lang=50]",
                      "salt [samples_per_lang=all] vs equal-steps [samples_per_lang=all]",
                      "random-selection [samples_per_lang=50] vs equal-steps [samples_per_lang=50]",
                      "random-selection [samples_per_lang=all] vs equal-steps [samples_per_lang=all]",
                      "equal-steps [samples_per_lang=50] vs baseline", "equal-steps [samples_per_lang=all] vs baseline",
                      "salt [samples_per_lang=50] vs random-selection [samples_per_lang=50]",
                      "salt [samples_per_lang=all] vs random-selection [samples_per_lang=all]"]
    from harness.report.tables import findings, render_markdown

    assert "Updates (mean optimizer steps): salt 150, equal-steps 150 (step-matched)." in findings(report.tables[0])
    assert "equal-steps 150, baseline 100: not step-matched (equal-steps took 50 more), so the difference is not " \
           "the data's alone." in " ".join(findings(report.tables[4]))
    (tmp_path / "p").mkdir()
    spec2, uri2, _ = write_store(_study_file(tmp_path / "p", "plain", seeds=3))
    first = report_of(spec2, uri2).tables[0]
    assert first.comparison.label == "salt [samples_per_lang=50] vs baseline" and first.step_matched is False
    assert "not step-matched" in render_markdown(report_of(spec2, uri2))


def test_degenerate_cells_are_named_and_curves_sit_at_the_examples_selected(tmp_path):
    path = _study_file(tmp_path, "degen", seeds=3)
    spec = load_study(path)
    bad = spec.cell("salt", (("augment.samples_per_lang", 50),), 1).id
    spec, uri, _ = write_store(path, degenerate={bad})
    report = report_of(spec, uri)
    table = next(t for t in report.tables if t.comparison.label == "salt [samples_per_lang=50] vs baseline")
    assert table.degenerate == ["salt seed 1: fr selected 0 of 50 (pool 0)"]
    from harness.report.tables import render_markdown

    assert ("Degenerate cells (augmented examples selected of those asked for): salt seed 1: fr selected 0 of 50 "
            "(pool 0).") in render_markdown(report)
    curve = report.curves[(report.curves["row"] == "avg") & (report.curves["arm"] == "salt")]
    assert list(curve["samples"]) == ["50", "all"]
    assert curve["n_eff"].tolist() == pytest.approx([(50 + 50 + 25) / 3, 400])  # seed 1 selected 0 in fr


def test_draws_are_averaged_per_seed_and_their_spread_reported_apart(tmp_path):
    path = _study_file(tmp_path, "draws", seeds=3, draws=3)
    spec, uri, _ = write_store(path)
    report = report_of(spec, uri)
    rs = report.scores[(report.scores["arm"] == "random-selection") & (report.scores["lang"] == "fr")]
    assert set(rs["draws"]) == {3} and len(rs) == 2 * 3  # 2 settings x 3 seeds, each the mean of 3 draws
    table = next(t for t in report.tables if t.comparison.label ==
                 "salt [samples_per_lang=50] vs random-selection [samples_per_lang=50]")
    assert table.rows["b_n"].iloc[0] == 3  # paired by seed: the draws of a seed are one observation
    d = report.draws
    assert set(d["arm"]) == {"random-selection"} and set(d["levels"]) == {"3 x 3"} and d["sd_draw"].notna().all()
    assert set(d["factors"]) == {"seed x draw"} and d["sd_data"].isna().all()
    from harness.report.tables import render_markdown

    assert "## Seeds, data orders and augmentation draws" in render_markdown(report)
    with pytest.raises(ValueError, match="several runs per seed"):
        report_of(spec, uri, Options(test="bootstrap"))


def test_data_orders_have_seeds_of_their_own_crossed_with_the_training_seeds(tmp_path):
    """`data_seeds: 2` crosses two data orders with every seed of every arm (Dodge et al. 2020: initialisation and
    data order move fine-tuning about as much); the report averages them per seed and splits the spread."""
    path = _study_file(tmp_path, "data", seeds=3, draws=2, data_seeds=2)
    spec = load_study(path)
    assert spec.axes["train.data_seed"] == [0, 1] and spec.cell_count() == 3 * 2 + 3 * 2 * 2 * 2 + 3 * 2 * 2
    assert spec.config(next(c for c in spec.cells() if c.value("train.data_seed") == 1)).train.data_seed == 1
    spec, uri, _ = write_store(path)
    report = report_of(spec, uri)
    base = report.scores[(report.scores["arm"] == "baseline") & (report.scores["lang"] == "fr")]
    assert len(base) == 3 and set(base["draws"]) == {2}  # each seed the mean of its 2 data orders
    d = report.draws.set_index(["arm", "row"])
    assert d.loc[("baseline", "fr"), "factors"] == "seed x data" and d.loc[("baseline", "fr"), "levels"] == "3 x 2"
    rs = d.loc[("random-selection", "fr")]
    assert rs["factors"].iloc[0] == "seed x data x draw" and rs["levels"].iloc[0] == "3 x 2 x 2"
    assert rs[["sd_seed", "sd_data", "sd_draw", "sd_residual"]].notna().all().all()
