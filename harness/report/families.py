"""Which p-values are corrected together, and which rows earn a mark.

A family is what a reader looks at together (`--family`):
- `comparison`: the target languages of one comparison;
- `table` (default): every comparison against the same arm, as one table of a paper shows them (SALT,
  random selection, ... each against the baseline);
- `study`: every comparison of the report.
In each family the target-language rows are corrected together (Holm or BH), and the average rows apart
(an average is not one more language). The source language is a sanity check, not a hypothesis of
zero-shot transfer: it is shown without a mark. ASO's level is Bonferroni-adjusted over the same family
(Dror et al. 2019). Marks need `MIN_MARK_SEEDS` seeds per arm: with fewer, a t-test runs on 2-3 degrees of
freedom and a star would overstate it; the caption says so instead.
"""
from __future__ import annotations

import math

import numpy as np

from harness.report.analysis import ASO_MIN_SEEDS, ComparisonTable, Options, hoist
from harness.stats import multiple

MIN_MARK_SEEDS = 5
KINDS = ("target", "average")  # each kind is a family of its own within a group


def groups(tables: list[ComparisonTable], family: str) -> list[list[ComparisonTable]]:
    if family == "comparison":
        return [[t] for t in tables]
    if family == "study":
        return [tables] if tables else []
    by_b: dict[str, list[ComparisonTable]] = {}
    for t in tables:
        by_b.setdefault(t.comparison.b, []).append(t)
    return list(by_b.values())


def finalize(tables: list[ComparisonTable], opts: Options) -> None:
    """Adjusted p-values, ASO at the family's level, marks, and a sentence naming the family, in place."""
    for group in groups(tables, opts.family):
        sizes = {}
        for kind in KINDS:
            cells = [(t, i) for t in group for i in np.flatnonzero((t.rows["kind"] == kind).to_numpy())]
            p = np.array([t.rows.at[i, "p"] for t, i in cells], dtype=float)
            adjusted = multiple.adjust(p, opts.correction)
            sizes[kind] = int(np.isfinite(p).sum())
            for (t, i), q in zip(cells, adjusted):
                t.rows.at[i, "p_adj"] = q
                t.rows.at[i, "family_size"] = sizes[kind]
        for t in group:
            t.family = family_sentence(t, group, sizes, opts)
            t.aso_alpha = opts.alpha / max(1, sizes["target"])
            for i, kind in enumerate(t.rows["kind"]):
                dom = t.aso[i].at(opts.alpha, max(1, sizes.get(kind, 1)))
                reliable = min(dom.n_a, dom.n_b) >= ASO_MIN_SEEDS
                t.rows.at[i, "eps_min"] = dom.eps_min if reliable else math.nan
                t.rows.at[i, "eps_min_reverse"] = dom.eps_min_reverse if reliable else math.nan
            t.rows["mark"] = [mark(r, opts) for r in t.rows.itertuples()]
            hoist(t)


def family_sentence(table: ComparisonTable, group: list[ComparisonTable], sizes: dict[str, int], opts: Options) -> str:
    """One sentence: what was corrected together, how, and why a table may have no marks."""
    names = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}
    how = names[opts.correction]
    scope = ("this comparison" if len(group) == 1 else
             f"the {len(group)} comparisons against {table.comparison.b}" if opts.family == "table" else
             f"all {len(group)} comparisons of the report")
    text = (f"Family: the {sizes['target']} target-language tests of {scope} ({how}); the averages apart "
            f"({sizes['average']} tests, {how}); the source language unmarked. ASO at α = "
            f"{opts.alpha:g} / {max(1, sizes['target'])}.")
    if opts.correction == "none":
        text = f"Family: none (uncorrected p-values) over {scope}; the source language unmarked."
    if table.seeds < MIN_MARK_SEEDS:
        text += (f" With {table.seeds} seed{'s' if table.seeds != 1 else ''} per arm no marks are printed "
                 f"(they need {MIN_MARK_SEEDS}): read the p-values and intervals.")
    return text


def mark(row, opts: Options) -> str:
    """`*` adjusted p < alpha, `**` < alpha / 5; `†` A almost stochastically dominates B (eps_min < tau), `‡` B
    dominates A. Only on target and average rows, and only with MIN_MARK_SEEDS seeds per arm."""
    if row.kind not in KINDS or min(row.a_n, row.b_n) < MIN_MARK_SEEDS:
        return ""
    p = row.p_adj
    out = ""
    if isinstance(p, float) and math.isfinite(p):
        out = "**" if p < opts.alpha / 5 else "*" if p < opts.alpha else ""
    if math.isfinite(row.eps_min) and row.eps_min < opts.aso_tau:
        out += "†"
    elif math.isfinite(row.eps_min_reverse) and row.eps_min_reverse < opts.aso_tau:
        out += "‡"
    return out
