import pytest
import torch

from salt.config import MixupConfig
from salt.mixup import mix_embeddings, sample_ratio


def test_formula_is_convex_combination_of_aligned_embeddings():
    emb = torch.nn.Embedding(10, 4)
    src, tgt = torch.tensor([[1, 2, 3]]), torch.tensor([[1, 7, 9]])
    r = torch.tensor([[[0.25], [0.5], [1.0]]])
    mixed = mix_embeddings(emb, src, tgt, r)
    w = emb.weight
    assert torch.allclose(mixed[0, 0], w[1])  # unsubstituted position: mixing a token with itself
    assert torch.allclose(mixed[0, 1], 0.5 * w[2] + 0.5 * w[7])
    assert torch.allclose(mixed[0, 2], w[3])  # r = 1 keeps the source token
    per_dim = torch.rand(1, 3, 4)
    assert torch.allclose(mix_embeddings(emb, src, tgt, per_dim), per_dim * w[src] + (1 - per_dim) * w[tgt])


@pytest.mark.parametrize("granularity,shape", [("vector", (4, 1, 16)), ("token", (4, 5, 1)), ("dim", (4, 5, 16))])
def test_shapes_and_resampling(granularity, shape):
    cfg = MixupConfig(granularity=granularity)
    gen = torch.Generator().manual_seed(0)
    a, b = sample_ratio(cfg, (4, 5, 16), gen), sample_ratio(cfg, (4, 5, 16), gen)
    assert a.shape == shape
    assert not torch.equal(a, b)  # a new r at every step
    assert len({round(float(x), 6) for x in a[:, 0, 0]}) == 4  # a different r for every instance
    assert ((a >= 0) & (a <= 1)).all()


@pytest.mark.parametrize("dist,alpha,beta,mean", [("uniform", 1, 1, 0.5), ("beta", 2.0, 6.0, 0.25), ("beta", 0.4, 0.4, 0.5)])
def test_distributions(dist, alpha, beta, mean):
    r = sample_ratio(MixupConfig(distribution=dist, alpha=alpha, beta=beta, granularity="token"), (200, 50, 1),
                     torch.Generator().manual_seed(1))
    assert abs(float(r.mean()) - mean) < 0.01
    if dist == "beta" and alpha < 1:  # U-shaped: most mass near 0 and 1
        assert float(((r < 0.1) | (r > 0.9)).float().mean()) > 0.4


def test_seeded_and_reproducible():
    cfg = MixupConfig(distribution="beta", alpha=0.5, beta=0.5, granularity="dim")
    one = sample_ratio(cfg, (2, 3, 4), torch.Generator().manual_seed(7))
    two = sample_ratio(cfg, (2, 3, 4), torch.Generator().manual_seed(7))
    assert torch.equal(one, two)


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match="mixup.granularity"):
        sample_ratio(MixupConfig(granularity="word"), (1, 1, 1), torch.Generator())
    with pytest.raises(ValueError, match="mixup.distribution"):
        sample_ratio(MixupConfig(distribution="normal"), (1, 1, 1), torch.Generator())


def test_the_default_is_the_papers_random_vector_per_instance():
    """One r in [0,1]^d per instance, shared by its tokens, different across dimensions and instances."""
    assert MixupConfig().granularity == "vector"
    r = sample_ratio(MixupConfig(), (3, 7, 5), torch.Generator().manual_seed(0))
    emb = torch.nn.Embedding(10, 5)
    mixed = mix_embeddings(emb, torch.zeros(3, 7, dtype=torch.long), torch.ones(3, 7, dtype=torch.long), r)
    assert torch.allclose(mixed[:, 0], mixed[:, 6])  # every token of an instance mixes with the same vector
    assert len({round(float(x), 6) for x in r[0, 0]}) == 5 and not torch.equal(r[0], r[1])
