"""How numbers and tables are written, in Markdown and LaTeX: shared by every renderer, imported by none of
the modules that compute (so the renderers never import each other).

Accuracy is printed in percent (1 decimal) and differences in points; CSV keeps full precision elsewhere.
"""
from __future__ import annotations

import math
import re

from salt.metrics import AVG, AVG_TARGETS
from harness.stats.registry import CORRECTIONS

DASH = "—"
ROW_NAMES = {AVG: "average", AVG_TARGETS: "average (targets)"}
CORRECTION_NAMES = {**CORRECTIONS, "bh": "BH", "none": "unadjusted"}  # short forms for table headers
IDENTICAL = "identical by construction"


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def pct(x) -> str:
    return f"{100 * x:.1f}" if finite(x) else DASH


def signed(x) -> str:
    return f"{100 * x:+.1f}" if finite(x) else DASH


def points(x) -> str:
    """A size in points, unsigned (a minimum detectable effect)."""
    return f"{100 * x:.1f}" if finite(x) else DASH


def pvalue(p) -> str:
    if not finite(p):
        return DASH
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def eps(x) -> str:
    return f"{x:.2f}" if finite(x) else DASH


def mean_std(mean, std, n) -> str:
    if not n:
        return DASH
    return f"{pct(mean)} ± {pct(std)} ({n})" if finite(std) else f"{pct(mean)} ({n})"


def diff_ci(d, low, high) -> str:
    if not finite(d):
        return DASH
    return f"{signed(d)} [{signed(low)}, {signed(high)}]" if finite(low) and finite(high) else signed(d)


def row_name(row: str, kind: str) -> str:
    return ROW_NAMES.get(row, f"{row} (source)" if kind == "source" else row)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, header)) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- LaTeX

_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SYMBOLS = {"±": r"$\pm$", "Δ": r"$\Delta$", "†": r"$^{\dagger}$", "‡": r"$^{\ddagger}$",
            "ε_min": r"$\varepsilon_{\min}$", "ε": r"$\varepsilon$", "α": r"$\alpha$", "τ": r"$\tau$", "≻": r"$\succ$",
            "−": r"$-$", "—": "---", "<": r"$<$", "≥": r"$\geq$", "×": r"$\times$",
            "∞": r"$\infty$"}
_MINUS = re.compile(r"(?<![\w.])-(?=\d)")  # a minus sign before a number, not a hyphen in a word


def escape(text: str) -> str:
    text = "".join(_ESCAPES.get(ch, ch) for ch in str(text))
    text = text.replace(r"ε\_min", "ε_min")
    for sym, tex in _SYMBOLS.items():
        text = text.replace(sym, tex)
    return _MINUS.sub("$-$", text)


def tabular(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    # \tabularnewline, not \\: a ragged-right paragraph column redefines \\ (and needs no array package)
    out = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(header) + r" \tabularnewline", r"\midrule"]
    out += [" & ".join(r) + r" \tabularnewline" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}"]
    return out
