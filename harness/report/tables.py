"""Tables: Markdown and CSV from one Report (LaTeX: harness.report.latex).

Markdown shows accuracy in percent (1 decimal) and differences in points; CSV keeps every number at full
precision in the metric's own units (accuracy in [0, 1]), for re-analysis and for tests.
"""
from __future__ import annotations

import math

import pandas as pd

from harness.report import answer_text, sequential
from harness.report.analysis import ComparisonTable
from harness.report.format import (CORRECTION_NAMES, DASH, diff_ci, eps, md_table, mean_std, pct, points, pvalue,
                                   row_name)
from harness.report.model import Report
from harness.stats.registry import ASO_MIN_SEEDS


# --------------------------------------------------------------------------------------------- text

def legend(report: Report) -> list[str]:
    """Sentences on how to read every comparison table (columns, test, interval, correction, MDE, ASO, marks)."""
    o = report.options
    entry = o.entry
    corr = CORRECTION_NAMES[o.correction]
    return [f"Accuracy (%, {o.split} split) as mean ± sample std (n seeds).",
            f"Δ: mean difference A − B in points, paired by seed, with a {o.confidence:.0%} {entry.interval_name} "
            "interval" + (" (test-set noise only)." if o.example_level else "."),
            f"p: {entry.label} ({entry.citation}); p {corr}: adjusted within the table's family (stated under each "
            "table).",
            f"MDE: the smallest true difference this design finds with {o.power:.0%} power at the family's level "
            "α/m, from the observed spread (harness.stats.power).",
            f"ε_min: ASO (Dror et al. 2019) of A over B, Bonferroni over the family; small means A almost "
            f"stochastically dominates B; shown with {ASO_MIN_SEEDS}+ seeds per arm.",
            f"Marks, on target and average rows with {entry.min_seeds}+ seeds per arm: * adjusted p < {o.alpha:g}, "
            f"** < {o.alpha / 5:g}; † ε_min < {o.aso_tau:g} (A ≻ B); ‡ ε_min of B over A < {o.aso_tau:g} (B ≻ A)."] + (
        ["Example-level p-values treat each trained model as fixed: they ignore seed variance."]
        if o.example_level else [])


def findings(table: ComparisonTable) -> list[str]:
    """What is particular to one table: its family, what differs in training length, cells whose
    augmentation fell short, languages with an effect, and notes shared by every row."""
    out = [table.family] if table.family else []
    c, (a, b) = table.comparison, table.updates
    if table.step_matched is not None:
        out.append(f"Updates (mean optimizer steps): {c.a} {a:,.0f}, {c.b} {b:,.0f}"
                   + (" (step-matched)." if table.step_matched else
                      f": not step-matched ({c.a} took {abs(a - b):,.0f} {'more' if a > b else 'fewer'}), so the "
                      "difference is not the data's alone."))
    if table.degenerate:
        out.append("Degenerate cells (augmented examples selected of those asked for): "
                   + "; ".join(table.degenerate) + ".")
    pc = table.conjunction
    if pc is not None and not table.identical:
        how = f"partial conjunction, {pc.method.capitalize()}, α = {pc.alpha:g}"
        out.append(f"Effect in at least {pc.count} of {pc.n} target languages ({how})." if pc.count else
                   f"No target language shows an effect on its own ({how}).")
    out += [f"Note: {n}." for n in table.notes]
    return out


def caption(table: ComparisonTable, report: Report) -> list[str]:
    """A self-contained caption (LaTeX): the comparison, the legend with A and B named, the findings."""
    c = table.comparison
    a, b = c.label.split(" vs ", 1)
    text = [s.replace("A − B", f"{c.a} − {c.b}").replace("of A over B", f"of {c.a} over {c.b}")
            .replace("A almost", f"{c.a} almost").replace("dominates B", f"dominates {c.b}")
            .replace("(A ≻ B)", f"({c.a} ≻ {c.b})").replace("of B over A", f"of {c.b} over {c.a}")
            .replace("(B ≻ A)", f"({c.b} ≻ {c.a})") for s in legend(report)]
    return [f"{a} vs {b}."] + text + findings(table)


