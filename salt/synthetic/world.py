"""A synthetic multilingual world: one abstract grammar realised as four languages.

Real multilingual models learn cross-lingual alignment from shared structure, never from parallel
text; this world reproduces that setting at a size a 2-core machine can pretrain in minutes, with a
gold bilingual lexicon so the quality of SALT's substitutions can be measured exactly.

Every sentence is first sampled as an abstract `Clause` (word ids, no strings) and only then
realised in a language. Monolingual corpora are sampled independently per language (no parallel
text); task pairs are built by editing the abstract clause, so their labels are correct by
construction and the dev/test items are the same propositions in every language (like XNLI).
"""
from __future__ import annotations

import hashlib
import json
import random
from bisect import bisect
from dataclasses import asdict, dataclass, field, replace
from itertools import accumulate, permutations
from typing import Any, Callable, Literal

from salt.data.registry import SYNTHETIC_NLI, SYNTHETIC_PARAPHRASE
from salt.data.types import Example, TaskData, TaskSpec

# The tasks' names and labels are registry entries (salt.data.tasks); the world generates their rows.
NLI_TASK, NLI_LABELS = SYNTHETIC_NLI.name, SYNTHETIC_NLI.labels
PARAPHRASE_TASK, PARAPHRASE_LABELS = SYNTHETIC_PARAPHRASE.name, SYNTHETIC_PARAPHRASE.labels

# Abstract function words. `by` marks the passive, which the paraphrase task needs as a
# meaning-preserving reordering. English keeps readable strings for them; everything else is a
# generated pseudo-word.
FUNCTION_WORDS = ("the", "a", "not", "that", "by")
THE, A, NOT, THAT, BY = range(len(FUNCTION_WORDS))
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True)
class Style:
    """How a language realises the abstract grammar."""

    order: Literal["svo", "sov"] = "svo"
    adjectives: Literal["pre", "post"] = "pre"
    shared_content: float = 0.0  # share of content words that keep the English string


# Each target language isolates one obstacle to alignment: pure relabelling (fr), word order (de),
# lexical overlap with the source (es).
STYLES: dict[str, Style] = {
    "en": Style(),
    "fr": Style(),
    "de": Style(order="sov", adjectives="post"),
    "es": Style(shared_content=0.5),
}

# Syllable inventories (onset, nucleus, coda) that make each language's pseudo-words look distinct.
SYLLABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("b", "bl", "br", "d", "dr", "f", "fl", "g", "gr", "h", "k", "l", "m", "n", "p", "pl", "r",
         "s", "sh", "sl", "st", "t", "th", "tr", "w"),
        ("a", "e", "i", "o", "u", "ee", "oo", "ai", "ea"),
        ("", "", "n", "t", "ck", "p", "m", "sh", "ng", "ll", "st"),
    ),
    "fr": (
        ("b", "ch", "d", "f", "g", "j", "l", "m", "n", "p", "r", "s", "t", "v"),
        ("a", "e", "é", "i", "o", "ou", "eau", "oi", "u", "au", "è"),
        ("", "", "", "n", "r", "l", "x", "que", "lle", "tte"),
    ),
    "de": (
        ("b", "d", "f", "g", "h", "k", "kr", "l", "m", "n", "p", "pf", "r", "s", "sch", "st", "t",
         "w", "z"),
        ("a", "e", "i", "o", "u", "ä", "ö", "ü", "ei", "au", "ie"),
        ("", "n", "r", "t", "ch", "ck", "tz", "ng", "ss"),
    ),
    "es": (
        ("b", "c", "ch", "d", "f", "g", "j", "l", "ll", "m", "n", "ñ", "p", "r", "s", "t", "v"),
        ("a", "e", "i", "o", "u", "ia", "ue", "ío"),
        ("", "", "", "n", "s", "r", "l"),
    ),
}


# WorldConfig fields with these prefixes only shape the tasks, never the corpora or the lexicon.
TASK_FIELD_PREFIXES = ("nli_", "paraphrase_")


