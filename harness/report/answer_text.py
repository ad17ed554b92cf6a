"""The curves' answer in words, Markdown and LaTeX: areas under the curves, strategy minus control at each N,
and the smallest N from which the strategy is significantly ahead."""
from __future__ import annotations

import math

import pandas as pd

from harness.report.answer import CurveAnswer
from harness.report.collect import AVG_TARGETS
from harness.report.tables import CORRECTION_NAMES, DASH, _md_table, diff_ci, pct, pvalue, row_name
from salt.arms import ARMS


def label(arm: str) -> str:
    return ARMS[arm].label if arm in ARMS else arm


def _control_text(control: str) -> str:
    arm = ARMS.get(control)
    if arm is not None and arm.step_matched:
        return f"{label(control)} (as many updates, source text only)"
    if arm is not None and arm.reference:
        return f"{label(control)} (fewer updates: no augmented examples)"
    return f"{label(control)} (same updates)"


def _auc(ans: CurveAnswer, arm: str, row: str) -> pd.Series | None:
    hit = ans.auc[(ans.auc["arm"] == arm) & (ans.auc["row"] == row)]
    return hit.iloc[0] if len(hit) else None


def family_text(ans: CurveAnswer, n_points: int, n_langs: int) -> str:
    return (f"{CORRECTION_NAMES[ans.correction]} over the {n_points} values of N x {n_langs} target languages of "
            f"each comparison (the averages a family of their own), α = {ans.alpha:g}")


def sentences(ans: CurveAnswer, row: str = AVG_TARGETS) -> list[str]:
    """One plain sentence per (strategy, control) on `row`: the area difference and the smallest N ahead."""
    out = []
    for r in ans.auc_differences[ans.auc_differences["row"] == row].itertuples():
        first = ans.smallest[(ans.smallest["strategy"] == r.strategy) & (ans.smallest["control"] == r.control)
                             & (ans.smallest["row"] == row) & (ans.smallest["series"] == r.series)]
        where = (f"significantly ahead from N = {first.iloc[0]['samples']} (N_eff {first.iloc[0]['n_eff']:,.0f})"
                 if len(first) and pd.notna(first.iloc[0]["samples"]) else "significantly ahead at no N")
        sig = "p < α" if math.isfinite(r.p) and r.p < ans.alpha else "not significant"
        series = "" if r.series == "-" else f" [{r.series}]"
        out.append(f"**{label(r.strategy)} vs {_control_text(r.control)}**{series}: area under the curve "
                   f"{diff_ci(r.estimate, r.low, r.high)} points ({ans.interval} interval; {ans.test}, "
                   f"p = {pvalue(r.p)}, {sig}); {where}.")
    return out


def auc_cells(ans: CurveAnswer, rows: list[str], source: str | None) -> tuple[list[str], list[list[str]]]:
    header = ["arm", *[row_name(r, "source" if r == source else "target") for r in rows]]
    body = []
    for (arm, series), g in ans.auc.groupby(["arm", "series"], sort=False):
        name = label(arm) + ("" if series == "-" else f" [{series}]")
        cells = []
        for row in rows:
            hit = g[g["row"] == row]
            if hit.empty:
                cells.append(DASH)
                continue
            h = hit.iloc[0]
            ci = f" [{pct(h['low'])}, {pct(h['high'])}]" if math.isfinite(h["low"]) else ""
            cells.append(f"{pct(h['mean'])}{ci}")
        body.append([name, *cells])
    return header, body


def difference_cells(ans: CurveAnswer, row: str = AVG_TARGETS, with_p: bool = True) -> tuple[list[str], list[list[str]]]:
    """N down the side, one column per (strategy, control): difference [CI], adjusted p, * when ahead."""
    d = ans.differences[ans.differences["row"] == row]
    pairs = list(dict.fromkeys(zip(d["strategy"], d["control"], d["series"])))
    header = ["N", "N_eff", *[f"{label(s)} − {label(c)}" + ("" if z == "-" else f" [{z}]") for s, c, z in pairs]]
    body = []
    for samples in dict.fromkeys(d["samples"]):
        at = d[d["samples"] == samples]
        cells = [str(samples), f"{at['n_eff'].mean():,.0f}"]
        for s, c, z in pairs:
            hit = at[(at["strategy"] == s) & (at["control"] == c) & (at["series"] == z)]
            if hit.empty:
                cells.append(DASH)
                continue
            h = hit.iloc[0]
            mark = "*" if h["significant"] else ""
            p = f" (p_adj {pvalue(h['p_adj'])})" if with_p else ""
            cells.append(f"{diff_ci(h['estimate'], h['low'], h['high'])}{mark}{p}")
        body.append(cells)
    return header, body


def render_markdown(ans: CurveAnswer, rows: list[str], source: str | None, split: str) -> list[str]:
    targets = [r for r in rows if r != source and r not in ("avg", AVG_TARGETS)]
    n_points = ans.differences["samples"].nunique()
    return [
        "## The answer: accuracy against augmented examples per language", "",
        *[f"- {s}" for s in sentences(ans)], "",
        f"Each difference is the strategy minus the control at the same N, paired by seed ({ans.test}; "
        f"{ans.interval} interval); * marks a difference above zero after {family_text(ans, n_points, len(targets))}. "
        "The area under the curve is the mean accuracy over log(1 + N_eff), per seed, so it has a CI over seeds "
        "and a paired test like any score; N_eff is the examples really selected per target language.", "",
        f"### Area under the curve (%, {split} split, mean over seeds [95% CI])", "",
        _md_table(*auc_cells(ans, rows, source)), "",
        f"### Strategy minus control at each N (points, {row_name(AVG_TARGETS, 'target')})", "",
        _md_table(*difference_cells(ans)), ""]


def render_latex(ans: CurveAnswer, split: str) -> str:
    """A booktabs table of the differences at each N (average over targets), for a paper."""
    from harness.report.latex import _tabular, escape

    header, body = difference_cells(ans, with_p=False)
    body = [[escape(c).replace("*", "$^{*}$") for c in row] for row in body]
    caption = escape(f"Strategy minus control at each number N of augmented examples per language (points of "
                     f"{split} accuracy, average over target languages), paired by seed: difference [{ans.interval} "
                     f"interval] and {CORRECTION_NAMES[ans.correction]}-adjusted p ({ans.test}); * above zero at "
                     f"α = {ans.alpha:g}. N_eff: examples really selected.").replace("*", "$^{*}$", 1)
    lines = ["% The sample-count curve's differences; generated by salt-harness report. Needs \\usepackage{booktabs}.",
             "\\begin{table*}[t]", "\\centering", "\\footnotesize", "\\setlength{\\tabcolsep}{3pt}",
             *_tabular([escape(h) for h in header], body, "l" + "r" * (len(header) - 1)),
             f"\\caption{{{caption}}}", "\\label{tab:sample-curve}", "\\end{table*}"]
    return "\n".join(lines) + "\n"
