"""Turn proposals into code-switched copies of the source examples, and the random-substitution control."""
from __future__ import annotations

import gc
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from salt.config import AugmentConfig
from salt.encode import Encoded
from salt.vocab import LanguageVocab, TokenTable

from salt.augment.budget import taken
from salt.augment.propose import Proposals


@dataclass
class Augmented:
    """One code-switched example, aligned position by position with its source."""

    uid: str
    source_index: int  # row in the source Encoded
    lang: str
    label: int
    aug_ids: np.ndarray  # same length as the source input_ids
    positions: np.ndarray  # substituted positions
    probs: np.ndarray  # proposal probability of each substitute (target or synonym)
    synonym: np.ndarray  # bool per substituted position: a source-language synonym, not a target word

    @property
    def confidence(self) -> float:
        return float(self.probs.mean()) if len(self.probs) else 0.0


def _cap(n_eligible: int, max_ratio: float) -> int:
    return max(1, int(n_eligible * max_ratio)) if n_eligible and max_ratio > 0 else 0


BLOCK = 65_536  # copies built at a time when a columnar sequence is read whole


def copy_uid(source_uid: str, lang: str, copy: int) -> str:
    """A code-switched copy's uid: its source example's, the language and the copy number."""
    return f"{source_uid}|{lang}|{copy}"


class _Columnar(Sequence):
    """A sequence of copies read through `take(indices)`: an `Augmented` is built only when read, a block at a time
    when the whole is read."""

    def take(self, which) -> list[Augmented]:
        raise NotImplementedError

    def __getitem__(self, j):
        if isinstance(j, slice):
            return self.take(range(*j.indices(len(self))))
        if not -len(self) <= j < len(self):
            raise IndexError(j)
        return self.take([j % len(self)])[0]

    def __iter__(self):
        """Block by block: reading N = all once holds one block of objects, not millions."""
        for start in range(0, len(self), BLOCK):
            yield from self.take(range(start, min(start + BLOCK, len(self))))


class Pool(_Columnar):
    """A language's code-switched copies, columnar (a pool: in source order then copy order; a selection from it: in
    the selection's order): an `Augmented` is built only when read, so a pool of XNLI's size is a few arrays rather
    than millions of objects."""

    def __init__(self, src: Encoded, lang: str, source: np.ndarray, copy: np.ndarray, starts: np.ndarray,
                 positions: np.ndarray, ids: np.ndarray, probs: np.ndarray, synonym: np.ndarray):
        self.src, self.lang = src, lang
        self.source, self.copy = source, copy  # int64[m]: each copy's source example and copy number
        self.starts = starts  # int64[m + 1]: copy j's substitutions are starts[j]:starts[j + 1]
        self.positions, self.ids, self.probs, self.synonym = positions, ids, probs, synonym  # per substitution

    def __len__(self) -> int:
        return len(self.source)

    def subset(self, which) -> Pool:
        """The copies at indices `which`, in that order, as a Pool: what `select` returns, so N = all on XNLI
        (5.5M copies) stays a few arrays instead of millions of objects until a batch reads them."""
        which = np.asarray(which, np.int64).reshape(-1)
        lo, counts = self.starts[which], self.starts[which + 1] - self.starts[which]
        starts = np.zeros(len(which) + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
        gather = np.arange(int(starts[-1])) + np.repeat(lo - starts[:-1], counts)
        return Pool(self.src, self.lang, self.source[which], self.copy[which], starts, self.positions[gather],
                    self.ids[gather], self.probs[gather], self.synonym[gather])

    def take(self, which) -> list[Augmented]:
        """The copies at indices `which`, built at once: their arrays are views into a few flat ones."""
        part = self.subset(which)
        tokens, tok_ends = part.switched()
        positions, probs, synonym, source = part.positions, part.probs, part.synonym, part.source
        uids, lang = self.src.uids, self.lang
        out, a, t = [], 0, 0
        with _collector_paused():
            for i, c, label, b, u in zip(source.tolist(), part.copy.tolist(), self.src.labels[source].tolist(),
                                         part.starts[1:].tolist(), tok_ends.tolist()):
                out.append(Augmented(copy_uid(uids[i], lang, c), i, lang, label, tokens[t:u], positions[a:b],
                                     probs[a:b], synonym[a:b]))
                a, t = b, u
        return out

    def switched(self) -> tuple[np.ndarray, np.ndarray]:
        """Every copy's code-switched ids end to end, and where each ends (copy j: `tokens[ends[j - 1]:ends[j]]`)."""
        rows = [self.src.input_ids[i] for i in self.source.tolist()]
        lengths = np.array([len(r) for r in rows], np.int64)
        ends = np.cumsum(lengths)
        tokens = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        tokens[np.repeat(ends - lengths, np.diff(self.starts)) + self.positions] = self.ids
        return tokens, ends

    def uid(self, j: int) -> str:
        return copy_uid(self.src.uids[int(self.source[j])], self.lang, int(self.copy[j]))

    def confidence(self) -> np.ndarray:
        """`Augmented.confidence` of every copy, bit for bit: float32 means, grouped by length so numpy sums each
        row as `ndarray.mean` does (its pairwise summation differs from `np.add.reduceat`'s)."""
        counts = np.diff(self.starts)
        out = np.zeros(len(self))
        for n in np.unique(counts[counts > 0]):
            which = np.flatnonzero(counts == n)
            out[which] = self.probs[self.starts[which][:, None] + np.arange(n)].mean(axis=1)
        return out

    @classmethod
    def build(cls, src: Encoded, lang: str, entries: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray,
                                                                    np.ndarray]]) -> "Pool":
        """From (source, copy, positions, ids, probs, synonym) tuples."""
        counts = [len(e[2]) for e in entries]
        starts = np.zeros(len(entries) + 1, np.int64)
        np.cumsum(counts, out=starts[1:])

        def cat(k, dtype):
            return np.concatenate([e[k] for e in entries]).astype(dtype) if entries else np.zeros(0, dtype)
        return cls(src, lang, np.array([e[0] for e in entries], np.int64), np.array([e[1] for e in entries], np.int64),
                   starts, cat(2, np.int64), cat(3, np.int64), cat(4, np.float32), cat(5, bool))


