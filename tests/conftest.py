import os
from pathlib import Path

# Tests never touch the network: the hub code paths are exercised through local caches.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real data not found at {REAL} (shared/ must sit beside the checkout)")
    return REAL


def read_xtreme_xnli(real: Path, lang: str) -> list[str]:
    """Premises and hypotheses of XTREME XNLI dev (no quotes in these files; split on tabs, lines on \\n)."""
    text = (real / "xnli" / "xtreme" / f"dev-{lang}.tsv").read_text(encoding="utf-8")
    return [field for line in text.split("\n") if line for field in line.split("\t")[:2]]


@pytest.fixture(scope="session")
def xnli_texts(real_dir) -> dict[str, list[str]]:
    return {lang: read_xtreme_xnli(real_dir, lang) for lang in ("en", "fr", "de", "zh", "ar")}


@pytest.fixture(scope="session")
def wordpiece_tokenizer(xnli_texts, tmp_path_factory):
    """A real multilingual WordPiece tokenizer (mBERT-style), trained here on real XNLI text."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    tok = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    tok.train_from_iterator([t for texts in xnli_texts.values() for t in texts], vocab_size=6000, min_frequency=2)
    out = tmp_path_factory.mktemp("wordpiece")
    tok.save_model(str(out))
    return BertTokenizerFast(vocab=str(out / "vocab.txt"), do_lower_case=False, tokenize_chinese_chars=True)


@pytest.fixture(scope="session")
def sentencepiece_tokenizer(xnli_texts):
    """An XLM-R-style Unigram tokenizer with '▁' word-start markers, trained here on real XNLI text."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import PreTrainedTokenizerFast

    tok = SentencePieceUnigramTokenizer()
    tok.train_from_iterator([t for texts in xnli_texts.values() for t in texts], vocab_size=4000,
                            special_tokens=["<pad>", "<unk>", "<s>", "</s>", "<mask>"], unk_token="<unk>")
    return PreTrainedTokenizerFast(tokenizer_object=tok._tokenizer, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="<s>", eos_token="</s>", mask_token="<mask>")


@pytest.fixture(scope="session")
def salt_cache(tmp_path_factory) -> Path:
    """One cache per test session: the tiny world's model is pretrained once (seconds), then reused."""
    return tmp_path_factory.mktemp("salt-cache")


@pytest.fixture(scope="session")
def tiny_world(salt_cache):
    from salt.synthetic import load_world, world_model_dir

    world = load_world("tiny")
    return world, str(world_model_dir("tiny", "tiny", salt_cache, progress=False))


@pytest.fixture()
def write_study(tmp_path, salt_cache, monkeypatch):
    """`write_study(STUDY)`: the study as `<name>.yaml` in tmp_path, its store beside it, on the session's cache."""
    import yaml

    monkeypatch.setenv("SALT_CACHE", str(salt_cache))

    def write(study: dict) -> Path:
        path = tmp_path / f"{study['name']}.yaml"
        path.write_text(yaml.safe_dump({**study, "output": {"dir": str(tmp_path / "mlruns")}}))
        return path
    return write