def cells(table: ComparisonTable) -> list[list[str]]:
    rows = []
    for r in table.records():
        tested = r.kind != "source"
        rows.append([row_name(r.row, r.kind), mean_std(r.a_mean, r.a_std, r.a_n), mean_std(r.b_mean, r.b_std, r.b_n),
                     diff_ci(r.diff, r.diff_low, r.diff_high), pvalue(r.p), pvalue(r.p_adj) if tested else DASH,
                     points(r.mde) if tested and r.mde != math.inf else "none" if tested else DASH,
                     eps(r.eps_min), r.mark, r.note])
    return rows


def interval_name(table: ComparisonTable) -> str:
    names = [n for n in table.rows["ci"] if n]
    return f"{table.options.confidence:.0%} CI, {names[0]}" if names else f"{table.options.confidence:.0%} CI"


def header(table: ComparisonTable) -> list[str]:
    c, o = table.comparison, table.options
    return ["language", c.a, c.b, f"Δ [{interval_name(table)}]", f"p ({o.test})",
            f"p {CORRECTION_NAMES[o.correction]}", f"MDE ({o.power:.0%})", "ε_min", "mark", "note"]


def drop_empty_note(head, rows):
    if all(not r[-1] for r in rows):
        return head[:-1], [r[:-1] for r in rows]
    return head, rows


# --------------------------------------------------------------------------------------------- markdown

def render_markdown(report: Report) -> str:
    o = report.options
    expected = f" of {report.expected_runs} cells" if report.expected_runs else ""
    out = [f"# Study {report.study}: {o.split} split", "",
           f"Revision {report.revision}: {report.n_runs} finished runs{expected}; arms: {', '.join(report.arms)}; seeds: "
           f"{', '.join(map(str, report.seeds))}. Test: {o.entry.label}; correction: "
           f"{CORRECTION_NAMES[o.correction]}; α = {o.alpha:g}. Tracking store: `{report.tracking_uri}`.", ""]
    out += ["How to read the tables: " + " ".join(legend(report)), ""]
    if report.contaminated:
        out += [CONTAMINATED_NOTE, ""]
    if report.sequential is not None:
        out += sequential.render(report.sequential, report.rule)
    if report.answer is not None and not report.answer.differences.empty:
        out += answer_text.render_markdown(report.answer, report.rows, report.source, o.split)
    for table in report.tables:
        head, rows = drop_empty_note(header(table), cells(table))
        out += [f"## {table.comparison.label}", ""]
        out += [" ".join(findings(table)), ""] if findings(table) else []
        out += [md_table(head, rows), ""]
    if report.curves is not None and not report.curves.empty:
        out += ["## Accuracy against samples per language", "", samples_caption(report), "",
                md_table(*samples_cells(report)), ""]
    elif report.curves is not None:
        out += ["## Accuracy against samples per language", "", "The study has no augment.samples_per_lang axis.", ""]
    if report.draws is not None and not report.draws.empty:
        out += ["## Seeds, data orders and augmentation draws", "", DRAWS_CAPTION, "", md_table(*draws_cells(report)), ""]
    return "\n".join(out)


CONTAMINATED_NOTE = ("**Contaminated:** some runs built their candidate vocabularies from evaluation (dev) text "
                     "(`vocab.source: task`, `allow_eval_text`): their substitutes were steered to the words of the "
                     "set the objective is measured on.")
DRAWS_CAPTION = ("Cells run with several data orders (`data_seeds: k`) or augmentation draws (`draws: k`) per training "
                 "seed: their tables above average them per seed (seeds still pair across arms). Here the spread is "
                 "split (crossed random effects, main effects only; harness.stats.components): SD of the seed "
                 "(initialisation) effect, of the data-order effect, of the draw effect and the residual, in "
                 "accuracy points. Dodge et al. (2020) found initialisation and data order comparable; a large draw "
                 "SD means the luck of the sample, not training noise, drives the arm's spread.")


def draws_cells(report: Report) -> tuple[list[str], list[list[str]]]:
    head = ["arm", "setting", "language", "levels", "mean", "SD seed (init)", "SD data order", "SD draw",
            "SD residual"]
    rows = [[r.arm, r.setting, row_name(r.row, "source" if r.row == report.source else "target"),
             f"{r.factors}: {r.levels}", pct(r.mean), pct(r.sd_seed), pct(r.sd_data), pct(r.sd_draw), pct(r.sd_residual)]
            for r in report.draws.itertuples()]
    return head, rows