class Chain(_Columnar):
    """Several languages' selections as one sequence (what training reads): a batch builds only its own copies."""

    def __init__(self, parts: Sequence[Sequence[Augmented]]):
        self.parts = list(parts)
        self.ends = np.cumsum([len(p) for p in self.parts], dtype=np.int64)
        self.starts = self.ends - np.array([len(p) for p in self.parts], np.int64)

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def take(self, which) -> list[Augmented]:
        which = np.asarray(which, np.int64).reshape(-1)
        part = np.searchsorted(self.ends, which, side="right")
        local = which - self.starts[part] if len(which) else which
        out: list = [None] * len(which)
        for k in np.unique(part).tolist():
            at = np.flatnonzero(part == k)
            for slot, a in zip(at.tolist(), take(self.parts[k], local[at])):
                out[slot] = a
        return out

    def source_index(self) -> np.ndarray:
        parts = [source_index(p) for p in self.parts]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def take(examples: Sequence[Augmented], which) -> list[Augmented]:
    """The examples at indices `which` of a Pool, a Chain or a list."""
    if isinstance(examples, _Columnar):
        return examples.take(which)
    return [examples[int(j)] for j in np.asarray(which, np.int64).reshape(-1)]


def source_index(examples: Sequence[Augmented]) -> np.ndarray:
    """Each example's source row, read from the columns where there are columns."""
    if isinstance(examples, Pool):
        return examples.source
    if isinstance(examples, Chain):
        return examples.source_index()
    return np.array([a.source_index for a in examples], np.int64)


