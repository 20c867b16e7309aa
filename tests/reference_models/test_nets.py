"""Forward shapes, ranges and conditioning of every reference architecture."""
import pytest
import torch

from reference_models.config import preset
from reference_models.nets import (Maxout, build_discriminator, build_generator, init_output_bias_from_marginals,
                                   output_range)

CASES = [
    ("dcgan-mnist", {}),
    ("dcgan-stacked-mnist", {}),
    ("gan2014-mnist", {}),
    ("cgan-mnist", {}),
    ("unrolled-mnist", {}),
    ("collapse", {}),
    ("gan2014-mnist", {"conditional": True}),
    ("dcgan-mnist", {"image_size": 32}),
]


@pytest.mark.parametrize("name,changes", CASES)
def test_forward_shapes_and_ranges(name, changes):
    config = preset(name).replace(**changes)
    torch.manual_seed(0)
    g, d = build_generator(config), build_discriminator(config)
    g.eval()
    d.eval()
    z = torch.randn(5, config.z_dim)
    y = torch.tensor([0, 1, 2, 3, 9]) if config.conditional else None
    x = g(z) if y is None else g(z, y)
    assert x.shape == (5, *config.image_shape)
    lo, hi = output_range(config)
    assert x.min() >= lo and x.max() <= hi
    logits = d(x) if y is None else d(x, y)
    assert logits.shape == (5,)
    assert torch.isfinite(logits).all()


def test_conditional_generator_uses_the_label():
    config = preset("cgan-mnist")
    torch.manual_seed(0)
    g = build_generator(config).eval()
    z = torch.randn(2, config.z_dim)
    a = g(z, torch.tensor([0, 0]))
    b = g(z, torch.tensor([5, 5]))
    assert not torch.allclose(a, b)


def test_gan2014_matches_the_paper_sizes():
    config = preset("gan2014-mnist")
    g, d = build_generator(config), build_discriminator(config)
    linears = [m for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(100, 1200), (1200, 1200), (1200, 784)]
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert [(m.units, m.pieces) for m in maxouts] == [(240, 5), (240, 5)]
    drops = [m.p for m in d.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops == [0.2, 0.5, 0.5]  # input keep 0.8, hidden keep 0.5
    assert g.out.weight.abs().max() <= 0.05 and d.out.weight.abs().max() <= 0.005


def test_maxout_takes_the_max_over_pieces():
    m = Maxout(3, units=2, pieces=3)
    with torch.no_grad():
        m.linear.weight.zero_()
        m.linear.bias.copy_(torch.tensor([1.0, 5.0, 2.0, -1.0, -3.0, -2.0]))
    assert m(torch.zeros(1, 3)).tolist() == [[5.0, -1.0]]


def test_output_bias_from_marginals_reproduces_the_mean_image():
    config = preset("gan2014-mnist")
    g = build_generator(config)
    with torch.no_grad():
        for p in g.parameters():
            p.zero_()
    images = torch.rand(50, 1, 28, 28) * 0.9 + 0.05
    init_output_bias_from_marginals(g, images)
    out = g(torch.zeros(1, config.z_dim))
    assert torch.allclose(out[0], images.mean(0), atol=1e-5)