@dataclass(frozen=True)
class WorldConfig:
    """Everything that determines a world; equal configs give identical worlds."""

    seed: int = 0
    languages: tuple[str, ...] = ("en", "fr", "de", "es")
    source_lang: str = "en"
    # Lexicon: ~340 abstract words in total with the defaults.
    noun_classes: int = 6
    nouns_per_class: int = 30
    verbs: int = 80
    adjectives: int = 70
    numerals: int = 6
    classes_per_verb_role: tuple[int, int] = (1, 2)  # min, max noun classes per subject/object slot
    classes_per_adjective: tuple[int, int] = (1, 2)
    zipf_exponent: float = 1.0
    # Grammar: Det [Num] Adj{0-2} N [not] V Det [Num] Adj* N, optional relative clause, passive.
    adjective_count_probs: tuple[float, ...] = (0.5, 0.35, 0.15)  # P(0, 1, 2 adjectives) per NP
    p_definite: tuple[float, float] = (0.8, 0.45)  # P(the) rather than `a`, for subjects, objects
    p_numeral_definite: float = 0.3  # P(numeral | the); `a` never takes one
    p_negation: float = 0.25
    p_relative: float = 0.3
    p_relative_negation: float = 0.15
    p_passive: float = 0.15
    # Data sizes.
    corpus_sentences: int = 30_000  # per language, independent (no parallel text)
    nli_train: int = 6000
    nli_dev: int = 500
    nli_test: int = 1000
    paraphrase_train: int = 6000
    paraphrase_dev: int = 500
    paraphrase_test: int = 1000
    # Word order is what separates many pairs; the tiny model only tracks it in short sentences.
    paraphrase_max_words: int = 7

    def __post_init__(self) -> None:
        unknown = [lang for lang in self.languages if lang not in STYLES]
        if unknown:
            raise ValueError(f"no realisation style for languages {unknown}; known: {sorted(STYLES)}")
        if self.source_lang not in self.languages:
            raise ValueError(f"source_lang {self.source_lang!r} not in languages {self.languages}")
        if abs(sum(self.adjective_count_probs) - 1) > 1e-6:
            raise ValueError("adjective_count_probs must sum to 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorldConfig:
        """Inverse of `asdict` after a JSON round trip (lists back to tuples, so the config stays hashable)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def pretraining_fields(self) -> dict[str, Any]:
        """The fields the corpora and lexicon depend on: task-only fields (sizes, pair construction)
        can change without retraining the cached model."""
        return {k: v for k, v in asdict(self).items() if not k.startswith(TASK_FIELD_PREFIXES)}

    def fingerprint(self) -> str:
        """Short stable hash, used in cache keys and `TaskData.sources`."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


WORLD_PRESETS: dict[str, WorldConfig] = {
    "default": WorldConfig(),
    # Small enough that generating and pretraining it stays well under 20 s (unit tests).
    "tiny": WorldConfig(
        noun_classes=3, nouns_per_class=8, verbs=12, adjectives=10, numerals=2,
        corpus_sentences=1500, nli_train=300, nli_dev=60, nli_test=90,
        paraphrase_train=300, paraphrase_dev=60, paraphrase_test=90,
    ),
}


# --------------------------------------------------------------------------------------------
# Abstract sentences


@dataclass(frozen=True)
class NP:
    det: int
    numeral: int | None
    adjs: tuple[int, ...]
    noun: int
    rel: Rel | None = None  # subject relative clause: "N that [not] V NP"


@dataclass(frozen=True)
class Rel:
    neg: bool
    verb: int
    obj: NP


@dataclass(frozen=True)
class Clause:
    subj: NP
    neg: bool
    verb: int
    obj: NP
    passive: bool = False  # realised "O [not] V by S": same proposition, different surface


Path = tuple[str, ...]  # attribute path from a Clause to one of its NPs
NP_PATHS: tuple[Path, ...] = (("subj",), ("obj",), ("subj", "rel", "obj"), ("obj", "rel", "obj"))


def _get(node: object, path: Path) -> object | None:
    for name in path:
        node = getattr(node, name)
        if node is None:
            return None
    return node


def _set(node: object, path: Path, value: object) -> object:
    if not path:
        return value
    child = getattr(node, path[0])
    return replace(node, **{path[0]: _set(child, path[1:], value)})


def _nps(clause: Clause) -> list[tuple[Path, NP]]:
    return [(p, np) for p in NP_PATHS if (np := _get(clause, p)) is not None]


def _canonical_np(np: NP) -> NP:
    rel = np.rel and replace(np.rel, obj=_canonical_np(np.rel.obj))
    return replace(np, adjs=tuple(sorted(np.adjs)), rel=rel)


def meaning(clause: Clause) -> Clause:
    """The proposition, with the meaning-preserving surface choices (voice, adjective order) normalised."""
    return replace(clause, subj=_canonical_np(clause.subj), obj=_canonical_np(clause.obj), passive=False)


# --------------------------------------------------------------------------------------------
# Lexicon and grammar


@dataclass(frozen=True)
class Inventory:
    """The abstract words (ids) with their categories, selectional classes and Zipf weights."""

    category: tuple[str, ...]  # id -> function | numeral | noun | verb | adjective
    weight: tuple[float, ...]  # id -> Zipf weight within its category
    noun_class: dict[int, int]
    verb_frames: dict[int, tuple[frozenset[int], frozenset[int]]]  # subject classes, object classes
    adj_classes: dict[int, frozenset[int]]

    def ids(self, category: str) -> list[int]:
        return [i for i, c in enumerate(self.category) if c == category]


def _build_inventory(cfg: WorldConfig, rng: random.Random) -> Inventory:
    counts = [("function", len(FUNCTION_WORDS)), ("numeral", cfg.numerals),
              ("noun", cfg.noun_classes * cfg.nouns_per_class), ("verb", cfg.verbs),
              ("adjective", cfg.adjectives)]
    category = tuple(cat for cat, n in counts for _ in range(n))
    weight: list[float] = []
    for _, n in counts:  # rank = position within the category: ids are arbitrary anyway
        weight += [1 / (rank + 1) ** cfg.zipf_exponent for rank in range(n)]
    nouns = [i for i, c in enumerate(category) if c == "noun"]
    classes = list(range(cfg.noun_classes))
    # Interleave classes over the Zipf ranks so that every class has frequent and rare nouns.
    noun_class = {n: k % cfg.noun_classes for k, n in enumerate(nouns)}

    def class_set(k: int, bounds: tuple[int, int]) -> frozenset[int]:
        # The first class cycles so that every class is covered by some verb/adjective.
        size = rng.randint(*bounds)
        return frozenset([k % cfg.noun_classes, *rng.sample(classes, size - 1)])

    verbs = [i for i, c in enumerate(category) if c == "verb"]
    frames = {v: (class_set(k, cfg.classes_per_verb_role), class_set(k + rng.randrange(cfg.noun_classes),
                                                                     cfg.classes_per_verb_role))
              for k, v in enumerate(verbs)}
    adjs = [i for i, c in enumerate(category) if c == "adjective"]
    adj_classes = {a: class_set(k, cfg.classes_per_adjective) for k, a in enumerate(adjs)}
    return Inventory(category, tuple(weight), noun_class, frames, adj_classes)


class _Pool:
    """Zipf-weighted sampling from a fixed subset of word ids."""

    def __init__(self, ids: list[int], weight: tuple[float, ...]) -> None:
        self.ids = ids
        self.cum = list(accumulate(weight[i] for i in ids))

    def draw(self, rng: random.Random) -> int:
        return self.ids[bisect(self.cum, rng.random() * self.cum[-1])]

    def __bool__(self) -> bool:
        return bool(self.ids)


class Grammar:
    """Samples abstract clauses; holds the pools so that sampling is a few bisects per word."""

    def __init__(self, inv: Inventory, cfg: WorldConfig) -> None:
        self.inv, self.cfg = inv, cfg
        w = inv.weight
        k = range(cfg.noun_classes)
        self.verbs = _Pool(inv.ids("verb"), w)
        self.numerals = _Pool(inv.ids("numeral"), w)
        self.nouns_of = [_Pool([n for n, c in inv.noun_class.items() if c == kk], w) for kk in k]
        self.adjs_of = [_Pool([a for a, cs in inv.adj_classes.items() if kk in cs], w) for kk in k]
        self.verbs_with_subj = [_Pool([v for v, (s, _) in inv.verb_frames.items() if kk in s], w)
                                for kk in k]
        self.adj_count_cum = list(accumulate(cfg.adjective_count_probs))

    def noun(self, rng: random.Random, classes: frozenset[int]) -> int:
        return self.nouns_of[rng.choice(sorted(classes))].draw(rng)

    def np(self, rng: random.Random, classes: frozenset[int], role: Literal["subject", "object"],
           allow_rel: bool) -> NP:
        noun = self.noun(rng, classes)
        n_adj = min(bisect(self.adj_count_cum, rng.random()), len(self.adjs_of[self.inv.noun_class[noun]].ids))
        adjs: list[int] = []
        while len(adjs) < n_adj:
            a = self.adjs_of[self.inv.noun_class[noun]].draw(rng)
            if a not in adjs:
                adjs.append(a)
        # `the` and `a` must differ in distribution, or no model could tell which one `le` translates:
        # subjects are mostly definite, objects less so, and only `the` takes a numeral ("the two
        # dogs", never "a two dogs").
        det = THE if rng.random() < self.cfg.p_definite[role == "object"] else A
        numeral = (self.numerals.draw(rng)
                   if det == THE and self.numerals and rng.random() < self.cfg.p_numeral_definite else None)
        rel = self.rel(rng, noun) if allow_rel else None
        return NP(det, numeral, tuple(adjs), noun, rel)

    def rel(self, rng: random.Random, head: int) -> Rel | None:
        verbs = self.verbs_with_subj[self.inv.noun_class[head]]
        if not verbs:
            return None
        verb = verbs.draw(rng)
        obj = self.np(rng, self.inv.verb_frames[verb][1], "object", allow_rel=False)
        return Rel(rng.random() < self.cfg.p_relative_negation, verb, obj)

    def clause(self, rng: random.Random) -> Clause:
        verb = self.verbs.draw(rng)
        subj_classes, obj_classes = self.inv.verb_frames[verb]
        subj = self.np(rng, subj_classes, "subject", allow_rel=False)
        obj = self.np(rng, obj_classes, "object", allow_rel=False)
        clause = Clause(subj, rng.random() < self.cfg.p_negation, verb, obj, rng.random() < self.cfg.p_passive)
        if rng.random() < self.cfg.p_relative:
            path = rng.choice((("subj",), ("obj",)))
            head: NP = _get(clause, path)  # type: ignore[assignment]
            clause = _set(clause, path, replace(head, rel=self.rel(rng, head.noun)))  # type: ignore[assignment]
        return clause


# --------------------------------------------------------------------------------------------
# Word strings and realisation


def _pseudo_word(lang: str, syllables: int, rng: random.Random) -> str:
    onsets, nuclei, codas = SYLLABLES[lang]
    parts = [rng.choice(onsets) + rng.choice(nuclei) for _ in range(syllables)]
    return "".join(parts) + rng.choice(codas)


def _word_strings(cfg: WorldConfig, inv: Inventory, rng: random.Random) -> dict[str, tuple[str, ...]]:
    """Per language, id -> string; unique across languages except the deliberate shared content words."""
    taken = set(SPECIAL_TOKENS)
    strings: dict[str, tuple[str, ...]] = {}
    content = [i for i, c in enumerate(inv.category) if c in ("noun", "verb", "adjective")]
    ordered = [cfg.source_lang] + [lang for lang in cfg.languages if lang != cfg.source_lang]
    for lang in ordered:
        style = STYLES[lang]
        shared = set(rng.sample(content, round(style.shared_content * len(content))))
        words: list[str] = []
        for i, cat in enumerate(inv.category):
            if lang == cfg.source_lang and cat == "function":
                word = FUNCTION_WORDS[i]
            elif i in shared:
                word = strings[cfg.source_lang][i]
            else:
                n_syl = {"function": 1, "numeral": 2}.get(cat) or rng.choice((1, 2, 2))
                while (word := _pseudo_word(lang, n_syl, rng)) in taken:
                    pass
            taken.add(word)
            words.append(word)
        strings[lang] = tuple(words)
    return {lang: strings[lang] for lang in cfg.languages}


def realise(clause: Clause, style: Style) -> list[int]:
    """Word ids in surface order for a language style."""

    def np(n: NP) -> list[int]:
        adjs = list(n.adjs)
        head = [n.noun, *adjs] if style.adjectives == "post" else [*adjs, n.noun]
        out = [n.det, *([n.numeral] if n.numeral is not None else []), *head]
        if n.rel:
            neg_v = [NOT] * n.rel.neg + [n.rel.verb]
            out += [THAT, *np(n.rel.obj), *neg_v] if style.order == "sov" else [THAT, *neg_v, *np(n.rel.obj)]
        return out

    neg_v = [NOT] * clause.neg + [clause.verb]
    if clause.passive:
        first, second = np(clause.obj), [BY, *np(clause.subj)]
    else:
        first, second = np(clause.subj), np(clause.obj)
    return first + second + neg_v if style.order == "sov" else first + neg_v + second


# --------------------------------------------------------------------------------------------
# Task pair construction: edits of an abstract clause. Each returns None where it does not apply.

Edit = Callable[[Clause, random.Random], Clause | None]


def _drop_adjective(c: Clause, rng: random.Random) -> Clause | None:
    options = [(p, n) for p, n in _nps(c) if n.adjs]
    if not options:
        return None
    path, n = rng.choice(options)
    drop = rng.randrange(len(n.adjs))
    return _set(c, path, replace(n, adjs=n.adjs[:drop] + n.adjs[drop + 1:]))  # type: ignore[return-value]


def _drop_relative(c: Clause, rng: random.Random) -> Clause | None:
    options = [(p, n) for p, n in _nps(c) if n.rel]
    if not options:
        return None
    path, n = rng.choice(options)
    return _set(c, path, replace(n, rel=None))  # type: ignore[return-value]


def _toggle_negation(c: Clause, rng: random.Random) -> Clause | None:
    return replace(c, neg=not c.neg)


class _Editor:
    """Edits that need the lexicon (compatible adjectives, nouns of a class, verb frames)."""

    def __init__(self, grammar: Grammar) -> None:
        self.g = grammar

    def add_adjective(self, c: Clause, rng: random.Random) -> Clause | None:
        path, n = rng.choice(_nps(c))
        pool = self.g.adjs_of[self.g.inv.noun_class[n.noun]]
        fresh = [a for a in pool.ids if a not in n.adjs]
        if not fresh or len(n.adjs) >= 3:
            return None
        adjs = list(n.adjs)
        adjs.insert(rng.randint(0, len(adjs)), rng.choice(fresh))
        return _set(c, path, replace(n, adjs=tuple(adjs)))  # type: ignore[return-value]

    def swap_noun(self, c: Clause, rng: random.Random) -> Clause | None:
        path, n = rng.choice(_nps(c))
        others = [x for x in self.g.nouns_of[self.g.inv.noun_class[n.noun]].ids if x != n.noun]
        return _set(c, path, replace(n, noun=rng.choice(others))) if others else None  # type: ignore[return-value]

    def swap_verb(self, c: Clause, rng: random.Random) -> Clause | None:
        cls = self.g.inv.noun_class
        fits = [v for v, (s, o) in self.g.inv.verb_frames.items()
                if v != c.verb and cls[c.subj.noun] in s and cls[c.obj.noun] in o]
        return replace(c, verb=rng.choice(fits)) if fits else None

    def substitute(self, c: Clause, rng: random.Random) -> Clause | None:
        return _apply_first([self.swap_noun, self.swap_verb], c, rng)


def _swap_arguments(c: Clause, rng: random.Random) -> Clause | None:
    return replace(c, subj=c.obj, obj=c.subj)


def _permute_adjectives(c: Clause, rng: random.Random) -> Clause | None:
    options = [(p, n) for p, n in _nps(c) if len(n.adjs) >= 2]
    if not options:
        return None
    path, n = rng.choice(options)
    orders = [o for o in permutations(n.adjs) if o != n.adjs]
    return _set(c, path, replace(n, adjs=rng.choice(orders)))  # type: ignore[return-value]


def _flip_voice(c: Clause, rng: random.Random) -> Clause | None:
    return replace(c, passive=not c.passive)


def _apply_first(edits: list[Edit], c: Clause, rng: random.Random) -> Clause | None:
    """Try the edits in random order; the first that applies wins."""
    for edit in rng.sample(edits, len(edits)):
        if (out := edit(c, rng)) is not None:
            return out
    return None


def _nli_pair(g: Grammar, ed: _Editor, label: int, rng: random.Random) -> tuple[Clause, Clause]:
    edits: list[Edit] = {
        0: [_drop_adjective, _drop_relative],
        1: [ed.add_adjective, ed.swap_noun, ed.swap_verb],
        2: [_toggle_negation],
    }[label]
    while True:
        premise = g.clause(rng)
        hyp = _apply_first(edits, premise, rng)
        if hyp is not None and meaning(hyp) != meaning(premise):
            return premise, hyp


def _nli_pairs(g: Grammar, ed: _Editor, gold: list[int], rng: random.Random) -> list[tuple[Clause, Clause]]:
    return [_nli_pair(g, ed, y, rng) for y in gold]


def _swap_nouns(c: Clause, rng: random.Random) -> Clause | None:
    """Same bag of words, subject and object nouns trade places but keep their modifiers' positions."""
    return replace(c, subj=replace(c.subj, noun=c.obj.noun), obj=replace(c.obj, noun=c.subj.noun))


def _flipped(edit: Edit) -> Edit:
    def both(c: Clause, rng: random.Random) -> Clause | None:
        out = edit(c, rng)
        return None if out is None else _flip_voice(out, rng)
    return both


def _paraphrase_source(g: Grammar, ed: _Editor, rng: random.Random) -> tuple[Clause, Clause, Clause]:
    """One source clause with a paraphrase and a non-paraphrase of it (PAWS-like, high overlap).

    A paraphrase puts the sentence in the other voice and/or reorders adjectives within a noun phrase.
    A non-paraphrase either keeps the bag of words (subject and object, or just their nouns, trade
    places, possibly with a voice flip) or changes one word (a noun or verb of the same class, or
    the negation). Telling the classes apart takes word order plus the identity of `by` and `not`
    (a one-word difference is `by` in 2/3 of paraphrases, `by` in 1/5 of non-paraphrases, `not` in
    1/5): that is where cross-lingual knowledge matters. Measured on the tiny pretrained model, with
    6000 English pairs: when every pair shared one bag of words, or sentences were long, English
    accuracy stayed near chance; hence the one-word changes and `paraphrase_max_words`.

    Every source yields one pair of each class, so nothing about the source sentence predicts the
    label; edits are drawn uniformly, then a source where both apply is sampled.
    """
    keep_meaning: list[Edit] = [_flip_voice, _permute_adjectives, _flipped(_permute_adjectives)]
    change_meaning: list[Edit] = [_swap_arguments, _flipped(_swap_arguments), _swap_nouns,
                                  ed.substitute, _toggle_negation]
    keep, change = rng.choice(keep_meaning), rng.choice(change_meaning)
    while True:
        a = g.clause(rng)
        if len(realise(a, STYLES["en"])) > g.cfg.paraphrase_max_words:
            continue
        paraphrase, different = keep(a, rng), change(a, rng)
        if paraphrase is not None and different is not None and meaning(different) != meaning(a):
            return a, paraphrase, different


def _paraphrase_pairs(g: Grammar, ed: _Editor, gold: list[int],
                      rng: random.Random) -> list[tuple[Clause, Clause]]:
    sources = [_paraphrase_source(g, ed, rng) for _ in range(max(gold.count(0), gold.count(1)))]
    taken = {0: 0, 1: 0}
    pairs = []
    for y in gold:
        a, paraphrase, different = sources[taken[y]]
        taken[y] += 1
        pairs.append((a, paraphrase if y == 1 else different))
    return pairs


# --------------------------------------------------------------------------------------------
# The world


@dataclass
class World:
    """Corpora, gold lexicon and tasks of one generated world (treat as read-only)."""

    config: WorldConfig
    inventory: Inventory
    strings: dict[str, tuple[str, ...]]  # language -> word id -> string
    corpora: dict[str, list[str]]  # language -> space-separated monolingual sentences
    tasks: dict[str, TaskData] = field(repr=False)

    @property
    def languages(self) -> tuple[str, ...]:
        return self.config.languages

    @property
    def source_lang(self) -> str:
        return self.config.source_lang

    @property
    def target_langs(self) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if lang != self.source_lang)

    @property
    def lexicon(self) -> dict[str, dict[str, str]]:
        """Gold bilingual lexicon, target language -> source word -> target word (for measurement only)."""
        src = self.strings[self.source_lang]
        return {lang: dict(zip(src, self.strings[lang])) for lang in self.target_langs}

    @property
    def categories(self) -> dict[str, str]:
        """Source word -> function | numeral | noun | verb | adjective, to break measurements down."""
        return dict(zip(self.strings[self.source_lang], self.inventory.category))

    def vocabulary(self, lang: str) -> list[str]:
        return list(self.strings[lang])

    def task(self, name: str) -> TaskData:
        if name not in self.tasks:
            raise KeyError(f"unknown synthetic task {name!r}; known: {sorted(self.tasks)}")
        return self.tasks[name]

    def text(self, clause: Clause, lang: str) -> str:
        return " ".join(self.strings[lang][i] for i in realise(clause, STYLES[lang]))


