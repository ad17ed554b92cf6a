"""The one rule for which p-values are corrected together, the level each test is then read at, its minimum
detectable effect, and which rows earn a mark; tables and the sample-count curves both go through `correct`.

A family is what a reader looks at together (`--family` for the tables):
- `comparison`: the target languages of one comparison;
- `table` (default): every comparison against the same arm, as one table of a paper shows them (SALT,
  random selection, ... each against the baseline);
- `study`: every comparison of the report;
- the curve answer's (`curve_key`): every N of one strategy-control pair (and setting of its other axes).
In each family the target-language rows are corrected together (Holm or BH), and the average rows apart (an
average is not one more language). The source language is a sanity check, not a hypothesis of zero-shot
transfer: it is shown unmarked and is not in m. Comparisons identical by construction are shown as such,
never tested, and are not in m. Each test is read at its family's level alpha / m (the level Holm applies to
the smallest of m p-values), which is also the level its minimum detectable effect (harness.stats.power) is
stated at; ASO's level is Bonferroni-adjusted over the same family (Dror et al. 2019). Marks need the test's
`min_seeds` per arm (registry): with fewer, a t-test runs on 2-3 degrees of freedom and a star would
overstate it; the caption says so instead.
"""
from __future__ import annotations

import math
from typing import Callable, Hashable

import numpy as np

from harness.report.analysis import ComparisonTable, hoist
from harness.report.options import Options
from harness.stats import multiple
from harness.stats.power import Spread, mde
from harness.stats.registry import ASO_MIN_SEEDS, CORRECTIONS, TESTS, StatTest

KINDS = ("target", "average")  # each kind is a family of its own within a group


def table_key(family: str) -> Callable[[ComparisonTable], Hashable]:
    """How the tables' `--family` groups comparisons."""
    if family == "comparison":
        return lambda t: (t.comparison,)
    if family == "study":
        return lambda t: ()
    return lambda t: (t.comparison.b,)


def scope_text(group: list[ComparisonTable], family: str) -> str:
    if len(group) == 1:
        return "this comparison"
    if family == "table":
        return f"the {len(group)} comparisons against {group[0].comparison.b}"
    if family == "study":
        return f"all {len(group)} comparisons of the report"
    return f"{len(group)} comparisons"


def level(alpha: float, m: int, correction: str) -> float:
    """The level a family's test is read at: alpha / m (Holm's first step, Bonferroni); alpha uncorrected."""
    return alpha if correction == "none" else alpha / max(1, m)


def entry_of(row, opts: Options) -> StatTest:
    return TESTS.get(row.test, opts.entry)


def significant(p_adj: float, alpha: float) -> bool:
    """The significance rule: the family-adjusted p below alpha."""
    return isinstance(p_adj, float) and math.isfinite(p_adj) and p_adj < alpha


def markable(row, opts: Options) -> bool:
    """Marks only on target and average rows, and only with the test's minimum seeds per arm."""
    return row.kind in KINDS and min(row.a_n, row.b_n) >= entry_of(row, opts).min_seeds


ADJUSTED = ("p_adj", "family_size", "level", "mde")  # the columns a family writes
MARK_COLUMNS = ("kind", "a_n", "b_n", "test", "p_adj", "eps_min", "eps_min_reverse")  # what `mark` reads


