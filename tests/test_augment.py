import numpy as np
import pytest

from salt.augment import augment
from salt.augment.switch import select
from salt.config import AugmentConfig, VocabConfig
from salt.encode import encode
from salt.models import load_tokenizer
from salt.vocab import TokenTable, language_vocabularies


@pytest.fixture(scope="module")
def setup(tiny_world):
    world, model_dir = tiny_world
    tok = load_tokenizer(model_dir)
    src = encode(tok, world.task("synthetic-nli").get("train", "en")[:60], 64)
    vocabs = language_vocabularies(tok, world.corpora, "en", ["fr", "de"], VocabConfig(), "word")
    return world, model_dir, tok, src, vocabs


def run(setup, cache=None, seed=0, **kw):
    world, model_dir, tok, src, vocabs = setup
    return augment(model_dir, tok, src, vocabs, AugmentConfig(**kw), "en", seed, world.lexicon, cache, progress=False)


def check_aligned(setup, res, cfg_threshold, max_ratio):
    world, model_dir, tok, src, vocabs = setup
    table = TokenTable.build(tok)
    for lang, examples in res.examples.items():
        allowed = set(vocabs[lang].word_ids.tolist())
        for ex in examples:
            orig = src.input_ids[ex.source_index]
            assert len(ex.aug_ids) == len(orig)  # one-to-one alignment (mixup needs it)
            changed = np.flatnonzero(ex.aug_ids != orig)
            assert set(changed) <= set(ex.positions.tolist())
            assert all(int(ex.aug_ids[p]) in allowed for p in ex.positions)
            assert (ex.probs >= cfg_threshold).all()
            eligible = table.eligible(orig, "word").sum()
            assert len(ex.positions) <= max(1, int(eligible * max_ratio))


@pytest.mark.parametrize("mode", ["visible", "masked"])
def test_modes_code_switch_within_threshold_and_ratio(setup, mode):
    res = run(setup, mode=mode, threshold=0.05, max_ratio=0.4)
    world, model_dir, tok, src, vocabs = setup
    eligible = sum(TokenTable.build(tok).eligible(ids, "word").sum() for ids in src.input_ids)
    # visible: one forward pass per sentence; masked: one per eligible token (batched)
    assert res.forward_rows == (len(src) if mode == "visible" else eligible)
    assert all(len(v) > 0 for v in res.examples.values())
    check_aligned(setup, res, 0.05, 0.4)
    for stats in res.stats.values():
        assert 0 < stats["substitution_rate"] <= 0.4 + 1e-9
        assert 0.05 <= stats["mean_confidence"] <= 1
        assert 0 <= stats["precision"] <= 1 and 0 < stats["coverage"] <= 1


def test_visible_and_masked_see_different_contexts(setup):
    vis, mask = run(setup, mode="visible", threshold=0.0), run(setup, mode="masked", threshold=0.0)
    a = [e.aug_ids.tobytes() for e in vis.examples["fr"]]
    b = [e.aug_ids.tobytes() for e in mask.examples["fr"]]
    assert a != b


def test_threshold_is_monotone(setup):
    rates = [run(setup, threshold=t).stats["fr"]["substitution_rate"] for t in (0.0, 0.2, 0.5, 0.99)]
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]


def test_copies_are_distinct(setup):
    res = run(setup, threshold=0.0, copies=3)
    by_source = {}
    for ex in res.examples["fr"]:
        by_source.setdefault(ex.source_index, []).append(ex.aug_ids.tobytes())
    assert max(len(v) for v in by_source.values()) > 1
    assert all(len(v) == len(set(v)) <= 3 for v in by_source.values())


def test_synonyms_come_from_the_source_vocabulary(setup):
    world, model_dir, tok, src, vocabs = setup
    en = language_vocabularies(tok, world.corpora, "en", ["en"], VocabConfig(shared="keep"), "word")
    cfg = AugmentConfig(threshold=0.99, synonyms=True, synonym_threshold=0.0, max_ratio=1.0)
    res = augment(model_dir, tok, src, {**vocabs, **en}, cfg, "en", 0, None, None, progress=False)
    syn = [(ex, p) for ex in res.examples["fr"] for p, s in zip(ex.positions, ex.synonym) if s]
    assert syn
    en_ids = set(en["en"].word_ids.tolist())
    for ex, p in syn:
        assert int(ex.aug_ids[p]) in en_ids and ex.aug_ids[p] != src.input_ids[ex.source_index][p]
    assert res.stats["fr"]["synonym_rate"] > 0


def test_samples_per_language_by_confidence_or_at_random(setup):
    full = run(setup, threshold=0.0).examples["fr"]
    top = run(setup, threshold=0.0, samples_per_lang=10).examples["fr"]
    assert len(top) == 10
    cut = sorted((e.confidence for e in full), reverse=True)[9]
    assert all(e.confidence >= cut for e in top)
    rnd = run(setup, threshold=0.0, samples_per_lang=10, selection="random", seed=1).examples["fr"]
    rnd_again = run(setup, threshold=0.0, samples_per_lang=10, selection="random", seed=1).examples["fr"]
    rnd_other = run(setup, threshold=0.0, samples_per_lang=10, selection="random", seed=2).examples["fr"]
    assert len(rnd) == 10 and [e.uid for e in rnd] == [e.uid for e in rnd_again]
    assert [e.uid for e in rnd] != [e.uid for e in rnd_other]
    assert np.mean([e.confidence for e in rnd]) < np.mean([e.confidence for e in top])
    assert list(run(setup, threshold=0.0, samples_per_lang=0).examples["fr"]) == []


def test_random_substitution_control_keeps_positions(setup):
    salt = run(setup, threshold=0.0, samples_per_lang=20)
    ctrl = run(setup, threshold=0.0, samples_per_lang=20, substitution="random")
    world, model_dir, tok, src, vocabs = setup
    allowed = set(vocabs["fr"].word_ids.tolist())
    same_token = total = 0
    for a, b in zip(salt.examples["fr"], ctrl.examples["fr"]):
        assert a.uid == b.uid and np.array_equal(a.positions, b.positions)
        assert all(int(b.aug_ids[p]) in allowed for p in b.positions)
        same_token += int((a.aug_ids[a.positions] == b.aug_ids[b.positions]).sum())
        total += len(a.positions)
    assert same_token < 0.2 * total
    assert ctrl.stats["fr"]["selected_precision"] < salt.stats["fr"]["selected_precision"]


def test_proposals_are_cached(setup, tmp_path):
    first = run(setup, cache=tmp_path, threshold=0.1)
    second = run(setup, cache=tmp_path, threshold=0.1)
    assert not first.cached and second.cached and second.forward_rows == 0
    assert [e.aug_ids.tobytes() for e in first.examples["de"]] == [e.aug_ids.tobytes() for e in second.examples["de"]]
    other = run(setup, cache=tmp_path, threshold=0.1, mode="masked")
    assert not other.cached


def test_select_rejects_unknown_strategy():
    with pytest.raises(ValueError, match="selection"):
        select([object()] * 3, 1, "best", np.random.default_rng(0))
