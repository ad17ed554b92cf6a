"""The sample-count answer: differences at each N, areas under the curves, from which N the strategy is ahead,
and the HTML and FINDINGS files, each recomputed here from the runs; the curve and the tables are one engine."""
import base64
import math
import re

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.report import Options
from harness.report.answer import normalised_area
from harness.report.engine import strategy_pairs
from harness.stats.multiple import holm
from harness.stats.seeds import paired_t
from harness.tracking.results import aug_metric
from tests.fakes import load_frame, report_of, study_file, write_store

AXIS = [0, 10, 50, 200, "all"]
SAMPLES = "augment.samples_per_lang"
GAINS = {"salt": 0.12, "random-selection": 0.06, "equal-steps": 0.03, "baseline": 0.0}


def accuracy(gains=GAINS, ahead_at=None):
    """Accuracy by arm, N and seed, met exactly: a seed effect shared by every arm (so pairing by seed pays), a
    gain rising with log N (none at N = 0, where every arm trains alike), and a small deterministic wobble.
    `ahead_at`: the Ns at which SALT has its gain (elsewhere none)."""
    def acc(cell):
        n = cell.value(SAMPLES)
        size = 400 if n is None else n
        seed_effect = 0.03 * ((cell.seed * 7) % 5 - 2)
        gain = gains.get(cell.arm, 0.0) * math.log1p(size) / math.log1p(400)
        if ahead_at is not None and cell.arm == "salt" and (n if n is not None else "all") not in ahead_at:
            gain = 0.0
        out = {}
        for k, lang in enumerate(("en", "fr", "de")):
            wobble = 0.0 if size == 0 else 0.008 * np.sin(cell.seed * 3.1 + k + size + len(cell.arm))
            out[lang] = 0.5 + (0.3 if lang == "en" else 0.0) + seed_effect + gain + wobble
        return out
    return acc


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("answer")
    path = study_file(tmp, "curve", arms=("baseline", "salt", "random-selection"), axes={SAMPLES: AXIS})
    spec, uri, _ = write_store(path, accuracy=accuracy())
    return path, spec, uri


@pytest.fixture(scope="module")
def report(store):
    _, spec, uri = store
    return report_of(spec, uri, Options(n_resamples=999))


def test_the_area_is_the_mean_accuracy_over_log_n():
    assert normalised_area(np.array([0, 10, 100]), np.array([0.7, 0.7, 0.7])) == pytest.approx(0.7)
    n = np.array([0.0, 9.0, 99.0])  # log1p spaced evenly: the area is the mean of a linear rise
    assert normalised_area(n, np.log1p(n) / np.log1p(99)) == pytest.approx(0.5)
    assert normalised_area(n[::-1], np.array([0.9, 0.6, 0.3])) == normalised_area(n, np.array([0.3, 0.6, 0.9]))


def test_strategies_meet_their_controls_and_references():
    assert strategy_pairs(["baseline", "equal-steps", "salt", "random-selection", "random-substitution"]) == [
        ("salt", "baseline"), ("salt", "equal-steps"), ("salt", "random-selection"), ("salt", "random-substitution")]
    assert strategy_pairs(["baseline", "random-selection"]) == []  # a control alone answers nothing


def test_each_point_is_the_tables_comparison_paired_by_seed(report, store):
    _, spec, uri = store
    runs = load_frame(uri, spec)
    d = report.answer.differences
    assert set(zip(d["strategy"], d["control"])) == {("salt", "baseline"), ("salt", "random-selection")}
    assert list(dict.fromkeys(d["samples"])) == ["0", "10", "50", "200", "all"]
    col = "metrics.test_acc_avg_targets"
    a = runs[(runs["arm"] == "salt") & (runs["setting"] == "samples_per_lang=50")].set_index("seed")[col]
    b = runs[(runs["arm"] == "random-selection") & (runs["setting"] == "samples_per_lang=50")].set_index("seed")[col]
    row = d[(d["control"] == "random-selection") & (d["samples"] == "50") & (d["row"] == "avg_targets")].iloc[0]
    assert row["estimate"] == pytest.approx((a - b).mean()) and row["n"] == 5
    assert row["p"] == pytest.approx(paired_t(a.sort_index(), b.sort_index()).pvalue)
    # the same number the tables print for the same pair
    table = next(t for t in report.tables if t.comparison.label ==
                 "salt [samples_per_lang=50] vs random-selection [samples_per_lang=50]")
    assert table.rows.set_index("row").at["avg_targets", "p"] == pytest.approx(row["p"])
    # against the baseline (no count), the same baseline seed scores at every N
    base = runs[runs["arm"] == "baseline"].set_index("seed")[col]
    salt_all = runs[(runs["arm"] == "salt") & (runs["setting"] == "samples_per_lang=all")].set_index("seed")[col]
    row = d[(d["control"] == "baseline") & (d["samples"] == "all") & (d["row"] == "avg_targets")].iloc[0]
    assert row["estimate"] == pytest.approx((salt_all - base).mean())


