"""The curves' answer in words, Markdown and LaTeX: areas under the curves, strategy minus control at each N,
and from which N the strategy is significantly ahead at every N after; numbers from `CurveAnswer` alone."""
from __future__ import annotations

import math

import pandas as pd

from harness.report.answer import CurveAnswer
from harness.report.format import (CORRECTION_NAMES, DASH, IDENTICAL, diff_ci, escape, finite, md_table, pct,
                                   points, pvalue, row_name, tabular)
from harness.stats.registry import TESTS
from salt.arms import ARMS
from salt.metrics import AVERAGES, AVG_TARGETS


def label(arm: str) -> str:
    return ARMS[arm].label if arm in ARMS else arm


def _control_text(control: str) -> str:
    arm = ARMS.get(control)
    if arm is not None and arm.step_matched:
        return f"{label(control)} (as many updates, source text only)"
    if arm is not None and arm.reference:
        return f"{label(control)} (fewer updates: no augmented examples)"
    return f"{label(control)} (same updates)"


def pair_name(strategy: str, control: str, series: str) -> str:
    return f"{label(strategy)} − {label(control)}" + ("" if series == "-" else f" [{series}]")


def _pair(frame: pd.DataFrame, strategy: str, control: str, series: str) -> pd.DataFrame:
    return frame[(frame["strategy"] == strategy) & (frame["control"] == control) & (frame["series"] == series)]


def family_of(ans: CurveAnswer, strategy: str, control: str, series: str) -> str:
    """`Holm over 8 tested N x 2 target languages (m = 16; N = 0 identical by construction, not tested)`."""
    d = _pair(ans.differences, strategy, control, series)
    targets = d[d["kind"] == "target"]
    tested = targets[targets["p"].map(finite)]
    n_points, n_langs = tested["samples"].nunique(), tested["row"].nunique()
    same = list(dict.fromkeys(d.loc[d["identical"], "samples"]))
    extra = f"; N = {', '.join(map(str, same))} {IDENTICAL}, not tested" if same else ""
    return (f"{CORRECTION_NAMES[ans.correction]} over {n_points} tested N × {n_langs} target languages "
            f"(m = {len(tested)}{extra})")


def _limits(ans: CurveAnswer, d: pd.DataFrame) -> list[str]:
    """Why no N may be marked: too few seeds for a mark, or a rank test that cannot reach the family's level."""
    out = []
    tested = d[d["p"].map(finite)]
    if tested.empty:
        return out
    seeds = int(tested["n"].max())
    if not tested["significant"].any() and seeds < ans.min_seeds:
        out.append(f"with {seeds} seeds no N is marked (marks need {ans.min_seeds})")
    entry = TESTS.get(ans.test_name)
    if entry is not None and entry.discrete:
        level = float(tested["level"].min())
        if entry.min_p(seeds) > level:
            out.append(f"with {seeds} seeds {entry.name} cannot give p < {entry.min_p(seeds):.3g}, above the family's "
                       f"level {level:.2g}: no N can be significant")
    return out


def sentences(ans: CurveAnswer, row: str = AVG_TARGETS) -> list[str]:
    """One plain sentence per (strategy, control) on `row`: the area difference, from which N the strategy is
    significantly ahead at every N after, and the first N significantly ahead."""
    out = []
    for r in ans.auc_differences[ans.auc_differences["row"] == row].itertuples():
        s = ans.smallest[(ans.smallest["strategy"] == r.strategy) & (ans.smallest["control"] == r.control)
                         & (ans.smallest["row"] == row) & (ans.smallest["series"] == r.series)]
        d = _pair(ans.differences, r.strategy, r.control, r.series)
        d = d[d["row"] == row]
        where = "significantly ahead at no N"
        if len(s):
            s = s.iloc[0]
            if s["ahead_from"] is not None:
                where = (f"significantly ahead at every tested N ≥ {s['ahead_from']} (N_eff "
                         f"{s['ahead_from_n_eff']:,.0f})")
                if s["first"] != s["ahead_from"]:
                    where += f"; first significantly ahead at N = {s['first']}, though not at every N after it"
            elif s["first"] is not None:
                where = (f"significantly ahead at some N but not at every N after any of them (first at "
                         f"N = {s['first']}, N_eff {s['first_n_eff']:,.0f})")
            if s["note"]:
                where += f" ({s['note']})"
        limits = _limits(ans, d)
        if limits:
            where += "; " + "; ".join(limits)
        series = "" if r.series == "-" else f" [{r.series}]"
        out.append(f"**{label(r.strategy)} vs {_control_text(r.control)}**{series}: area under the curve "
                   f"{diff_ci(r.estimate, r.low, r.high)} points ({ans.interval} interval; {ans.test}, "
                   f"p = {pvalue(r.p)}, {CORRECTION_NAMES[ans.correction]} p = {pvalue(r.p_adj)} over the pair's "
                   f"{int(r.family_size)} averages; {verdict(r.p_adj, r.mde, ans)}); {where}.")
    return out


