import numpy as np
import pytest

from salt.config import VocabConfig
from salt.vocab import PieceScheme, TokenTable, language_vocabularies, piece_scheme


def tokens(tok, ids):
    return tok.convert_ids_to_tokens([int(i) for i in ids])


def test_piece_schemes(wordpiece_tokenizer, sentencepiece_tokenizer):
    assert piece_scheme(wordpiece_tokenizer) == PieceScheme(continuation_prefix="##")
    assert piece_scheme(sentencepiece_tokenizer) == PieceScheme(word_start_marker="▁")


def test_wordpiece_eligible_positions_are_single_piece_words(wordpiece_tokenizer):
    tok = wordpiece_tokenizer
    table = TokenTable.build(tok)
    enc = tok("Le chat mange 42 croquettes extraordinairement.", add_special_tokens=True)["input_ids"]
    toks = tokens(tok, enc)
    ok = table.eligible(enc, "word")
    for i, t in enumerate(toks):
        if ok[i]:  # a word start, not special, has a letter, and the next token is not a continuation
            assert not t.startswith("##") and t not in ("[CLS]", "[SEP]") and any(c.isalpha() for c in t)
            assert i + 1 == len(toks) or not toks[i + 1].startswith("##")
    assert not any(ok[i] for i, t in enumerate(toks) if t in ("42", "."))
    piece_ok = table.eligible(enc, "piece")
    assert piece_ok.sum() >= ok.sum()
    assert any(piece_ok[i] for i, t in enumerate(toks) if t.startswith("##"))


def test_language_vocabularies_on_real_text(wordpiece_tokenizer, xnli_texts, tmp_path):
    tok = wordpiece_tokenizer
    cfg = VocabConfig(min_count=3)
    vocabs = language_vocabularies(tok, xnli_texts, "en", ["fr", "de", "zh"], cfg, "word", tmp_path)
    fr = set(tokens(tok, vocabs["fr"].word_ids))
    assert {"les", "une", "dans"} <= fr
    assert "the" not in fr and "." not in fr and "1" not in fr  # source words and neutral tokens excluded
    assert all(not t.startswith("##") for t in fr) and len(vocabs["fr"].cont_ids) == 0
    zh = tokens(tok, vocabs["zh"].word_ids)
    assert len(zh) > 100 and all(any("\u4e00" <= c <= "\u9fff" or c.isalpha() for c in t) for t in zh)
    # shared tokens: frequent in English too -> excluded by default, kept on request
    kept = language_vocabularies(tok, xnli_texts, "en", ["fr"], VocabConfig(min_count=3, shared="keep"), "word", tmp_path)
    assert set(vocabs["fr"].word_ids) < set(kept["fr"].word_ids)
    # cached: same answer from disk, one file per key
    again = language_vocabularies(tok, xnli_texts, "en", ["fr", "de", "zh"], cfg, "word", tmp_path)
    assert np.array_equal(again["de"].word_ids, vocabs["de"].word_ids)
    assert len(list((tmp_path / "vocab").glob("*.json"))) == 2


def test_piece_unit_splits_candidates_by_kind(wordpiece_tokenizer, xnli_texts):
    tok = wordpiece_tokenizer
    vocabs = language_vocabularies(tok, xnli_texts, "en", ["de"], VocabConfig(min_count=3), "piece")
    assert len(vocabs["de"].cont_ids) > 0
    assert all(t.startswith("##") for t in tokens(tok, vocabs["de"].cont_ids))
    assert not any(t.startswith("##") for t in tokens(tok, vocabs["de"].word_ids))


def test_sentencepiece_vocab(sentencepiece_tokenizer, xnli_texts):
    tok = sentencepiece_tokenizer
    vocabs = language_vocabularies(tok, xnli_texts, "en", ["fr"], VocabConfig(min_count=3), "word")
    fr = tokens(tok, vocabs["fr"].word_ids)
    assert fr and all(t.startswith("▁") for t in fr)
    assert "▁the" not in fr


def test_a_described_source_is_read_only_on_a_cache_miss(tiny_world, tmp_path, monkeypatch):
    """The vocabulary cache is keyed by where the text comes from (hub id, config, split, column, texts read,
    revision, tokenizer), so a second trial of a study opens no hub stream at all."""
    from dataclasses import replace as swap

    import datasets
    from transformers import AutoTokenizer

    from salt.config import AugmentConfig, RunConfig, VocabConfig
    from salt.run import vocabularies

    tok = AutoTokenizer.from_pretrained(tiny_world[1])
    known = [w for w in tok.get_vocab() if w.isalpha() and len(w) > 2][:20]  # words the tokenizer keeps whole
    streamed = []

    def fake_stream(hub_id, config, split, streaming, revision=None):  # a hub stub: counts what it streams
        assert streaming
        streamed.append((hub_id, config, split, revision))
        words = {"20231101.en": known[:10], "20231101.fr": known[10:]}[config]
        return iter([{"text": " ".join(words)}] * 5 + [{"text": ""}])

    monkeypatch.setattr(datasets, "load_dataset", fake_stream)
    cfg = RunConfig(task="xnli", cache_dir=str(tmp_path), target_langs=("fr",), augment=AugmentConfig(enabled=True),
                    vocab=VocabConfig(source="hub", hub_id="wikimedia/wikipedia", hub_config="20231101.{lang}",
                                      max_texts=3, min_count=1))
    first = vocabularies(cfg, tok, None, ["fr"])
    assert streamed == [("wikimedia/wikipedia", "20231101.en", "train", None),
                        ("wikimedia/wikipedia", "20231101.fr", "train", None)]
    streamed.clear()
    again = vocabularies(cfg, tok, None, ["fr"])
    assert streamed == []  # a hit streams nothing
    assert np.array_equal(first["fr"].word_ids, again["fr"].word_ids) and len(first["fr"].word_ids)
    for changed in (swap(cfg.vocab, hub_revision="abc123"), swap(cfg.vocab, max_texts=4), swap(cfg.vocab, hub_split="x")):
        vocabularies(swap(cfg, vocab=changed), tok, None, ["fr"])
        assert len(streamed) == 2, changed  # another description: read again
        streamed.clear()
    vocabularies(swap(cfg, vocab=swap(cfg.vocab, hub_revision="abc123")), tok, None, ["fr"])
    assert streamed == []


def test_the_old_max_lines_key_names_its_new_name(tmp_path):
    import yaml

    from harness.study import StudyError, load_study

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "task": "synthetic-nli", "arms": ["baseline"], "seeds": [0],
                                    "vocab": {"max_lines": 10}}))
    with pytest.raises(StudyError, match="vocab.max_lines.*renamed to vocab.max_texts"):
        load_study(path)