# --------------------------------------------------------------------------------------------- samples

def samples_caption(report: Report) -> str:
    refs = list(dict.fromkeys(report.curves.loc[report.curves["samples"] == "", "arm"]))
    ref = (f" {', '.join(refs)} does not depend on the count: {'its rows are' if len(refs) == 1 else 'their rows are'}"
           " the reference (one per setting)." if refs else "")
    return (f"Accuracy (%, {report.options.split} split) against augmented samples per target language: "
            f"mean over seeds [{report.options.confidence:.0%} Student-t CI] (n seeds); no test (the "
            f"differences and their tests are in the answer above).{ref}")


def samples_cells(report: Report) -> tuple[list[str], list[list[str]]]:
    curves = report.curves
    lines = curves.assign(line=[a if s == "-" else f"{a} [{s}]" for a, s in zip(curves["arm"], curves["series"])])
    names = list(dict.fromkeys(lines["line"]))
    head = ["language", "samples/lang", *names]
    first = {k: g.iloc[0] for k, g in lines.groupby(["row", "line", "samples"], sort=False)}
    rows = []
    for row, sub in lines.groupby("row", sort=False):
        keys = list(dict.fromkeys(sub[sub["samples"] != ""].sort_values("x", kind="stable")["samples"]))
        for key in ([""] if (sub["samples"] == "").any() else []) + keys:
            cells_ = [_point(first[row, name, key]) if (row, name, key) in first else "" for name in names]
            rows.append([row_name(row, "source" if row == report.source else "target"),
                         key or "(baseline)", *cells_])
    return head, rows


def _point(p) -> str:
    if math.isfinite(p["low"]) and math.isfinite(p["high"]):
        return f"{pct(p['mean'])} [{pct(p['low'])}, {pct(p['high'])}] ({p['n']})"
    return f"{pct(p['mean'])} ({p['n']})"


# --------------------------------------------------------------------------------------------- csv

def comparisons_frame(report: Report) -> pd.DataFrame:
    """Every table's rows, each with its comparison's identity before and its family and counts after."""
    if not report.tables:
        return pd.DataFrame()
    lead = ["comparison", "arm_a", "setting_a", "arm_b", "setting_b", "split"]
    per_table = pd.DataFrame([{
        "comparison": t.comparison.label, "arm_a": t.comparison.a, "setting_a": t.comparison.setting_a,
        "arm_b": t.comparison.b, "setting_b": t.comparison.setting_b, "split": t.options.split,
        "identical": t.identical, "updates_a": t.updates[0], "updates_b": t.updates[1],
        "degenerate": "; ".join(t.degenerate), "correction": t.options.correction, "family": t.family,
        "aso_alpha": t.aso_alpha, "languages_with_effect": t.conjunction.count if t.conjunction else math.nan,
        "shared": "; ".join(t.notes),
    } for t in report.tables])
    per_row = per_table.loc[per_table.index.repeat([len(t.rows) for t in report.tables])].reset_index(drop=True)
    rows = pd.concat([t.rows for t in report.tables], ignore_index=True)
    rows["note"] = ["; ".join(x for x in (n, shared) if x) for n, shared in zip(rows["note"], per_row.pop("shared"))]
    return pd.concat([per_row[lead], rows, per_row.drop(columns=lead)], axis=1)


def render_csv(report: Report) -> dict[str, str]:
    """File name -> CSV text: comparisons.csv (every table) and samples.csv (the curves), if any."""
    out = {"comparisons.csv": comparisons_frame(report).to_csv(index=False)}
    if report.curves is not None and not report.curves.empty:
        out["samples.csv"] = report.curves.to_csv(index=False)
    if report.draws is not None and not report.draws.empty:
        out["draws.csv"] = report.draws.to_csv(index=False)
    if report.answer is not None and not report.answer.differences.empty:
        out["curve_differences.csv"] = report.answer.differences.to_csv(index=False)
        out["curve_auc.csv"] = report.answer.auc.to_csv(index=False)
        out["curve_auc_differences.csv"] = report.answer.auc_differences.to_csv(index=False)
        out["curve_smallest_n.csv"] = report.answer.smallest.to_csv(index=False)
    return out