def verdict(p_adj: float, mde: float, ans: CurveAnswer) -> str:
    """`significant`, or `not significant; with these seeds an effect of X points or more would have been found
    with 80% power`: a "not significant" never stands without what the study could have detected."""
    if finite(p_adj) and p_adj < ans.alpha:
        return "significant"
    if not finite(p_adj):
        return "not tested"
    if mde == math.inf:
        return "not significant; with these seeds no effect of any size could have been found at this level"
    if finite(mde):
        return (f"not significant; with these seeds an effect of {points(mde)} points or more would have been found "
                f"with {ans.power:.0%} power")
    return "not significant (no spread to size a detectable effect by)"


def _by_row(frame: pd.DataFrame, keys: list[str], rows: list[str], source: str | None, name, cell):
    """One line per group of `keys`, one column per row: `cell(hit)` where the group has the row, else a dash."""
    header = ["arm" if keys == ["arm", "series"] else "comparison",
              *[row_name(r, "source" if r == source else "target") for r in rows]]
    body = []
    for key, g in frame.groupby(keys, sort=False):
        hits = {r: h for r, h in zip(g["row"], g.itertuples())}
        body.append([name(*key), *[cell(hits[r]) if r in hits else DASH for r in rows]])
    return header, body


def auc_cells(ans: CurveAnswer, rows: list[str], source: str | None) -> tuple[list[str], list[list[str]]]:
    return _by_row(ans.auc, ["arm", "series"], rows, source,
                   lambda arm, series: label(arm) + ("" if series == "-" else f" [{series}]"),
                   lambda h: pct(h.mean) + (f" [{pct(h.low)}, {pct(h.high)}]" if finite(h.low) else ""))


def auc_difference_cells(ans: CurveAnswer, rows: list[str], source: str | None) -> tuple[list[str], list[list[str]]]:
    """One row per pair: the area difference per language [CI] with its adjusted p (m of the pair)."""
    return _by_row(ans.auc_differences, ["strategy", "control", "series"], rows, source, pair_name,
                   lambda h: diff_ci(h.estimate, h.low, h.high) + ("" if h.kind == "source" else
                                                                  f" (p_adj {pvalue(h.p_adj)})"))


def difference_cells(ans: CurveAnswer, row: str = AVG_TARGETS, with_p: bool = True) -> tuple[list[str], list[list[str]]]:
    """N down the side, one column per (strategy, control): difference [CI], adjusted p (MDE where not
    significant), * where significant after the pair's family correction."""
    d = ans.differences[ans.differences["row"] == row]
    pairs = list(dict.fromkeys(zip(d["strategy"], d["control"], d["series"])))
    header = ["N", "N_eff", *[pair_name(s, c, z) for s, c, z in pairs]]
    body = []
    for samples in dict.fromkeys(d.sort_values("x", kind="stable")["samples"]):
        at = d[d["samples"] == samples]
        cells = [str(samples), f"{at['n_eff'].mean():,.0f}"]
        for s, c, z in pairs:
            hit = at[(at["strategy"] == s) & (at["control"] == c) & (at["series"] == z)]
            if hit.empty:
                cells.append(DASH)
                continue
            h = hit.iloc[0]
            if h["identical"]:
                cells.append(IDENTICAL)
                continue
            mark = "*" if h["significant"] else ""
            tail = ""
            if with_p:
                mde = "" if h["significant"] or not finite(h["mde"]) else f"; MDE {points(h['mde'])}"
                mde = "; MDE ∞" if not h["significant"] and h["mde"] == math.inf else mde
                tail = f" (p_adj {pvalue(h['p_adj'])}{mde})"
            cells.append(f"{diff_ci(h['estimate'], h['low'], h['high'])}{mark}{tail}")
        body.append(cells)
    return header, body


