"""The columnar proposals, their memory-mapped cache and the vectorised switching reproduce the augmentation of
before issue 15 (tests/augment_reference.py) exactly: same examples, bit for bit, and the same statistics."""
import numpy as np
import pandas as pd
import pytest

import augment_reference as ref
from salt.augment import augment
from salt.augment.switch import Augmented, select
from salt.config import AugmentConfig, VocabConfig
from salt.encode import encode
from salt.models import load_mlm, load_tokenizer
from salt.vocab import language_vocabularies


@pytest.fixture(scope="module")
def world(tiny_world):
    world, model_dir = tiny_world
    tok = load_tokenizer(model_dir)
    src = encode(tok, world.task("synthetic-nli").get("train", "en")[:80], 64)
    vocabs = language_vocabularies(tok, world.corpora, "en", ["fr", "de"], VocabConfig(), "word")
    en = language_vocabularies(tok, world.corpora, "en", ["en"], VocabConfig(shared="keep"), "word")
    return world, model_dir, tok, src, vocabs, en


def same_examples(a: list[Augmented], b: list[Augmented]):
    assert [x.uid for x in a] == [x.uid for x in b]
    for x, y in zip(a, b):
        assert (x.source_index, x.lang, x.label) == (y.source_index, y.lang, y.label)
        for field in ("aug_ids", "positions", "probs", "synonym"):
            u, v = getattr(x, field), getattr(y, field)
            assert u.dtype == v.dtype and np.array_equal(u, v), field


CONFIGS = [
    {},
    {"threshold": 0.05, "max_ratio": 0.4},
    {"threshold": 0.0, "samples_per_lang": 10},
    {"threshold": 0.0, "samples_per_lang": 10, "selection": "random"},
    {"threshold": 0.3, "threshold_on": "full", "samples_per_lang": 25},
    {"threshold": 0.6, "threshold_on": "quantile", "max_ratio": 1.0},
    {"threshold": 0.0, "copies": 3, "samples_per_lang": 30},
    {"threshold": 0.1, "copies": 2, "selection": "random", "samples_per_lang": 20, "draw_seed": 7},
    {"threshold": 0.99, "synonyms": True, "synonym_threshold": 0.0, "max_ratio": 1.0},
    {"threshold": 0.2, "synonyms": True, "synonym_threshold": 0.05, "copies": 2},
    {"threshold": 0.0, "samples_per_lang": 20, "substitution": "random"},
    {"threshold": 1.0},
    {"max_ratio": 0.0},
    {"mode": "masked", "threshold": 0.1, "samples_per_lang": 15},
]


@pytest.mark.parametrize("kw", CONFIGS, ids=[",".join(f"{k}={v}" for k, v in c.items()) or "defaults" for c in CONFIGS])
def test_identical_to_the_per_example_implementation(world, tmp_path_factory, kw):
    w, model_dir, tok, src, vocabs, en = world
    cfg = AugmentConfig(**kw)
    langs = {**vocabs, **en} if cfg.synonyms else vocabs
    props, old_examples, old_stats = ref.augment(load_mlm(model_dir), tok, src, langs, cfg, "en", 3, w.lexicon)
    cache = tmp_path_factory.mktemp("cache")
    for cache_dir, cached in ((None, False), (cache, False), (cache, True)):  # in memory; into the cache; mapped
        new = augment(model_dir, tok, src, langs, cfg, "en", 3, w.lexicon, cache_dir, progress=False)
        assert new.cached == cached
        assert list(new.examples) == list(old_examples)
        for lang in old_examples:
            same_examples(new.examples[lang], old_examples[lang])
            assert new.stats[lang] == old_stats[lang]