@contextmanager
def _collector_paused():
    """Millions of new acyclic objects: the cyclic garbage collector would otherwise rescan them (and all else alive)
    over and over while they are made (measured: 7 us per Augmented with it, 1 us without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def most_candidates(cfg: AugmentConfig, n_sources: int) -> int:
    """The largest pool `code_switch` can make from `n_sources` source examples: one candidate per example and
    copy (copies without a substitution and duplicates are dropped), what a cost bounds a count of `all` by."""
    return cfg.copies * n_sources


def code_switch(src: Encoded, props: Proposals, lang: str, source_lang: str, cfg: AugmentConfig,
                rng: np.random.Generator) -> Pool:
    """Copy 0 takes the most confident top-1 substitutes; later copies sample positions and substitutes.

    Only proposals at or above the threshold are used; at most `max_ratio` of the eligible tokens
    switch. Synonyms (source-language proposals other than the token itself, above their own
    threshold) may fill the remaining budget. Identical copies and copies with no substitution are dropped.
    One copy without synonyms (the default) is computed over the flat arrays at once; otherwise example by
    example, drawing from `rng` in the same order as ever.
    """
    threshold = effective_threshold(props, lang, cfg)
    if cfg.copies == 1 and not cfg.synonyms:
        return _top1_copies(src, props, lang, cfg, threshold)
    entries = []
    for i, ids in enumerate(src.input_ids):
        rows = props.rows(i)
        pos, t_ids, t_probs = props.positions[rows].astype(np.int64), props.ids[lang][rows], \
            substitute_probs(props, lang, cfg, rows)
        cap = _cap(len(pos), cfg.max_ratio)
        if not cap:
            continue
        seen: set[bytes] = set()
        for copy in range(cfg.copies):
            chosen = _choose(t_ids, t_probs, threshold, cap, copy, rng)
            syn = {}
            if cfg.synonyms and source_lang in props.ids:
                syn = _synonyms(ids, pos, props.ids[source_lang][rows], props.probs[source_lang][rows],
                                cfg.synonym_threshold, cap - len(chosen), set(chosen), copy, rng)
            if not chosen and not syn:
                continue
            picked = sorted(chosen | syn.keys())
            aug = ids.copy()
            picks = {**chosen, **syn}
            aug[pos[picked]] = [picks[r][0] for r in picked]
            key = aug.tobytes()
            if key in seen:
                continue
            seen.add(key)
            entries.append((i, copy, pos[picked], np.array([picks[r][0] for r in picked], np.int64),
                            np.array([picks[r][1] for r in picked], np.float32), np.array([r in syn for r in picked])))
    return Pool.build(src, lang, entries)


def _top1_copies(src: Encoded, props: Proposals, lang: str, cfg: AugmentConfig, threshold: float) -> Pool:
    """Copy 0 of every example at once: per example, the rows whose top-1 clears the threshold, most probable
    first (ties in row order, as a stable sort), at most the example's cap, then back in position order."""
    eligible = props.eligible()
    caps = np.where((eligible > 0) & (cfg.max_ratio > 0),
                    np.maximum(1, (eligible * cfg.max_ratio).astype(np.int64)), 0)
    top1 = np.asarray(substitute_probs(props, lang, cfg, column=0), np.float32)
    ok = np.flatnonzero(top1 >= threshold) if props.probs[lang].shape[1] else np.zeros(0, np.int64)
    example = props.example_of_row[ok]
    # one stable sort by (example, descending probability): a float32 >= 0 orders as its bits
    key = (example << 32) | (np.uint32(0xFFFFFFFF) - top1[ok].view(np.uint32)).astype(np.int64)
    order = np.argsort(key, kind="stable")
    ex = example[order]
    first = _group_starts(ex)
    rank = np.arange(len(ex)) - np.repeat(first, np.diff(np.append(first, len(ex))))
    taken = np.zeros(len(ok), bool)
    taken[order[rank < caps[ex]]] = True
    keep = ok[taken]  # in row order: by example, then position
    kept_example = props.example_of_row[keep]
    first = _group_starts(kept_example)
    return Pool(src, lang, kept_example[first], np.zeros(len(first), np.int64), np.append(first, len(keep)),
                props.positions[keep].astype(np.int64), props.ids[lang][keep, 0].astype(np.int64), top1[keep],
                np.zeros(len(keep), bool))


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins."""
    new = np.ones(len(sorted_keys), bool)
    new[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return np.flatnonzero(new)


def substitute_probs(props: Proposals, lang: str, cfg: AugmentConfig, rows: slice = slice(None),
                     column: int | None = None) -> np.ndarray:
    """Proposal probabilities as the threshold reads them (restricted, or under the full softmax), of `rows`
    and one `column` (rank) or all."""
    probs = props.probs[lang][rows] if column is None else props.probs[lang][rows, column]
    if cfg.threshold_on == "full":
        mass = props.mass[lang][rows]
        return probs * (mass if column is not None else mass[:, None])
    return probs


def effective_threshold(props: Proposals, lang: str, cfg: AugmentConfig) -> float:
    """`threshold` itself, or (quantile) that quantile of the language's top-1 restricted probabilities."""
    if cfg.threshold_on != "quantile":
        return cfg.threshold
    probs = props.probs[lang]
    return float(np.quantile(probs[:, 0], cfg.threshold)) if probs.shape[0] and probs.shape[1] else 1.0