def test_the_family_is_the_target_languages_of_every_tested_n(report):
    """As stated: every N and target language of one pair; the source and the averages apart; N = 0 (every arm
    trains alike) not in it. The old family (source included) gives other adjusted p-values."""
    d = report.answer.differences
    fam = d[(d["control"] == "baseline") & (d["kind"] == "target") & ~d["identical"]]
    assert len(fam) == 8 and set(fam["row"]) == {"fr", "de"} and (fam["family_size"] == 8).all()  # 4 N x 2
    assert np.allclose(fam["p_adj"], holm(fam["p"].to_numpy()))
    # one adjusted value by hand: the smallest p of the 8 is multiplied by 8 (Holm's first step)
    smallest = fam.loc[fam["p"].idxmin()]
    assert smallest["p_adj"] == pytest.approx(min(1.0, 8 * smallest["p"]))
    with_source = d[(d["control"] == "baseline") & d["row"].isin(["en", "fr", "de"]) & d["p"].notna()]
    old = dict(zip(zip(with_source["row"], with_source["samples"]), holm(with_source["p"].to_numpy())))
    assert len(with_source) == 12 and old[(smallest["row"], smallest["samples"])] == pytest.approx(
        min(1.0, 12 * smallest["p"])) != pytest.approx(smallest["p_adj"])
    assert d.loc[d["row"] == "en", "p_adj"].isna().all()  # the source language is shown, never in a family


def test_identical_by_construction_points_are_shown_never_tested(report):
    d = report.answer.differences
    same = d[d["identical"]]
    # N = 0 for both pairs (every arm trains on the source alone), and random selection of every candidate
    assert set(zip(same["control"], same["samples"])) == {("baseline", "0"), ("random-selection", "0"),
                                                          ("random-selection", "all")}
    assert same["p"].isna().all() and same["p_adj"].isna().all() and not same["significant"].any()
    rs = d[(d["control"] == "random-selection") & (d["kind"] == "target") & ~d["identical"]]
    assert (rs["family_size"] == 6).all()  # 3 tested N x 2 targets
    assert "identical by construction" in " ".join(report.answer.smallest["note"])
    table = next(t for t in report.tables if t.comparison.label ==
                 "salt [samples_per_lang=all] vs random-selection [samples_per_lang=all]")
    assert table.identical and table.rows["p"].isna().all() and "identical by construction" in " ".join(table.notes)


def test_ahead_at_every_n_after_is_not_the_first_significant_n(tmp_path):
    """SALT significantly ahead at N = 10 only and again at N = all: the first significant N is 10, but it is
    ahead at every N after only from N = all."""
    path = study_file(tmp_path, "jump", arms=("baseline", "salt"), axes={SAMPLES: AXIS})
    spec, uri, _ = write_store(path, accuracy=accuracy({"salt": 0.3}, ahead_at={10, "all"}))
    ans = report_of(spec, uri, Options(n_resamples=999)).answer
    s = ans.smallest.set_index("row").loc["avg_targets"]
    assert s["first"] == "10" and s["ahead_from"] == "all"
    from harness.report.answer_text import sentences

    [line] = sentences(ans)
    assert "significantly ahead at every tested N ≥ all" in line and "first significantly ahead at N = 10" in line


def test_three_seeds_give_no_curve_mark(tmp_path):
    path = study_file(tmp_path, "few", seeds=3, arms=("baseline", "salt"), axes={SAMPLES: AXIS})
    spec, uri, _ = write_store(path, accuracy=accuracy({"salt": 0.3}))
    ans = report_of(spec, uri, Options(n_resamples=999)).answer
    d = ans.differences[~ans.differences["identical"]]
    assert (d.loc[d["kind"] != "source", "p_adj"] < 0.05).any()  # the p-values would pass: the seeds do not
    assert not d["significant"].any() and ans.smallest["ahead_from"].isna().all()
    from harness.report.answer_text import sentences

    assert "with 3 seeds no N is marked (marks need 5)" in sentences(ans)[0]


