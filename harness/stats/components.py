"""How much of an arm's spread is the draw of its augmented sample and how much the training seed.

A random-selection arm run with k draws per seed gives a seeds x draws table of scores. A two-way random
effects model without replication (score = mean + seed + draw + residual) splits its variance by the
expected mean squares: var_seed = (MS_seed - MS_res) / draws, var_draw = (MS_draw - MS_res) / seeds, each
clipped at 0. A large draw component means selection luck, not training noise, drives the arm's spread.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Components:
    seeds: int
    draws: int
    mean: float
    sd_seed: float  # standard deviation of the seed effect
    sd_draw: float  # ... of the draw effect
    sd_residual: float
    note: str = ""


def variance_components(table: np.ndarray) -> Components:
    """`table[s, d]`: the score of seed s with draw d (complete: every seed has every draw)."""
    y = np.asarray(table, dtype=float)
    s, d = y.shape
    if s < 2 or d < 2 or not np.isfinite(y).all():
        return Components(s, d, float(np.nanmean(y)) if y.size else math.nan, math.nan, math.nan, math.nan,
                          "needs 2+ seeds and 2+ draws, each seed with every draw")
    grand = y.mean()
    ms_seed = d * ((y.mean(axis=1) - grand) ** 2).sum() / (s - 1)
    ms_draw = s * ((y.mean(axis=0) - grand) ** 2).sum() / (d - 1)
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + grand
    ms_res = (resid ** 2).sum() / ((s - 1) * (d - 1))
    return Components(s, d, float(grand), math.sqrt(max(0.0, (ms_seed - ms_res) / d)),
                      math.sqrt(max(0.0, (ms_draw - ms_res) / s)), math.sqrt(ms_res))