def _choose(ids: np.ndarray, probs: np.ndarray, threshold: float, cap: int, copy: int,
            rng: np.random.Generator) -> dict[int, tuple[int, float]]:
    """row -> (substitute id, its probability)."""
    ok = probs[:, 0] >= threshold if probs.size else np.zeros(0, bool)
    rows = np.flatnonzero(ok)
    if copy == 0:
        rows = rows[np.argsort(-probs[rows, 0], kind="stable")][:cap]
        return {int(r): (int(ids[r, 0]), float(probs[r, 0])) for r in rows}
    rows = rng.permutation(rows)[:cap]
    picks = {}
    for r in rows:
        good = np.flatnonzero(probs[r] >= threshold)
        j = rng.choice(good, p=probs[r, good] / probs[r, good].sum())
        picks[int(r)] = (int(ids[r, j]), float(probs[r, j]))
    return picks


def _synonyms(ids, pos, s_ids, s_probs, threshold, budget, taken, copy, rng) -> dict[int, tuple[int, float]]:
    if budget <= 0:
        return {}
    picks = {}
    for r in range(len(pos)):
        if r in taken:
            continue
        good = [j for j in range(s_ids.shape[1]) if s_probs[r, j] >= threshold and s_ids[r, j] != ids[pos[r]]]
        if good:
            j = good[0] if copy == 0 else rng.choice(good)
            picks[r] = (int(s_ids[r, j]), float(s_probs[r, j]))
    keys = sorted(picks, key=lambda r: -picks[r][1]) if copy == 0 else list(rng.permutation(list(picks)))
    return {int(r): picks[r] for r in keys[:budget]}


def random_substitution(examples: list[Augmented], src: Encoded, vocabs: dict[str, LanguageVocab],
                        source_lang: str, table: TokenTable, rng: np.random.Generator,
                        by_frequency: bool = False) -> list[Augmented]:
    """The control: the very same positions, filled with random tokens of the same language and kind, drawn
    uniformly or (`by_frequency`) as often as they occur in the language's text, as real substitutes would."""
    out = []
    for ex in examples:
        orig = src.input_ids[ex.source_index]
        aug = orig.copy()
        for p, is_syn in zip(ex.positions, ex.synonym):
            vocab = vocabs[source_lang if is_syn else ex.lang]
            start = bool(table.word_start[orig[p]])
            cand, weight = vocab.candidates(start), vocab.frequencies(start)
            other = cand != orig[p]
            cand, weight = cand[other], weight[other]
            if len(cand):
                aug[p] = rng.choice(cand, p=weight / weight.sum()) if by_frequency else rng.choice(cand)
        out.append(Augmented(ex.uid, ex.source_index, ex.lang, ex.label, aug, ex.positions,
                             np.zeros(len(ex.positions), np.float32), ex.synonym))
    return out


def select(examples: Sequence[Augmented], n: int | None, how: str, rng: np.random.Generator) -> Sequence[Augmented]:
    """N per language: the most confident (ties by uid), or uniformly at random (the random-sampling control). From
    a Pool, a Pool (columnar, in the selection's order)."""
    n = taken(n, len(examples))
    pick = examples.subset if isinstance(examples, Pool) else lambda order: [examples[j] for j in order]
    if n == len(examples):
        return examples if isinstance(examples, Pool) else list(examples)
    if how == "confidence":
        if isinstance(examples, Pool):
            conf, uid = examples.confidence(), examples.uid
        else:
            conf, uid = np.array([e.confidence for e in examples]), lambda j: examples[j].uid
        return pick(_most_confident(conf, uid, n))
    if how == "random":
        return pick(sorted(rng.choice(len(examples), size=n, replace=False)))
    raise ValueError(f"selection must be 'confidence' or 'random', got {how!r}")


def _most_confident(conf: np.ndarray, uid, n: int) -> list[int]:
    """The first n of the order (-confidence, uid): a stable sort, then uid order within the ties it reaches."""
    order = np.argsort(-conf, kind="stable")
    sorted_conf = conf[order]
    bounds = np.flatnonzero(np.diff(sorted_conf)) + 1
    starts, ends = np.append(0, bounds), np.append(bounds, len(order))
    for g in np.flatnonzero((ends - starts > 1) & (starts < n)):
        order[starts[g]:ends[g]] = sorted(order[starts[g]:ends[g]], key=uid)
    return [int(j) for j in order[:n]]