def test_a_rank_test_says_it_cannot_reach_the_level(store):
    _, spec, uri = store
    ans = report_of(spec, uri, Options(test="sign-flip", n_resamples=999)).answer
    from harness.report.answer_text import sentences

    assert not ans.differences["significant"].any()
    assert "with 5 seeds sign-flip cannot give p < 0.0625" in sentences(ans)[0]


def test_a_baseline_with_an_axis_of_its_own_is_matched_on_it(tmp_path):
    """`train.schedule: [mixed, intermediate]` beside N: each baseline setting is its own control (it used to be
    pooled: every seed twice, and `report` died on a shape mismatch)."""
    path = study_file(tmp_path, "sched", arms=("baseline", "salt"),
                      axes={SAMPLES: [0, 50, "all"], "train.schedule": ["mixed", "intermediate"]})
    spec, uri, _ = write_store(path, accuracy=accuracy())
    report = report_of(spec, uri, Options(n_resamples=999))
    d = report.answer.differences
    assert set(zip(d["series"], d["setting_b"])) == {("schedule=mixed", "schedule=mixed"),
                                                     ("schedule=intermediate", "schedule=intermediate")}
    assert (d.loc[d["p"].notna(), "n"] == 5).all()  # five seeds, paired once
    bands = report.curves[(report.curves["arm"] == "baseline") & (report.curves["row"] == "fr")]
    assert list(bands["series"]) == ["schedule=mixed", "schedule=intermediate"]  # two bands, not one pooled


def test_a_control_that_ignores_an_axis_is_matched_on_the_axes_it_has(tmp_path):
    """equal-steps ignores mixup: SALT at each mixup setting meets the same equal-steps run at each N (the curve
    used to lose every per-N row, while FINDINGS said "ahead at no N")."""
    path = study_file(tmp_path, "mix", arms=("baseline", "equal-steps", "salt"),
                      axes={SAMPLES: [0, 50, "all"], "mixup.enabled": [True, False]})
    spec, uri, _ = write_store(path, accuracy=accuracy())
    report = report_of(spec, uri, Options(n_resamples=999))
    d = report.answer.differences
    es = d[(d["control"] == "equal-steps") & (d["row"] == "avg_targets")]
    assert set(es["series"]) == {"enabled=true", "enabled=false"} and len(es) == 6
    assert (es.loc[~es["identical"], "n"] == 5).all() and es.loc[~es["identical"], "p"].notna().all()
    # the other way round the match is ambiguous: named, never pooled
    from harness.report.build import build_report
    from harness.tracking.readback import Reader

    runs = Reader(uri).trial_runs(spec.name, revision=spec.revision)
    with pytest.raises(ValueError, match=r"equal-steps \[samples_per_lang=0\] matches 2 settings of salt "
                                         r"\(samples_per_lang=0,enabled=true; samples_per_lang=0,enabled=false\)"):
        build_report(runs, spec.name, spec.revision, ["en", "fr", "de"], "en", Options(n_resamples=999),
                     [("equal-steps", "salt")], uri, axes=spec.axes)


def test_areas_are_taken_on_the_grid_both_arms_have(report, store, tmp_path):
    _, spec, uri = store
    runs = load_frame(uri, spec)
    auc = report.answer.auc.set_index(["arm", "row"])
    col = "metrics.test_acc_avg_targets"
    base = runs[runs["arm"] == "baseline"][col]
    assert auc.loc[("baseline", "avg_targets"), "mean"] == pytest.approx(base.mean())
    salt = runs[runs["arm"] == "salt"]
    per_seed = []
    for seed, g in salt.groupby("seed"):
        selected = [g[f"metrics.{aug_metric(lang, 'n_selected')}"] for lang in ("fr", "de")]
        n_eff = (selected[0] + selected[1]).to_numpy() / 2
        per_seed.append(normalised_area(n_eff, g[col].to_numpy()))
    got = auc.loc[("salt", "avg_targets")]
    assert got["mean"] == pytest.approx(np.mean(per_seed)) and got["low"] < got["mean"] < got["high"]
    diff = report.answer.auc_differences
    assert set(diff["control"]) == {"baseline", "random-selection"} and diff["p"].dropna().between(0, 1).all()
    # a seed missing a point of the grid is left out of the pair's areas, and a footnote says so
    path = study_file(tmp_path, "hole", arms=("baseline", "salt"), axes={SAMPLES: AXIS})
    hole = load_study_cell(path, "salt", 50, 2)
    spec2, uri2, _ = write_store(path, skip={hole}, accuracy=accuracy())
    ans = report_of(spec2, uri2, Options(n_resamples=999)).answer
    assert any("seed(s) 2 left out of the areas" in n for n in ans.footnotes)
    assert (ans.auc_differences["n"].dropna() == 4).all()
    assert "seed 2 lacks N = 50: left out" in ans.auc.set_index(["arm", "row"]).loc[("salt", "fr"), "note"]