PairMaker = Callable[[Grammar, _Editor, list[int], random.Random], list[tuple[Clause, Clause]]]


def _make_task(world: World, grammar: Grammar, name: str, labels: tuple[str, ...], make: PairMaker,
               sizes: dict[str, int]) -> TaskData:
    """Train in the source language only; dev/test as the same abstract pairs in every language."""
    cfg = world.config
    editor = _Editor(grammar)
    splits: dict[str, dict[str, list[Example]]] = {}
    for split, n in sizes.items():
        rng = random.Random(f"{cfg.seed}:{name}:{split}")
        gold = [i % len(labels) for i in range(n)]  # exactly balanced, in random order
        rng.shuffle(gold)
        pairs = make(grammar, editor, gold, rng)
        langs = [cfg.source_lang] if split == "train" else list(cfg.languages)
        splits[split] = {
            lang: [Example(world.text(a, lang), world.text(b, lang), y, lang, f"{lang}/{split}/{i}")
                   for i, ((a, b), y) in enumerate(zip(pairs, gold))]
            for lang in langs
        }
    spec = TaskSpec(name, labels, tuple(cfg.languages), cfg.source_lang)
    origin = f"synthetic world {cfg.fingerprint()} (seed {cfg.seed})"
    sources = {split: {lang: origin for lang in by_lang} for split, by_lang in splits.items()}
    return TaskData(spec, splits, sources=sources)


