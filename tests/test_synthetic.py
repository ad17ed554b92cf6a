"""The synthetic world: determinism, the language properties it promises, its tasks, and the cached
pretrained model. Everything runs on the "tiny" presets (seconds)."""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, replace

import pytest
import torch
from safetensors.torch import load_file

from salt.data.types import Example, TaskData
from salt.synthetic import (
    NLI_LABELS,
    NLI_TASK,
    PARAPHRASE_LABELS,
    PARAPHRASE_TASK,
    PRETRAIN_PRESETS,
    WORLD_PRESETS,
    World,
    WorldConfig,
    build_tokenizer,
    generate_world,
    load_world,
    read_model_info,
    world_model_dir,
)
import salt.synthetic.pretrain as pretrain_mod
from salt.synthetic.world import BY, NOT, NP, THE, Clause

TINY = WORLD_PRESETS["tiny"]
TASKS = {NLI_TASK: NLI_LABELS, PARAPHRASE_TASK: PARAPHRASE_LABELS}


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(TINY)


def _all_examples(world: World):
    for name in TASKS:
        task = world.task(name)
        for split, by_lang in task.splits.items():
            for lang, examples in by_lang.items():
                yield name, split, lang, examples


def _translate(world: World, text: str, lang: str) -> list[str]:
    return [world.lexicon[lang][w] for w in text.split()]


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_world(world: World) -> None:
    again = generate_world(TINY)
    assert again.corpora == world.corpora
    assert again.lexicon == world.lexicon
    for name in TASKS:
        assert again.task(name).splits == world.task(name).splits


def test_different_seed_different_world(world: World) -> None:
    other = generate_world(replace(TINY, seed=1))
    assert other.corpora["en"] != world.corpora["en"]
    assert other.lexicon != world.lexicon
    assert other.task(NLI_TASK).get("train", "en") != world.task(NLI_TASK).get("train", "en")


def test_resizing_corpora_keeps_lexicon_and_tasks(world: World) -> None:
    bigger = generate_world(replace(TINY, corpus_sentences=TINY.corpus_sentences + 10))
    assert bigger.lexicon == world.lexicon
    assert bigger.corpora["fr"][: TINY.corpus_sentences] == world.corpora["fr"]
    assert bigger.task(NLI_TASK).splits == world.task(NLI_TASK).splits


def test_load_world_caches_per_config() -> None:
    assert load_world("tiny") is load_world(TINY)
    assert load_world("tiny").config == TINY


def test_config_validation_and_json_round_trip() -> None:
    with pytest.raises(ValueError, match="no realisation style"):
        WorldConfig(languages=("en", "xx"))
    assert WorldConfig.from_dict(json.loads(json.dumps(asdict(TINY)))) == TINY


# ----------------------------------------------------------------------------- languages


def test_strings_never_collide_across_languages_except_es_overlap(world: World) -> None:
    en = set(world.vocabulary("en"))
    for lang in world.languages:
        assert len(set(world.vocabulary(lang))) == len(world.vocabulary(lang)), lang
    for a in ("en", "fr", "de", "es"):
        for b in ("en", "fr", "de", "es"):
            if a < b and {a, b} != {"en", "es"}:
                assert not set(world.vocabulary(a)) & set(world.vocabulary(b)), (a, b)
    shared = en & set(world.vocabulary("es"))
    assert shared == {w for w, t in world.lexicon["es"].items() if w == t}


def test_fr_is_a_bijective_relabelling(world: World) -> None:
    fr = world.lexicon["fr"]
    assert sorted(fr) == sorted(world.vocabulary("en"))
    assert len(set(fr.values())) == len(fr)
    for en_ex, fr_ex in zip(world.task(NLI_TASK).get("test", "en"), world.task(NLI_TASK).get("test", "fr")):
        assert _translate(world, en_ex.text_a, "fr") == fr_ex.text_a.split()
        assert _translate(world, en_ex.text_b, "fr") == fr_ex.text_b.split()