def load_study_cell(path, arm, n, seed):
    from harness.study import load_study

    return load_study(path).cell(arm, ((SAMPLES, n),), seed).id


def test_a_not_significant_answer_says_what_it_could_have_detected(report):
    from harness.report.answer_text import sentences, verdict

    ans = report.answer
    rs = ans.auc_differences.set_index(["control", "row"]).loc[("random-selection", "avg_targets")]
    text = verdict(rs["p_adj"], rs["mde"], ans)
    if rs["p_adj"] >= 0.05:
        assert re.search(r"not significant; with these seeds an effect of \d+\.\d points or more would have been "
                         r"found with 80% power", text)
    assert all("MDE" not in s or "points" in s for s in sentences(ans))
    d = ans.differences
    tested = d[d["p"].notna() & (d["kind"] == "target")]
    assert (tested["mde"] > 0).all() and (tested["level"] == 0.05 / tested["family_size"]).all()


def test_cli_writes_findings_html_latex_and_csv(store, tmp_path):
    path, spec, uri = store
    out = tmp_path / "out"
    assert main(["report", str(path), "--out", str(out), "--findings", "--resamples", "999", "--no-log"]) == 0
    findings = (out / "FINDINGS.md").read_text()
    assert "## What was run" in findings and "## The answer" in findings
    assert "N (augmented examples per target language): 0, 10, 50, 200, all." in findings
    assert re.search(r"\*\*SALT vs Random selection .*\*\*: area under the curve [+-]\d", findings)
    assert "SALT − Baseline: Holm over 4 tested N × 2 target languages (m = 8; N = 0 identical by construction" in \
        findings
    assert "![accuracy against N](samples_avg_targets.png)" in findings and (out / "curve_differences.png").exists()
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "<table>" in page and "The answer" in page
    first = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(first)[:8] == b"\x89PNG\r\n\x1a\n"
    tex = (out / "curve.tex").read_text()
    assert "\\begin{tabular}" in tex and "SALT $-$ Random selection" in tex and "m = 8" in tex
    csv = pd.read_csv(out / "curve_differences.csv")
    assert {"strategy", "control", "samples", "estimate", "low", "high", "p", "p_adj", "family_size", "mde",
            "significant", "ahead", "identical"} <= set(csv)


def test_findings_without_a_curve_is_an_error(tmp_path, capsys):
    path = study_file(tmp_path, "flat", arms=("baseline", "salt"), axes={"augment.threshold": [0.3, 0.5]})
    write_store(path)
    assert main(["report", str(path), "--out", str(tmp_path / "o"), "--findings", "--no-log",
                 "--resamples", "999"]) != 0
    assert "--findings answers the sample-count question" in capsys.readouterr().err


def _chromium():
    import shutil

    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.mark.slow
def test_the_html_report_opens_offline_in_a_real_browser(store, tmp_path):
    import os
    import subprocess

    browser = _chromium()
    if browser is None:
        message = "no chromium (apt-get install chromium): the HTML report is not opened in a browser"
        pytest.fail(message) if os.environ.get("SALT_REQUIRE_BROWSER") else pytest.skip(message)
    path, spec, uri = store
    out = tmp_path / "out"
    assert main(["report", str(path), "--out", str(out), "--resamples", "999", "--no-log"]) == 0
    # nothing beside it: the page must carry its figures itself
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "report.html").write_bytes((out / "report.html").read_bytes())
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                          (alone / "report.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    figures = re.search(r'data-figures="(\d+)/(\d+)"', dom)
    assert figures, dom[:2000]
    loaded, total = map(int, figures.groups())
    assert total >= 3 and loaded == total
    assert "The answer: accuracy against augmented examples per language" in dom and "<table>" in dom
