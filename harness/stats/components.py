"""How much of an arm's spread is the training seed (initialisation), the data order and the draw of its
augmented sample.

A study that crosses data orders (`data_seeds: k`) or augmentation draws (`draws: k`) with its seeds gives a
complete table of scores, one axis per factor (seed x data x draw, or any two). A crossed random-effects model
without replication and without interactions (score = mean + seed + data + draw + residual) splits the
variance by the expected mean squares of a balanced design: for a factor with L levels and P = the product of
the other factors' levels, MS_f = P * sum_l (mean_l - grand)^2 / (L - 1) and var_f = (MS_f - MS_res) / P,
clipped at 0, with MS_res the mean square of what the main effects leave (df = prod L - sum (L - 1) - 1).
Dodge et al. (2020) found initialisation and data order contribute comparably to fine-tuning variance; a
large draw component means selection luck, not training noise, drives an arm's spread.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Components:
    levels: tuple[int, ...]  # per factor
    mean: float
    sd: tuple[tuple[str, float], ...]  # (factor, SD of its effect), in table order
    sd_residual: float
    note: str = ""

    def of(self, factor: str) -> float:
        return dict(self.sd).get(factor, math.nan)

    # the two-factor names a seed x draw table used before data orders had a seed of their own
    @property
    def seeds(self) -> int:
        return self.levels[0]

    @property
    def draws(self) -> int:
        return self.levels[-1]

    @property
    def sd_seed(self) -> float:
        return self.sd[0][1]

    @property
    def sd_draw(self) -> float:
        return self.sd[-1][1]


def variance_components(table: np.ndarray, factors: tuple[str, ...] = ("seed", "draw")) -> Components:
    """`table[i, j, ...]`: the score at level i of the first factor, j of the second, ... (complete)."""
    y = np.asarray(table, dtype=float)
    levels = tuple(int(n) for n in y.shape)
    if len(factors) != y.ndim:
        raise ValueError(f"{y.ndim}-way table but {len(factors)} factor names: {', '.join(factors)}")
    nan = tuple((f, math.nan) for f in factors)
    if min(levels) < 2 or not np.isfinite(y).all():
        return Components(levels, float(np.nanmean(y)) if y.size else math.nan, nan, math.nan,
                          "needs 2+ levels of every factor, each combination present")
    grand = y.mean()
    resid = y - grand
    ms = {}
    for axis, f in enumerate(factors):
        others = tuple(a for a in range(y.ndim) if a != axis)
        means = y.mean(axis=others)
        p = y.size // levels[axis]
        ms[f] = p * float(((means - grand) ** 2).sum()) / (levels[axis] - 1)
        shape = [1] * y.ndim
        shape[axis] = levels[axis]
        resid = resid - (means - grand).reshape(shape)
    df_res = y.size - sum(n - 1 for n in levels) - 1
    ms_res = float((resid ** 2).sum()) / df_res
    sd = tuple((f, math.sqrt(max(0.0, (ms[f] - ms_res) / (y.size // levels[a])))) for a, f in enumerate(factors))
    return Components(levels, float(grand), sd, math.sqrt(ms_res))