def test_de_is_sov_with_postnominal_adjectives(world: World) -> None:
    inv = world.inventory
    verb = inv.ids("verb")[0]
    subj_class, obj_class = (min(s) for s in inv.verb_frames[verb])
    noun_s = next(n for n, c in inv.noun_class.items() if c == subj_class)
    noun_o = next(n for n, c in inv.noun_class.items() if c == obj_class and n != noun_s)
    adj = next(a for a, cs in inv.adj_classes.items() if subj_class in cs)
    clause = Clause(NP(THE, None, (adj,), noun_s), True, verb, NP(THE, None, (), noun_o))
    en = world.strings["en"]
    assert world.text(clause, "en").split() == [en[i] for i in (THE, adj, noun_s, NOT, verb, THE, noun_o)]
    expected_de = [en[i] for i in (THE, noun_s, adj, THE, noun_o, NOT, verb)]
    assert world.text(clause, "de").split() == [world.lexicon["de"][w] for w in expected_de]
    passive = replace(clause, passive=True)
    assert world.text(passive, "en").split() == [en[i] for i in (THE, noun_o, NOT, verb, BY, THE, adj, noun_s)]


def test_de_test_items_are_reorderings_of_english(world: World) -> None:
    for en_ex, de_ex in zip(world.task(NLI_TASK).get("test", "en"), world.task(NLI_TASK).get("test", "de")):
        assert Counter(_translate(world, en_ex.text_a, "de")) == Counter(de_ex.text_a.split())


def test_es_shares_about_half_of_the_content_words(world: World) -> None:
    categories = world.categories
    content = [w for w, c in categories.items() if c in ("noun", "verb", "adjective")]
    shared = [w for w in content if world.lexicon["es"][w] == w]
    assert abs(len(shared) / len(content) - 0.5) < 0.02
    assert all(world.lexicon["es"][w] != w for w, c in categories.items() if c in ("function", "numeral"))


def test_every_task_and_corpus_word_is_in_the_lexicon(world: World) -> None:
    for name, split, lang, examples in _all_examples(world):
        vocab = set(world.vocabulary(lang))
        words = {w for ex in examples for w in (ex.text_a + " " + ex.text_b).split()}
        assert words <= vocab, (name, split, lang, words - vocab)
    for lang, sentences in world.corpora.items():
        assert {w for s in sentences for w in s.split()} <= set(world.vocabulary(lang))
    for lang in world.lexicon:
        assert set(world.lexicon[lang]) == set(world.vocabulary("en"))
        assert set(world.lexicon[lang].values()) == set(world.vocabulary(lang))


# ----------------------------------------------------------------------------- tasks


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_shape(world: World, name: str) -> None:
    task = world.task(name)
    assert isinstance(task, TaskData)
    assert task.spec.name == name and task.spec.labels == TASKS[name]
    assert task.spec.source_lang == "en" and task.spec.languages == ("en", "fr", "de", "es")
    assert task.languages("train") == ["en"]
    assert task.languages("dev") == task.languages("test") == ["de", "en", "es", "fr"]
    for split, by_lang in task.splits.items():
        for lang, examples in by_lang.items():
            assert all(isinstance(ex, Example) and ex.lang == lang for ex in examples)
            assert [ex.uid for ex in examples] == [f"{lang}/{split}/{i}" for i in range(len(examples))]
            counts = Counter(ex.label for ex in examples)
            assert set(counts) == set(range(len(TASKS[name])))
            assert max(counts.values()) - min(counts.values()) <= 1  # balanced by construction
            assert all(ex.text_a != ex.text_b for ex in examples)
    # dev/test are the same items (and labels) in every language
    test = task.splits["test"]
    assert len({tuple(ex.label for ex in test[lang]) for lang in test}) == 1


def test_unknown_task_is_an_error(world: World) -> None:
    with pytest.raises(KeyError):
        world.task("xnli")


def test_nli_edits_match_their_labels(world: World) -> None:
    for ex in world.task(NLI_TASK).get("train", "en"):
        a, b = ex.text_a.split(), ex.text_b.split()
        label = NLI_LABELS[ex.label]
        if label == "contradiction":
            diff = Counter(a) - Counter(b) + (Counter(b) - Counter(a))
            assert diff == Counter(["not"])
        elif label == "entailment":  # a word or a relative clause dropped
            assert len(b) < len(a) and not Counter(b) - Counter(a)
        else:  # an adjective added or a noun/verb swapped
            assert len(b) >= len(a)


def test_paraphrase_pairs_overlap_lexically(world: World) -> None:
    """Paraphrases keep the bag of words (up to `by`); non-paraphrases change at most one word."""
    for ex in world.task(PARAPHRASE_TASK).get("train", "en"):
        a = Counter(w for w in ex.text_a.split() if w != "by")
        b = Counter(w for w in ex.text_b.split() if w != "by")
        assert len(ex.text_a.split()) <= TINY.paraphrase_max_words
        if PARAPHRASE_LABELS[ex.label] == "paraphrase":
            assert a == b
        else:
            assert sum((a - b).values()) <= 1 and sum((b - a).values()) <= 1


