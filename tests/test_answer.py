"""The sample-count answer: differences at each N, areas under the curves, the smallest N ahead, and the
HTML and FINDINGS files, each recomputed here from the runs."""
import base64
import math
import re

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.report import Options
from harness.report.answer import normalised_area, strategy_pairs
from harness.stats.multiple import holm
from harness.tracking.results import aug_metric
from tests.fakes import load_frame, report_of, study_file, write_store

AXIS = [10, 50, 200, "all"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("answer")
    path = study_file(tmp, "curve", arms=("baseline", "salt", "random-selection"),
                      axes={"augment.samples_per_lang": AXIS})
    spec, uri, _ = write_store(path)
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


def test_differences_are_paired_by_seed_and_corrected_over_the_curve(report, store):
    _, spec, uri = store
    runs = load_frame(uri, spec)
    ans = report.answer
    d = ans.differences
    assert set(zip(d["strategy"], d["control"])) == {("salt", "baseline"), ("salt", "random-selection")}
    assert list(dict.fromkeys(d["samples"])) == ["10", "50", "200", "all"]
    # recompute one: salt at N=50 minus random selection at N=50, target average, seed by seed
    col = "metrics.test_acc_avg_targets"
    a = runs[(runs["arm"] == "salt") & (runs["setting"] == "samples_per_lang=50")].set_index("seed")[col]
    b = runs[(runs["arm"] == "random-selection") & (runs["setting"] == "samples_per_lang=50")].set_index("seed")[col]
    row = d[(d["control"] == "random-selection") & (d["samples"] == "50") & (d["row"] == "avg_targets")].iloc[0]
    assert row["estimate"] == pytest.approx((a - b).mean()) and row["n"] == 5
    # against the baseline (no count), the same baseline seed scores at every N
    base = runs[runs["arm"] == "baseline"].set_index("seed")[col]
    row = d[(d["control"] == "baseline") & (d["samples"] == "all") & (d["row"] == "avg_targets")].iloc[0]
    salt_all = runs[(runs["arm"] == "salt") & (runs["setting"] == "samples_per_lang=all")].set_index("seed")[col]
    assert row["estimate"] == pytest.approx((salt_all - base).mean())
    # one family per comparison: every N x target language, Holm; the averages apart
    fam = d[(d["control"] == "baseline") & d["row"].isin(["fr", "de"])]
    assert len(fam) == 8 and np.allclose(fam["p_adj"], holm(fam["p"].to_numpy()))
    assert (d["significant"] == ((d["p_adj"] < 0.05) & (d["estimate"] > 0))).all()
    # the smallest N ahead is the first significant point along the axis, or none
    for s in ans.smallest.itertuples():
        hits = d[(d["control"] == s.control) & (d["row"] == s.row) & d["significant"]]
        order = [x for x in ["10", "50", "200", "all"] if x in set(hits["samples"])]
        assert s.samples == (order[0] if order else None)


def test_areas_have_intervals_and_a_paired_difference(report, store):
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
    assert set(diff["control"]) == {"baseline", "random-selection"} and diff["p"].between(0, 1).all()


def test_cli_writes_findings_html_latex_and_csv(store, tmp_path):
    path, spec, uri = store
    out = tmp_path / "out"
    assert main(["report", str(path), "--out", str(out), "--findings", "--resamples", "999", "--no-log"]) == 0
    findings = (out / "FINDINGS.md").read_text()
    assert "## What was run" in findings and "## The answer" in findings
    assert "N (augmented examples per target language): 10, 50, 200, all." in findings
    assert re.search(r"\*\*SALT vs Random selection .*\*\*: area under the curve [+-]\d", findings)
    assert "![accuracy against N](samples_avg_targets.png)" in findings and (out / "curve_differences.png").exists()
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "<table>" in page and "The answer" in page
    first = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(first)[:8] == b"\x89PNG\r\n\x1a\n"
    tex = (out / "curve.tex").read_text()
    assert "\\begin{tabular}" in tex and "SALT $-$ Random selection" in tex
    csv = pd.read_csv(out / "curve_differences.csv")
    assert {"strategy", "control", "samples", "estimate", "low", "high", "p", "p_adj", "significant"} <= set(csv)


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
