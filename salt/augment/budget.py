"""How many augmented examples each target language gets: a count each, a mapping, or a shared total.

A shared total follows each language's pool (its code-switched candidates) by a rule: uniform, proportional,
or proportional to pool**alpha (the temperature rule of mBERT's language sampling). A language whose share
exceeds its pool gets its pool and the rest goes to the others, so the total is met whenever the pools allow.
"""
from __future__ import annotations

import numpy as np

from salt.config import AugmentConfig, ConfigError, PerLanguage


def requested(cfg: AugmentConfig, pools: dict[str, int]) -> tuple[dict[str, int | None], dict[str, int | None]]:
    """(counts to select, counts asked for) per language; None = all of the pool.

    They differ only under a total budget, where a language asked for its fair share may be given less
    (a small pool) and the others more: the asked-for share is what a shortfall is measured against.
    """
    n = cfg.samples_per_lang
    if cfg.budget.total is not None:
        weights = shares_weights(pools, cfg.budget.rule, cfg.budget.alpha)
        fair = _integers(cfg.budget.total * weights / weights.sum() if weights.sum() else weights * 0,
                         cfg.budget.total if weights.sum() else 0)
        given = allocate(cfg.budget.total, pools, cfg.budget.rule, cfg.budget.alpha)
        return given, dict(zip(pools, map(int, fair)))
    if isinstance(n, PerLanguage):
        check_languages(cfg, list(pools))
        counts = n.as_dict()
        return {l: counts[l] for l in pools}, {l: counts[l] for l in pools}
    return {l: n for l in pools}, {l: n for l in pools}


def taken(n: int | None, pool: int) -> int:
    """How many of a pool of `pool` candidates a count of `n` selects (None: all of them)."""
    return pool if n is None else min(n, pool)


def check_languages(cfg: AugmentConfig, targets: list[str]) -> None:
    """A per-language mapping names every target language and no other (checked before any work)."""
    if not isinstance(cfg.samples_per_lang, PerLanguage):
        return
    counts = cfg.samples_per_lang.as_dict()
    if sorted(counts) != sorted(targets):
        raise ConfigError("augment.samples_per_lang", f"names {', '.join(counts)} but the target languages are "
                          f"{', '.join(targets)}: give a count for every target language and no other")


def shares_weights(pools: dict[str, int], rule: str, alpha: float) -> np.ndarray:
    size = np.array([pools[l] for l in pools], dtype=float)
    if rule == "uniform":
        return (size > 0).astype(float)
    if rule == "proportional":
        return size
    if rule == "temperature":
        return np.where(size > 0, size ** alpha, 0.0)
    raise ValueError(f"augment.budget.rule must be uniform, proportional or temperature, got {rule!r}")


def allocate(total: int, pools: dict[str, int], rule: str, alpha: float) -> dict[str, int]:
    """`total` shared by the rule, no language above its pool (water-filling), integers summing to
    min(total, sum of pools)."""
    langs = list(pools)
    cap = np.array([pools[l] for l in langs], dtype=float)
    weight = shares_weights(pools, rule, alpha)
    share = np.zeros(len(langs))
    fixed = weight <= 0
    remaining = float(min(total, cap.sum()))
    while remaining > 1e-9 and not fixed.all():
        w = np.where(fixed, 0.0, weight)
        trial = remaining * w / w.sum()
        over = ~fixed & (share + trial >= cap)
        if not over.any():
            share += trial
            break
        remaining -= float((cap[over] - share[over]).sum())
        share[over] = cap[over]
        fixed |= over
    return dict(zip(langs, map(int, _integers(share, int(min(total, cap.sum()))))))


def _integers(share: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder rounding: integers that sum to `total`, each the floor or ceiling of its share."""
    base = np.floor(share + 1e-9).astype(int)
    order = np.argsort(-(share - base), kind="stable")
    base[order[:max(0, total - int(base.sum()))]] += 1
    return base
