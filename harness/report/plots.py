"""Figures: accuracy against samples per language, and a forest plot of the gain per language.

Drawn on matplotlib's Agg canvas (`FigureCanvasAgg`) through the object API, so no display and no global
pyplot state is touched; every figure is written as PNG and PDF.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.report.answer_text import family_of, pair_name
from harness.report.families import family_brief
from harness.report.format import CORRECTION_NAMES, finite, row_name
from salt.arms import ARMS
from salt.metrics import AVG_TARGETS

FALLBACK = ["#8e6c8a", "#00798c", "#30638e", "#a23b72"]  # arms no longer registered


def _save(fig: Figure, out: Path, stem: str) -> list[Path]:
    FigureCanvasAgg(fig)
    paths = []
    for ext in ("png", "pdf"):
        path = out / f"{stem}.{ext}"
        fig.savefig(path, dpi=150, bbox_inches="tight")
        paths.append(path)
    return paths


def _color(arm: str, i: int) -> str:
    return ARMS[arm].color if arm in ARMS else FALLBACK[i % len(FALLBACK)]


def _draw_curves(ax, curves: pd.DataFrame, row: str) -> None:
    sub = curves[curves["row"] == row]
    reference = sub["samples"] == ""  # arms that do not depend on the count: a band per setting
    styles = ("--", ":", "-.")
    for i, b in enumerate(sub[reference].itertuples()):
        color = _color(b.arm, i)
        name = b.arm if b.series == "-" else f"{b.arm} [{b.series}]"
        ax.axhline(100 * b.mean, color=color, lw=1.2, ls=styles[i % len(styles)], label=f"{name} (n={b.n})")
        if finite(b.low) and finite(b.high):
            ax.axhspan(100 * b.low, 100 * b.high, color=color, alpha=0.12, lw=0, label=f"{name} 95% CI")
    lines = sub[~reference]
    for i, ((arm, series), pts) in enumerate(lines.groupby(["arm", "series"], sort=False)):
        pts = pts.sort_values("x")
        xs = [_position(n, x, curves) for n, x in zip(pts["n_eff"], pts["x"])]
        color = _color(arm, i)
        label = arm if series == "-" else f"{arm} [{series}]"
        ax.plot(xs, 100 * pts["mean"], marker="o", ms=4, color=color, label=label)
        ok = pts["low"].map(finite) & pts["high"].map(finite)
        if ok.any():
            ax.fill_between([x for x, k in zip(xs, ok) if k], 100 * pts.loc[ok, "low"], 100 * pts.loc[ok, "high"],
                            color=color, alpha=0.18, lw=0, label=f"{label} 95% CI")
    ax.set_xscale("symlog", linthresh=10)  # sample counts span orders of magnitude, and may be 0
    ax.set_title(row_name(row, "target"))
    ax.grid(alpha=0.3)


def _position(n_eff: float, nominal: float, curves: pd.DataFrame) -> float:
    """Where a point goes: the examples really selected; without that record, its nominal N (`all`: past the
    largest nominal N)."""
    if finite(n_eff):
        return n_eff
    if finite(nominal):
        return nominal
    known = [x for x in curves["x"] if finite(x)]
    return 2 * max(known) if known else 1.0


def plot_samples(curves: pd.DataFrame, out: Path, split: str, source: str | None = None) -> list[Path]:
    """One panel per language and average (samples_all.*), and the target average alone (samples_avg_targets.*)."""
    if curves is None or curves.empty:
        return []
    rows = list(dict.fromkeys(curves["row"]))
    cols = min(3, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax, row in zip(axes, rows):
        _draw_curves(ax, curves, row)
        if row == source:
            ax.set_title(row_name(row, "source"))
    for ax in axes[len(rows):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="best")
    fig.supxlabel("augmented examples per target language (selected, mean over seeds; log scale)")
    fig.supylabel(f"{split} accuracy (%)")
    paths = _save(fig, out, "samples_all")
    if AVG_TARGETS in rows:
        fig = Figure(figsize=(5, 3.6), layout="constrained")
        ax = fig.subplots()
        _draw_curves(ax, curves, AVG_TARGETS)
        ax.set_xlabel("augmented examples per target language (selected; log scale)")
        ax.set_ylabel(f"{split} accuracy (%), target average")
        ax.legend(fontsize=8, loc="best")
        paths += _save(fig, out, "samples_avg_targets")
    return paths


def plot_differences(answer, out: Path, split: str) -> list[Path]:
    """Strategy minus each control at every N (target average), with its interval; filled markers where the
    strategy is significantly ahead after its pair's correction (the family and m in each legend entry);
    identical-by-construction points are not drawn (curve_differences.png)."""
    if answer is None or answer.differences.empty:
        return []
    d = answer.differences[(answer.differences["row"] == AVG_TARGETS) & ~answer.differences["identical"]]
    if d.empty:
        return []
    fig = Figure(figsize=(5.6, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.axhline(0, color="black", lw=0.8)
    for i, ((strategy, control, series), pts) in enumerate(d.groupby(["strategy", "control", "series"], sort=False)):
        pts = pts.sort_values("n_eff")
        color = _color(control, i)
        name = pair_name(strategy, control, series)
        family = family_of(answer, strategy, control, series)
        xs = pts["n_eff"].to_numpy()
        ax.plot(xs, 100 * pts["estimate"], color=color, lw=1.2, label=f"{name}: {family}")
        ok = pts["low"].map(finite) & pts["high"].map(finite)
        if ok.any():
            ax.fill_between(xs[ok.to_numpy()], 100 * pts.loc[ok, "low"], 100 * pts.loc[ok, "high"], color=color,
                            alpha=0.15, lw=0, label=f"{name}: {answer.interval} 95% interval")
        sig = pts["ahead"].to_numpy(bool)
        ax.scatter(xs[sig], 100 * pts["estimate"].to_numpy()[sig], color=color, s=22, zorder=3)
        ax.scatter(xs[~sig], 100 * pts["estimate"].to_numpy()[~sig], facecolors="white", edgecolors=color, s=22,
                   zorder=3)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("augmented examples per target language (selected; log scale)")
    ax.set_ylabel(f"difference in {split} accuracy (points)")
    ax.set_title(f"filled: significantly ahead ({answer.test}, {CORRECTION_NAMES[answer.correction]}-adjusted "
                 f"p < {answer.alpha:g} within each pair's family)", fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")
    return _save(fig, out, "curve_differences")


def plot_forest(tables, out: Path) -> list[Path]:
    """Per pair of arms, the gain (points, with its CI) per language; one marker per setting."""
    groups: dict[tuple[str, str], list] = {}
    for t in tables:
        groups.setdefault((t.comparison.a, t.comparison.b), []).append(t)
    paths = []
    for (a, b), group in groups.items():
        rows = list(dict.fromkeys(r for t in group for r in t.rows["row"]))
        if not any(t.rows["diff"].map(finite).any() for t in group):
            continue
        fig = Figure(figsize=(6, 0.45 * len(rows) + 1.4), layout="constrained")
        ax = fig.subplots()
        k = len(group)
        for i, t in enumerate(group):
            offset = ((k - 1) / 2 - i) * 0.7 / max(k, 1)  # first setting on top
            frame = t.rows.set_index("row")
            ys, xs, lo, hi = [], [], [], []
            for y, row in enumerate(rows):
                if row in frame.index and finite(frame.at[row, "diff"]):
                    r = frame.loc[row]
                    ys.append(len(rows) - 1 - y + offset)
                    xs.append(100 * r["diff"])
                    lo.append(100 * (r["diff"] - r["diff_low"]) if finite(r["diff_low"]) else 0.0)
                    hi.append(100 * (r["diff_high"] - r["diff"]) if finite(r["diff_high"]) else 0.0)
            setting = t.comparison.setting_a
            ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", ms=4, capsize=2, color=FALLBACK[i % len(FALLBACK)]
                        if k > 1 else _color(a, 0), label=None if setting == "-" else setting)
        ax.axvline(0, color="black", lw=0.8)
        kinds = {r: kk for t in group for r, kk in zip(t.rows["row"], t.rows["kind"])}
        ax.set_yticks(range(len(rows)), [row_name(r, kinds[r]) for r in reversed(rows)])
        ax.set_xlabel(f"gain of {a} over {b} (accuracy points, {group[0].options.confidence:.0%} "
                      f"{group[0].options.entry.interval_name} interval)")
        ax.set_title(_wrap("; ".join(dict.fromkeys(family_brief(t) for t in group)), 95), fontsize=6)
        ax.grid(axis="x", alpha=0.3)
        if k > 1:
            fig.legend(fontsize=7, loc="outside lower center", ncols=min(k, 3))
        paths += _save(fig, out, f"forest_{_slug(a)}_vs_{_slug(b)}")
    return paths


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
