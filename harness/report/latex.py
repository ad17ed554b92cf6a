"""LaTeX for papers: a compact main table and the long tables as an appendix, both sized for a two-column
ACL/ARR page (`table*`, booktabs).

- paper mode (`--paper`): one table, arms as rows and languages as columns (as XTREME and the SALT paper
  print them); each cell the mean accuracy with superscript marks from the row's comparison with its
  reference; bold only for a column's best when that comparison is significant; one caption holds the
  legend.
- appendix mode (default): one `table*` per comparison with every number (Δ and its interval, p, adjusted
  p, ε_min), each with a short caption; the legend is stated once, before them. (Accuracy against the
  number of examples, with intervals, is in the Markdown, the CSV and the plots: the main table holds
  every (arm, N) row.)
"""
from __future__ import annotations

import re

from harness.report.collect import SAMPLES_KEY
from harness.report.comparisons import settings as arm_settings
from harness.report.format import CORRECTION_NAMES, escape, finite, pct, tabular
from harness.report.model import Report
from harness.report.tables import cells, drop_empty_note, findings, header, legend
from salt.arms import ARMS
from salt.config import display_value
from salt.metrics import AVG, AVG_TARGETS


def paper_label(arm: str, settings: tuple) -> tuple[str, str]:
    """Readable row labels from the arm registry: (`SALT`, `800`), other settings in brackets after the name."""
    name = ARMS[arm].label if arm in ARMS else arm
    n = next((display_value(k, v) for k, v in settings if k == SAMPLES_KEY), "")
    rest = [f"{k.rsplit('.', 1)[-1].replace('_', ' ')}={display_value(k, v)}" for k, v in settings if k != SAMPLES_KEY]
    return (f"{name} ({', '.join(rest)})" if rest else name), n


def _readable(report: Report, arm: str, setting: str) -> str:
    name, n = paper_label(arm, report.settings.get((arm, setting), ()))
    return f"{name} (N={n})" if n else name


def _reference_tables(report: Report) -> dict[tuple[str, str], object]:
    """Each row's comparison with its reference (the step-matched one where the study has it)."""
    out = {}
    for t in report.tables:
        b = ARMS.get(t.comparison.b)
        if b is None or not b.reference:
            continue
        key = (t.comparison.a, t.comparison.setting_a)
        if key not in out or (b.step_matched and not ARMS[out[key].comparison.b].step_matched):
            out[key] = t
    return out


def render_paper(report: Report) -> str:
    """The main table: every (arm, setting) a row, languages as columns, marks from each row's comparison with
    its reference (`*`: significant after the family's correction; ASO and the rest are in the appendix)."""
    tables = _reference_tables(report)
    languages = [r for r in report.rows if r != AVG]
    headers = [r if r != AVG_TARGETS else "Avg." for r in languages]
    with_n = report.curves is not None
    # Series.mean of each group, as a filter would give (groupby's own mean sums in another order: a 60.75
    # could print as 60.7 one way and 60.8 the other)
    means = {k: float(g.mean()) for k, g in report.scores.groupby(["arm", "setting", "lang"], sort=False)["score"]}
    rows = []
    for arm, labels in arm_settings(report.scores).items():
        for setting in labels:
            table = tables.get((arm, setting))
            marks = {} if table is None else dict(zip(table.rows["row"], table.rows["mark"]))
            cells = []
            for lang in languages:
                mean = float(means.get((arm, setting, lang), float("nan")))
                cells.append((mean, "*" if "*" in marks.get(lang, "") else ""))
            rows.append((paper_label(arm, report.settings.get((arm, setting), ())), cells))
    best = {}  # column -> row index of a significant best
    for j in range(len(languages)):
        scored = [(cells[j][0], i) for i, (_, cells) in enumerate(rows) if finite(cells[j][0])]
        if scored:
            _, i = max(scored)
            if rows[i][1][j][1]:
                best[j] = i
    body = []
    for i, ((label, n), cells) in enumerate(rows):
        out = [r"\raggedright " + escape(label)] + ([escape(n)] if with_n else [])  # wraps between words only
        for j, (mean, mark) in enumerate(cells):
            text = pct(mean).replace("—", "---")
            out.append((rf"\textbf{{{text}}}" if best.get(j) == i else text) + (r"$^{*}$" if mark else ""))
        body.append(out)
    o = report.options
    references = sorted({t.comparison.b for t in tables.values()})
    cap = (f"Zero-shot accuracy (\\%, {o.split} split), mean over {len(report.seeds)} seeds; "
           f"{escape(report.source or report.rows[0])} is the source language, Avg.\\ the mean over the targets"
           + (", N the augmented examples per target language" if with_n else "") + ". "
           f"$^{{*}}$: better or worse than {escape(' or '.join(references) or 'the reference')} (the step-matched "
           f"baseline where the study has one), {escape(o.entry.label)}, {CORRECTION_NAMES[o.correction]}-adjusted "
           f"$p<{o.alpha:g}$ within each reference's family of target languages (averages apart). "
           f"Bold: a column's best, where significant. Marks need {o.entry.min_seeds} seeds per arm. Differences with "
           "their intervals, every test and ASO: the appendix tables.")
    if report.seeds and len(report.seeds) < o.entry.min_seeds:
        cap += f" With {len(report.seeds)} seeds no marks are printed."
    head = ["Model", *(["N"] if with_n else []), *map(escape, headers)]
    out = [f"% Study {escape(report.study)} (revision {report.revision}): main table; generated by "
           "salt-harness report --paper. Needs \\usepackage{booktabs}.",
           r"\begin{table*}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{2pt}",
           # a fixed label column: a long arm name wraps instead of pushing 16 language columns off the page
           *tabular(head, body, f"p{{{1.85 if len(headers) > 8 else 3.2}cm}}" + ("r" if with_n else "")
                     + "r" * len(headers)),
           rf"\caption{{{cap}}}", rf"\label{{tab:{_slug(report.study)}-main}}", r"\end{table*}", ""]
    return "\n".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def render_appendix(report: Report) -> str:
    """Every comparison in full, one `table*` each with a short caption; the legend once, before them."""
    o = report.options
    out = [f"% Study {escape(report.study)} (revision {report.revision}), {o.split} split: every comparison; "
           "generated by salt-harness report. Needs \\usepackage{booktabs}.",
           r"\paragraph{How to read the comparison tables.} " + escape(" ".join(legend(report))), ""]
    for table in report.tables:
        head, rows = drop_empty_note(header(table), [[escape(c) for c in r] for r in cells(table)])
        notes = []
        if len(head) == 10:  # notes would make the table too wide: they go under it
            notes = [(r[0], r[-1]) for r in rows if r[-1]]
            head, rows = head[:-1], [r[:-1] for r in rows]
        c = table.comparison
        head[1:3] = [_readable(report, c.a, c.setting_a), _readable(report, c.b, c.setting_b)]
        short = escape(f"{c.label}. " + " ".join(findings(table)))
        out += [r"\begin{table*}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}",
                # the arms' columns wrap their (long) names; the numbers fit
                *tabular([escape(h) for h in head], rows, "lp{1.9cm}p{1.9cm}" + "r" * 5 + "l"),
                rf"\caption{{{short}}}"]
        if notes:
            out += [r"\par\smallskip\footnotesize"] + [rf"{n}: {t}\\" for n, t in notes]
        out += [r"\end{table*}", ""]
    return "\n".join(out)
