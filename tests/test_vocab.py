import numpy as np

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