def test_paraphrase_sources_yield_one_pair_of_each_class(world: World) -> None:
    """Nothing about the first sentence may predict the label (PAWS-style construction)."""
    labels_by_source: dict[str, list[int]] = {}
    for ex in world.task(PARAPHRASE_TASK).get("train", "en"):
        labels_by_source.setdefault(ex.text_a, []).append(ex.label)
    assert all(labels.count(0) == labels.count(1) for labels in labels_by_source.values())


# ----------------------------------------------------------------------------- tokenizer and model


def test_pretraining_rows_pair_sentences_of_one_language(world: World) -> None:
    tok = build_tokenizer(world)
    lang_of_word = {w: lang for lang in ("fr", "de") for w in world.vocabulary(lang)}
    sentences = world.corpora["fr"][:50] + world.corpora["de"][:50]
    encoded = [e.ids for e in tok.backend_tokenizer.encode_batch(sentences)]
    spans = [range(0, 50)] * 50 + [range(50, 100)] * 50
    cfg = replace(PRETRAIN_PRESETS["tiny"], batch_size=20, pair_fraction=0.5)
    ids, types = next(pretrain_mod._batches(encoded, spans, cfg, tok.pad_token_id, torch.Generator().manual_seed(0)))
    pairs = 0
    for row, row_types in zip(ids.tolist(), types.tolist()):
        tokens = [t for t in tok.convert_ids_to_tokens(row) if t != "[PAD]"]
        assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
        n_first = tokens.index("[SEP]") + 1
        assert row_types[:n_first] == [0] * n_first and set(row_types[n_first:len(tokens)]) <= {1}
        pairs += len(tokens) > n_first
        assert len({lang_of_word[t] for t in tokens if t in lang_of_word}) == 1
    assert 0 < pairs < len(ids)


def test_tokenizer_has_no_unknown_words(world: World) -> None:
    tok = build_tokenizer(world)
    for _, _, _, examples in _all_examples(world):
        enc = tok([ex.text_a for ex in examples], [ex.text_b for ex in examples])
        assert all(tok.unk_token_id not in ids for ids in enc["input_ids"])
    enc = tok("the", "a")
    assert enc["token_type_ids"] == [0, 0, 0, 1, 1]
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == ["[CLS]", "the", "[SEP]", "a", "[SEP]"]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    return world_model_dir("tiny", "tiny", cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


def test_model_dir_loads_with_auto_classes(tiny_model_dir, world: World) -> None:
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    mlm = AutoModelForMaskedLM.from_pretrained(tiny_model_dir)
    clf = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3)
    ex = world.task(NLI_TASK).get("test", "de")[0]
    enc = tok(ex.text_a, ex.text_b, return_tensors="pt")
    assert tok.unk_token_id not in enc["input_ids"]
    assert mlm(**enc).logits.shape[-1] == len(tok)
    assert clf(**enc).logits.shape == (1, 3)
    info = read_model_info(tiny_model_dir)
    assert WorldConfig.from_dict(info["world_config"]) == TINY
    assert info["stats"]["final_loss"] < info["stats"]["first_loss"]


