"""Proposals at real size (issue 21): the auto batch size, the split head that never holds a batch's logits at
full width, and the GPU's precision choice."""
import numpy as np
import pytest
import torch

from salt.augment.sizing import CPU_CAP, proposal_batch_size
from salt.config import AugmentConfig, ConfigError, VocabConfig, build_config


def test_batch_size_follows_memory_vocabulary_and_cap():
    gib = 1 << 30
    # XLM-R on a GPU with 40 GiB free, visible mode (35 positions per sentence of 128 tokens):
    # per row 128*768*16*4 B + 35*250,002*2*4 B = 76.3 MB, half of 40 GiB / that = 281 sentences
    assert proposal_batch_size(40 * gib, 250_002, 768, 128, 35, 1024) == 281
    # the same with mBERT's vocabulary takes about twice the batch, masked mode (1 position) many more
    assert proposal_batch_size(40 * gib, 119_547, 768, 128, 35, 1024) == 540
    assert proposal_batch_size(40 * gib, 250_002, 768, 128, 1, 1024) == 1024  # capped
    assert proposal_batch_size(16 * gib, 250_002, 768, 128, 35, CPU_CAP) == CPU_CAP  # 112, capped
    assert proposal_batch_size(8 * gib, 250_002, 768, 128, 35, CPU_CAP) == 56
    assert proposal_batch_size(1 << 20, 250_002, 768, 128, 35, CPU_CAP) == 1  # never 0
    assert proposal_batch_size(40 * gib, 250_002, 768, 0, 0, 7) == 7


def test_batch_size_is_auto_unless_set():
    assert AugmentConfig().batch_size is None
    assert build_config(None, {"augment.batch_size": "auto"}).augment.batch_size is None
    assert build_config(None, {"augment.batch_size": 16}).augment.batch_size == 16
    with pytest.raises(ConfigError, match="augment.batch_size"):
        build_config(None, {"augment.batch_size": 0})


def test_gpu_precision_is_bf16_where_supported(monkeypatch):
    from salt.augment.propose import amp_dtype

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert amp_dtype(torch.device("cuda", 0)) is torch.bfloat16
    assert amp_dtype(torch.device("cpu")) is None  # fp32 on CPU, as before
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert amp_dtype(torch.device("cuda", 0)) is None


@pytest.mark.parametrize("mode", ["visible", "masked"])
def test_split_head_equals_the_full_logits(tiny_world, mode):
    """The restricted top-k through the decoder rows of the candidates, with the normaliser over blocks of
    rows, gives the proposals of the full-width logits (to float rounding: another summation order)."""
    from salt.augment.propose import SplitHead, propose
    from salt.encode import encode
    from salt.models import load_mlm, load_tokenizer
    from salt.vocab import TokenTable, language_vocabularies

    world, model_dir = tiny_world
    tok, model = load_tokenizer(model_dir), load_mlm(model_dir)
    src = encode(tok, world.task("synthetic-nli").get("train", "en")[:40], 64)
    vocabs = language_vocabularies(tok, world.corpora, "en", ["fr", "de"], VocabConfig(), "word")
    table = TokenTable.build(tok)
    full = propose(model, tok, src, vocabs, table, mode, progress=False, batch_size=16)
    split = propose(model, tok, src, vocabs, table, mode, progress=False, batch_size=16, split_head=True)
    assert len(full.positions) > 100 and np.array_equal(full.positions, split.positions)
    for lang in vocabs:
        np.testing.assert_allclose(split.probs[lang], full.probs[lang], atol=1e-5)
        np.testing.assert_allclose(split.mass[lang], full.mass[lang], rtol=1e-4, atol=1e-6)
        top = full.probs[lang][:, 0] - full.probs[lang][:, 1] > 1e-4  # ids agree wherever no near-tie
        assert top.mean() > 0.9 and np.array_equal(split.ids[lang][top, 0], full.ids[lang][top, 0])
    # the normaliser's blocks: a block of 3 rows gives what one block gives
    hidden = torch.randn(10, model.config.hidden_size)
    one, few = SplitHead(model), SplitHead(model, block_bytes=3 * 4 * model.config.vocab_size)
    assert few.block == 3 and one.block >= 10
    torch.testing.assert_close(one(hidden)[1], few(hidden)[1])
