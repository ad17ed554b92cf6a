"""Encoded inputs are tokenised once per (tokenizer, text, max length, truncation) across trials and processes."""
from dataclasses import replace

import numpy as np
import pytest
from transformers import AutoTokenizer

import salt.encode
from salt.config import AugmentConfig, RunConfig, TrainConfig
from salt.data.types import Example
from salt.encode import encode, encoding_key
from salt.run import run


@pytest.fixture(scope="module")
def tokenizer(tiny_world):
    return AutoTokenizer.from_pretrained(tiny_world[1])


def examples(n=30, words="a b c"):
    return [Example(f"{words} {i} premise", f"hypothesis {i} {words}" * (1 + i % 3), i % 3, "en", f"t:{i}")
            for i in range(n)]


@pytest.fixture()
def tokenized(monkeypatch):
    """Rows the tokenizer was called on, counted."""
    calls = []
    real = salt.encode.tokenize

    def counting(tok, exs, max_len):
        calls.append(len(exs))
        return real(tok, exs, max_len)

    monkeypatch.setattr(salt.encode, "tokenize", counting)
    return calls


def test_cached_ids_are_the_tokenizers_and_a_hit_tokenises_nothing(tokenizer, tmp_path, tokenized):
    exs = examples()
    plain = encode(tokenizer, exs, 16)
    first = encode(tokenizer, exs, 16, tmp_path)
    second = encode(tokenizer, exs, 16, tmp_path)
    assert tokenized == [30, 30]  # the plain call, then the first cached one; the hit tokenises nothing
    for enc in (first, second):
        assert all(np.array_equal(a, b) and b.dtype == np.int64 for a, b in zip(plain.input_ids, enc.input_ids))
        assert all(np.array_equal(a, b) for a, b in zip(plain.token_type_ids, enc.token_type_ids))
        assert enc.uids == plain.uids and np.array_equal(enc.labels, plain.labels) and enc.langs == plain.langs
    assert max(len(i) for i in second.input_ids) == 16  # truncated as asked
    assert not second.input_ids[0].flags.writeable  # views of the memory-mapped file, never written


def test_the_key_is_the_text_the_length_and_the_tokenizer(tokenizer, tiny_world, tmp_path):
    exs = examples()
    key = encoding_key(tokenizer, exs, 16)
    assert encoding_key(tokenizer, exs, 32) != key
    assert encoding_key(tokenizer, [replace(exs[0], text_b=exs[0].text_b + " x"), *exs[1:]], 16) != key
    assert encoding_key(tokenizer, [replace(e, label=0, uid="other") for e in exs], 16) == key  # not the tokenizer's
    other = AutoTokenizer.from_pretrained(tiny_world[1])
    assert encoding_key(other, exs, 16) == key  # the same definition loaded again
    other.add_tokens(["zzzunseen"])
    assert encoding_key(other, exs, 16) != key  # a changed vocabulary


def test_a_killed_writers_leftovers_are_cleared(tokenizer, tmp_path):
    exs = examples(5)
    stale = tmp_path / "encoded" / f"{encoding_key(tokenizer, exs, 16)}.99999.tmp"
    stale.mkdir(parents=True)
    (stale / "input_ids.npy").write_bytes(b"partial")
    enc = encode(tokenizer, exs, 16, tmp_path)
    assert not stale.exists() and len(enc) == 5


def test_a_second_trial_tokenises_no_row(tiny_world, salt_cache, tokenized):
    cfg = RunConfig(task="synthetic-nli", world="tiny", model="synthetic:tiny", cache_dir=str(salt_cache),
                    target_langs=("fr",), augment=AugmentConfig(enabled=True, threshold=0.1, samples_per_lang=8),
                    train=TrainConfig(epochs=1, batch_size=16, max_train_examples=70, max_eval_examples=25))
    a = run(cfg)
    tokenized.clear()
    b = run(replace(cfg, augment=replace(cfg.augment, samples_per_lang=4)))  # another cell of the same study
    assert tokenized == []  # training rows and every evaluation set read from the cache
    assert a.train.n_augmented != b.train.n_augmented
    assert run(cfg).metrics == a.metrics and tokenized == []  # and it trains bit for bit as before