def test_cache_is_reused(tiny_model_dir, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("rebuilt a cached model")

    monkeypatch.setattr(pretrain_mod, "_build", refuse)
    assert world_model_dir("tiny", "tiny", cache_dir=tiny_model_dir.parent.parent) == tiny_model_dir
    # threads do not change the key; anything that changes the model does
    threads = replace(PRETRAIN_PRESETS["tiny"], threads=2)
    assert world_model_dir("tiny", threads, cache_dir=tiny_model_dir.parent.parent) == tiny_model_dir
    # worlds that differ only in their tasks share the model
    assert world_model_dir(replace(TINY, nli_train=7, paraphrase_max_words=9), "tiny",
                           cache_dir=tiny_model_dir.parent.parent) == tiny_model_dir
    with pytest.raises(AssertionError, match="rebuilt"):
        world_model_dir(replace(TINY, corpus_sentences=10), "tiny", cache_dir=tiny_model_dir.parent.parent)
    with pytest.raises(AssertionError, match="rebuilt"):
        world_model_dir("tiny", replace(threads, steps=10), cache_dir=tiny_model_dir.parent.parent)
    assert not [p for p in tiny_model_dir.parent.iterdir() if p.name.startswith(".")]  # temp dir removed


def test_cache_dir_from_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALT_CACHE", str(tmp_path))
    built = []
    def fake_build(w, p, out, progress):  # the real build creates its work directory with the first checkpoint
        built.append(out)
        out.mkdir(parents=True)
        (out / "world.json").write_text("{}")

    monkeypatch.setattr(pretrain_mod, "_build", fake_build)
    path = world_model_dir("tiny", "tiny")
    assert path.parent.parent == tmp_path and built


def test_concurrent_requests_build_once(tmp_path, monkeypatch) -> None:
    real_build, calls = pretrain_mod._build, []

    def counting(*args, **kwargs):
        calls.append(1)
        real_build(*args, **kwargs)

    monkeypatch.setattr(pretrain_mod, "_build", counting)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(
        world_model_dir("tiny", "tiny", cache_dir=tmp_path, progress=False))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 3


def test_pretraining_is_deterministic(tiny_model_dir, tmp_path) -> None:
    again = world_model_dir("tiny", "tiny", cache_dir=tmp_path, progress=False)
    a, b = load_file(tiny_model_dir / "model.safetensors"), load_file(again / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_pretraining_leaves_torch_state_alone(tmp_path) -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    world_model_dir("tiny", replace(PRETRAIN_PRESETS["tiny"], threads=1, steps=5), cache_dir=tmp_path, progress=False)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_pretraining_length_groups_are_full_shuffled_batches() -> None:
    """Pretraining batches positions with `drop_last`: every full batch once, in shuffled order."""
    import numpy as np

    from salt.batching import length_grouped_batches

    gen = torch.Generator().manual_seed(0)
    lengths = np.array([(7 * i) % 23 + 3 for i in range(1000)])
    batches = length_grouped_batches(np.arange(1000), lengths, 32, gen, window=5, drop_last=True)
    assert all(len(b) == 32 for b in batches) and len(batches) == 1000 // 32
    covered = np.concatenate(batches)
    assert len(set(covered.tolist())) == len(covered)  # no position twice; only the partial tail left out
    assert [b[0] for b in batches] != sorted(b[0] for b in batches)
    spread = [lengths[b].max() - lengths[b].min() for b in batches]
    assert sum(spread) / len(spread) < 10  # random batches of 32 span nearly the whole 3..25 range


def test_a_killed_pretraining_resumes_from_its_checkpoint_to_the_same_weights(tiny_model_dir, tmp_path,
                                                                              monkeypatch) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    cfg = replace(PRETRAIN_PRESETS["tiny"], checkpoint_every=20, threads=1)
    work = tmp_path / "synthetic" / f".{tiny_model_dir.name}.partial"
    code = ("import sys; from dataclasses import replace; from salt.synthetic.pretrain import PRETRAIN_PRESETS, "
            "world_model_dir; world_model_dir('tiny', replace(PRETRAIN_PRESETS['tiny'], checkpoint_every=20, "
            "threads=1), cache_dir=sys.argv[1], progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], start_new_session=True)
    deadline = time.monotonic() + 240
    while not (work / pretrain_mod.CHECKPOINT).is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the harshest kill, right after a checkpoint
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    assert not (tmp_path / "synthetic" / tiny_model_dir.name).exists()
    assert [p.name for p in (tmp_path / "synthetic").iterdir() if p.is_dir()] == [work.name]
    killed_at = torch.load(work / pretrain_mod.CHECKPOINT, weights_only=False)["step"]
    assert 0 < killed_at < cfg.steps
    saved: list[int] = []
    real_save = pretrain_mod._save_checkpoint
    monkeypatch.setattr(pretrain_mod, "_save_checkpoint", lambda path, state: saved.append(state["step"])
                        or real_save(path, state))
    resumed = world_model_dir("tiny", cfg, cache_dir=tmp_path, progress=False)
    assert saved and min(saved) == killed_at + cfg.checkpoint_every  # it went on from the checkpoint
    assert not work.exists() and not (resumed / pretrain_mod.CHECKPOINT).exists()
    a, b = load_file(tiny_model_dir / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # as if never interrupted


def test_a_build_stopped_before_its_first_checkpoint_leaves_no_directory(tmp_path, monkeypatch) -> None:
    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrain_mod, "pretrain_mlm", stopped)
    with pytest.raises(KeyboardInterrupt):
        world_model_dir("tiny", "tiny", cache_dir=tmp_path, progress=False)
    assert not [p for p in (tmp_path / "synthetic").iterdir() if p.is_dir()]