def families_text(ans: CurveAnswer, row: str = AVG_TARGETS) -> str:
    """Every pair's family, with its m: what each mark and p_adj of the curve was corrected over."""
    d = ans.differences
    pairs = list(dict.fromkeys(zip(d["strategy"], d["control"], d["series"])))
    return "Families, one per pair (the averages a family of their own): " + "; ".join(
        f"{pair_name(s, c, z)}: {family_of(ans, s, c, z)}" for s, c, z in pairs) + f"; α = {ans.alpha:g}."


def render_markdown(ans: CurveAnswer, rows: list[str], source: str | None, split: str) -> list[str]:
    return [
        "## The answer: accuracy against augmented examples per language", "",
        *[f"- {s}" for s in sentences(ans)], "",
        f"Each difference is the strategy minus the control at the same N, paired by seed, the same comparison the "
        f"tables make ({ans.test}; {ans.interval} interval); * marks a difference significant after its pair's "
        f"correction, with {ans.min_seeds}+ seeds per arm. {families_text(ans)} MDE: the smallest true difference "
        f"found with {ans.power:.0%} power at the family's level. The area under the curve is the mean accuracy over "
        "log(1 + N_eff), per seed, taken for both arms of a pair on the Ns both have, so it has a CI over seeds and a "
        "paired test like any score; N_eff is the examples really selected per target language.", "",
        *([f"Note: {n}." for n in ans.footnotes] + [""] if ans.footnotes else []),
        f"### Area under the curve (%, {split} split, mean over seeds [95% CI])", "",
        md_table(*auc_cells(ans, rows, source)), "",
        "### Differences of the areas (points [CI], adjusted p over each pair's target languages)", "",
        md_table(*auc_difference_cells(ans, rows, source)), "",
        f"### Strategy minus control at each N (points, {row_name(AVG_TARGETS, 'target')})", "",
        md_table(*difference_cells(ans)), ""]


def render_latex(ans: CurveAnswer, split: str) -> str:
    """A booktabs table of the differences at each N (average over targets), for a paper."""
    header, body = difference_cells(ans, with_p=False)
    body = [[escape(c).replace("*", "$^{*}$") for c in row] for row in body]
    caption = escape(f"Strategy minus control at each number N of augmented examples per language (points of "
                     f"{split} accuracy, average over target languages), paired by seed: difference [{ans.interval} "
                     f"interval] ({ans.test}); * significant after the pair's correction at α = {ans.alpha:g} "
                     f"(families: {'; '.join(_latex_families(ans))}). N_eff: examples really selected."
                     ).replace("*", "$^{*}$", 1)
    lines = ["% The sample-count curve's differences; generated by salt-harness report. Needs \\usepackage{booktabs}.",
             "\\begin{table*}[t]", "\\centering", "\\footnotesize", "\\setlength{\\tabcolsep}{3pt}",
             *tabular([escape(h) for h in header], body, "l" + "r" * (len(header) - 1)),
             f"\\caption{{{caption}}}", "\\label{tab:sample-curve}", "\\end{table*}"]
    return "\n".join(lines) + "\n"


def _latex_families(ans: CurveAnswer) -> list[str]:
    d = ans.differences
    return [f"{pair_name(s, c, z)}: {family_of(ans, s, c, z)}"
            for s, c, z in dict.fromkeys(zip(d["strategy"], d["control"], d["series"]))]


def target_rows(rows: list[str], source: str | None) -> list[str]:
    return [r for r in rows if r != source and r not in AVERAGES]