def test_columnar_proposals_hold_the_per_example_arrays(world, tmp_path):
    from salt.augment import _cached_proposals
    from salt.augment.propose import Proposals, propose
    from salt.vocab import TokenTable

    w, model_dir, tok, src, vocabs, en = world
    table, model = TokenTable.build(tok), load_mlm(model_dir)
    old = ref.propose(model, tok, src, vocabs, table, progress=False)
    new = propose(model, tok, src, vocabs, table, progress=False)
    cfg = AugmentConfig()
    written, cached = _cached_proposals(model_dir, tok, src, vocabs, table, cfg, "exclude", tmp_path, None, False)
    opened, cached_again = _cached_proposals(model_dir, tok, src, {"de": vocabs["de"]}, table, cfg, "exclude",
                                             tmp_path, None, False)
    assert not cached and cached_again and list(opened.ids) == ["de"]  # only the languages asked for
    assert isinstance(opened.probs["de"], np.memmap) and opened.probs["de"].flags.f_contiguous
    for props in (new, written):
        assert isinstance(props, Proposals) and len(props) == len(src)
        for i in range(len(src)):
            assert np.array_equal(props.positions[props.rows(i)], old.positions[i])
            for lang in vocabs:
                for field in ("ids", "probs", "mass"):
                    a, b = getattr(props, field)[lang][props.rows(i)], getattr(old, field)[lang][i]
                    assert a.dtype == b.dtype and np.array_equal(a, b), (lang, field)
    assert not list(tmp_path.glob("proposals/*.tmp"))


def test_selection_by_confidence_breaks_ties_by_uid():
    def ex(uid, p):
        return Augmented(uid, 0, "fr", 0, np.zeros(3, np.int64), np.array([1]), np.array([p], np.float32),
                         np.zeros(1, bool))
    pool = [ex("c", 0.5), ex("b", 0.9), ex("a", 0.5), ex("d", 0.5), ex("e", 0.1)]
    got = [e.uid for e in select(pool, 3, "confidence", np.random.default_rng(0))]
    assert got == [e.uid for e in ref.select(pool, 3, "confidence", np.random.default_rng(0))] == ["b", "a", "c"]


def test_n_all_stays_columnar_until_a_batch_reads_it(world):
    """N = all: the selection is the pool itself, the trainer's rows over the languages' selections build no copy,
    and a batch holds the very arrays that the copies built one by one give (mixed with a control's list)."""
    import gc

    from salt.augment.switch import Chain, Pool, random_substitution
    from salt.train import _TrainSet
    from salt.vocab import TokenTable

    w, model_dir, tok, src, vocabs, en = world
    res = augment(model_dir, tok, src, vocabs, AugmentConfig(threshold=0.0), "en", 3, progress=False)
    assert all(isinstance(v, Pool) and len(v) for v in res.examples.values())
    control = random_substitution(res.examples["de"][:7], src, vocabs, "en", TokenTable.build(tok),
                                  np.random.default_rng(0))
    parts = [res.examples["fr"], res.examples["de"], control]
    gc.collect()
    alive = sum(type(o) is Augmented for o in gc.get_objects())
    rows = _TrainSet(src, Chain(parts))
    assert sum(type(o) is Augmented for o in gc.get_objects()) == alive  # nothing built per copy
    flat = [a for part in parts for a in part]
    reference = _TrainSet(src, flat)  # the same rows from copies built at once
    assert len(rows) == len(reference) == len(src) + len(flat)
    assert np.array_equal(rows.lengths(), reference.lengths())
    order = np.random.default_rng(1).permutation(len(rows))
    for idx in np.array_split(order, 9):
        for a, b in zip(rows.batch(idx, tok.pad_token_id), reference.batch(idx, tok.pad_token_id)):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    from salt.augment.manifest import manifest  # read from the columns: the same rows as from the copies

    pd.testing.assert_frame_equal(manifest(res.examples), manifest({k: list(v) for k, v in res.examples.items()}))
    picked = Chain(parts).take(order[order >= len(src)][:50] - len(src))
    assert [(a.uid, a.aug_ids.tolist()) for a in picked] == [
        (flat[j].uid, flat[j].aug_ids.tolist()) for j in (order[order >= len(src)][:50] - len(src))]