def generate_world(cfg: WorldConfig) -> World:
    """Pure function of the config. Each component has its own RNG stream, so resizing one part
    (e.g. the corpora) leaves the others (lexicon, tasks) unchanged."""
    inv = _build_inventory(cfg, random.Random(f"{cfg.seed}:lexicon"))
    strings = _word_strings(cfg, inv, random.Random(f"{cfg.seed}:strings"))
    grammar = Grammar(inv, cfg)
    world = World(cfg, inv, strings, corpora={}, tasks={})
    for lang in cfg.languages:
        rng = random.Random(f"{cfg.seed}:corpus:{lang}")
        world.corpora[lang] = [world.text(grammar.clause(rng), lang) for _ in range(cfg.corpus_sentences)]
    world.tasks[NLI_TASK] = _make_task(world, grammar, NLI_TASK, NLI_LABELS, _nli_pairs,
                                       {"train": cfg.nli_train, "dev": cfg.nli_dev, "test": cfg.nli_test})
    world.tasks[PARAPHRASE_TASK] = _make_task(
        world, grammar, PARAPHRASE_TASK, PARAPHRASE_LABELS, _paraphrase_pairs,
        {"train": cfg.paraphrase_train, "dev": cfg.paraphrase_dev, "test": cfg.paraphrase_test})
    return world