def correct(tables: list[ComparisonTable], opts: Options, key: Callable[[ComparisonTable], Hashable],
            scope: Callable[[list[ComparisonTable]], str]) -> list[ComparisonTable]:
    """Copies of `tables`, grouped into families by `key`, with adjusted p-values, family sizes, levels, MDEs,
    ASO at the family's level, marks and a sentence naming the family (`scope` words the group)."""
    out = [t.copy() for t in tables]
    groups: dict[Hashable, list[ComparisonTable]] = {}
    for t in out:
        groups.setdefault(key(t), []).append(t)
    for group in groups.values():
        sizes = {}
        # The adjusted columns, filled per kind as numpy arrays and written back once per table: a `.loc` write
        # per kind and column per table cost seconds on a 5,000-run store.
        cols = {id(t): {c: t.rows[c].to_numpy(copy=True) for c in ADJUSTED} for t in group if not t.identical}
        for kind in KINDS:
            # per table the row labels of this kind, then one adjustment over the whole family
            cells = [(t, np.flatnonzero((t.rows["kind"] == kind).to_numpy())) for t in group if not t.identical]
            p = np.concatenate([t.rows["p"].to_numpy(dtype=float)[i] for t, i in cells]) if cells else np.array([])
            adjusted = multiple.adjust(p, opts.correction)
            sizes[kind] = int(np.isfinite(p).sum())
            at = level(opts.alpha, sizes[kind], opts.correction)
            start = 0
            for t, i in cells:
                q = adjusted[start:start + len(i)]
                start += len(i)
                if not len(i):
                    continue
                c = cols[id(t)]
                c["p_adj"][i], c["family_size"][i] = q, sizes[kind]
                tested = i[np.isfinite(q)]
                if len(tested):
                    c["level"][tested] = at
                    c["mde"][tested] = [_mde(t.rows, j, at, opts) for j in tested]
        for t in group:
            for name, values in cols.get(id(t), {}).items():
                t.rows[name] = values
        identical = sum(t.identical for t in group)
        scope_text, sentences = scope(group), {}
        for t in group:
            t.family_scope, t.family_sizes = scope_text, dict(sizes)
            if t.seeds not in sentences:  # the sentence depends on the table only through its seeds
                sentences[t.seeds] = family_sentence(t, scope_text, sizes, identical, opts)
            t.family = sentences[t.seeds]
            t.aso_alpha = opts.alpha / max(1, sizes["target"])
            eps, eps_reverse = [], []
            for i, kind in enumerate(t.rows["kind"]):
                dom = t.aso[i].at(opts.alpha, max(1, sizes.get(kind, 1))) if t.aso[i] is not None else None
                reliable = dom is not None and min(dom.n_a, dom.n_b) >= ASO_MIN_SEEDS
                eps.append(dom.eps_min if reliable else math.nan)
                eps_reverse.append(dom.eps_min_reverse if reliable else math.nan)
            t.rows["eps_min"], t.rows["eps_min_reverse"] = eps, eps_reverse
            t.rows["mark"] = [mark(r, opts) for r in t.records(MARK_COLUMNS)]
            hoist(t)
    return out


def _mde(rows, j: int, at: float, opts: Options) -> float:
    """Row `j`'s minimum detectable effect at level `at` (scalar reads: a row Series per test is slow)."""
    get = rows.at
    entry, pairs = TESTS.get(get[j, "test"], opts.entry), int(get[j, "pairs"])
    return mde(Spread(get[j, "se"], get[j, "df"], pairs), at, opts.power, entry.efficiency, entry.min_p(pairs))


def family_sentence(table: ComparisonTable, scope: str, sizes: dict[str, int], identical: int, opts: Options) -> str:
    """One sentence: what was corrected together, how, at which level, and why a table may have no marks."""
    how = CORRECTIONS[opts.correction]
    m = sizes["target"]
    same = (f"; {identical} comparison{'s' if identical != 1 else ''} identical by construction, not tested"
            if identical else "")
    text = (f"Family: the {m} target-language tests of {scope} ({how}, each read at α = {opts.alpha:g}/{max(1, m)}); "
            f"the averages apart ({sizes['average']} tests, {how}); the source language unmarked{same}. ASO at "
            f"α = {opts.alpha:g} / {max(1, m)}.")
    if opts.correction == "none":
        text = f"Family: none (uncorrected p-values) over {scope}; the source language unmarked{same}."
    need = opts.entry.min_seeds
    if table.seeds < need:
        text += (f" With {table.seeds} seed{'s' if table.seeds != 1 else ''} per arm no marks are printed "
                 f"(they need {need}): read the p-values and intervals.")
    return text


def family_brief(table: ComparisonTable) -> str:
    """`Holm over the 8 target-language tests of the 4 comparisons against baseline`: a figure's title."""
    o = table.options
    if o.correction == "none":
        return f"uncorrected p over {table.family_scope}"
    return (f"{CORRECTIONS[o.correction]} over the {table.family_sizes.get('target', 0)} target-language tests of "
            f"{table.family_scope}")


def mark(row, opts: Options) -> str:
    """`*` adjusted p < alpha, `**` < alpha / 5; `†` A almost stochastically dominates B (eps_min < tau), `‡` B
    dominates A. Only on rows that are `markable`."""
    if not markable(row, opts):
        return ""
    p = row.p_adj
    out = ""
    if significant(p, opts.alpha):
        out = "**" if p < opts.alpha / 5 else "*"
    if math.isfinite(row.eps_min) and row.eps_min < opts.aso_tau:
        out += "†"
    elif math.isfinite(row.eps_min_reverse) and row.eps_min_reverse < opts.aso_tau:
        out += "‡"
    return out
