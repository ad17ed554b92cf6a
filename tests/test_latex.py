"""The LaTeX tables compile in a two-column ACL-style page without an overfull box: the main table with every
XNLI language, and the appendix. Needs pdflatex (CI installs Debian's texlive-latex-recommended)."""
import math
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from harness.records import Cell
from harness.report import Options, build_report
from harness.report.build import render
from harness.tracking.readback import TrialRun
from salt.data.tasks import XNLI

PREAMBLE = r"""\documentclass[11pt,twocolumn]{article}
\usepackage[a4paper,margin=2.5cm,columnsep=0.6cm]{geometry}
\usepackage{times}
\usepackage{booktabs}
\begin{document}
"""
ARMS = [("baseline", ()), ("equal-steps", (("augment.samples_per_lang", 800),)),
        ("salt", (("augment.samples_per_lang", 800),)), ("salt", (("augment.samples_per_lang", None),)),
        ("random-selection", (("augment.samples_per_lang", 800),)),
        ("random-substitution", (("augment.samples_per_lang", 800),))]


def xnli_runs(seeds: int = 5) -> list[TrialRun]:
    """Runs of a full XNLI study (15 languages), scores drawn so that SALT's gains are clear."""
    rng = np.random.default_rng(0)
    langs = XNLI.languages
    runs = []
    for k, (arm, settings) in enumerate(ARMS):
        gain = {"salt": 0.04, "random-selection": 0.02}.get(arm, 0.0)
        for seed in range(seeds):
            acc = {lang: (0.82 if lang == "en" else 0.62) + gain + rng.normal(0, 0.005) for lang in langs}
            metrics = {f"test_acc_{lang}": v for lang, v in acc.items()}
            metrics["test_acc_avg"] = float(np.mean(list(acc.values())))
            metrics["test_acc_avg_targets"] = float(np.mean([v for lang, v in acc.items() if lang != "en"]))
            metrics["train_steps"] = 1000.0 if arm == "baseline" else 1400.0
            cell = Cell(arm, settings, seed, f"{k:02d}{seed:02d}" * 16)
            runs.append(TrialRun(f"r{k}-{seed}", "0", cell.label, "FINISHED", cell, {}, cell.tags(), metrics,
                                 pd.NaT, pd.NaT))
    return runs


def compile_tex(body: str, folder) -> str:
    (folder / "page.tex").write_text(PREAMBLE + body + "\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "page.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    log = (folder / "page.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    return log


@pytest.mark.parametrize("name", ["main.tex", "report.tex"])
def test_latex_compiles_in_two_columns_without_overfull_boxes(tmp_path, name):
    if shutil.which("pdflatex") is None:  # CI installs it and sets SALT_REQUIRE_LATEX, so there it must run
        message = "pdflatex is not installed (apt-get install texlive-latex-recommended texlive-fonts-recommended)"
        pytest.fail(message) if os.environ.get("SALT_REQUIRE_LATEX") else pytest.skip(message)
    langs = list(XNLI.languages)
    languages = ["en", *[lang for lang in langs if lang != "en"]]
    report = build_report(xnli_runs(), "xnli-sample-counts", "abc", languages, "en", Options(n_resamples=999),
                          axes={"augment.samples_per_lang": [800, None]})
    tex = render(report, "latex")[name]
    log = compile_tex(tex, tmp_path)
    assert "Overfull \\hbox" not in log, [l for l in log.splitlines() if "Overfull" in l]
    assert (tmp_path / "page.pdf").stat().st_size > 1000
    if name == "main.tex":  # significance reaches the main table: marks and a bold best
        assert "$^{*}$" in tex and "\\textbf{" in tex and math.isfinite(report.tables[0].rows["p"].iloc[1])
