"""Generator and discriminator networks of the reference trainer.

Calling convention (the contract every exported generator keeps):

* ``G(z)`` with ``z`` float32 ``(B, z_dim)`` drawn from the config's prior returns images
  ``(B, C, H, W)`` in the range ``output_range(config)`` (``[0, 1]`` for sigmoid outputs,
  ``[-1, 1]`` for tanh outputs). Conditional generators are called ``G(z, y)`` with
  ``y`` int64 ``(B,)`` class labels.
* ``D(x)`` / ``D(x, y)`` takes images in the *generator's* range and returns logits ``(B,)``;
  the sigmoid is inside the loss (BCE-with-logits), which keeps ``log D`` finite.

Architectures:

* ``gan2014`` — Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, MNIST model
  (``adversarial/mnist.yaml``): G ``z(100) -> ReLU 1200 -> ReLU 1200 -> sigmoid 784`` with
  weights ~ U(-0.05, 0.05) and the output bias set from the data's pixel marginals; D
  ``maxout(240 x 5) -> maxout(240 x 5) -> sigmoid`` with weights ~ U(-0.005, 0.005) and dropout
  (input keep 0.8, hidden keep 0.5, inverted scaling as pylearn2's ``input_scales``).
* ``dcgan`` — Radford et al. 2016 sized for 28x28 (2 strided (transposed) convolutions,
  7 -> 14 -> 28) or 32x32 (3, 4 -> 8 -> 16 -> 32); BatchNorm, ReLU/LeakyReLU(0.2), tanh
  output, weights ~ N(0, 0.02).
* ``mlp`` — small MLPs: G ``(Linear, [BatchNorm,] ReLU) x depth -> sigmoid``, D
  ``(Linear, LeakyReLU(0.2)) x depth -> Linear`` (unrolled GAN, collapse and memorize presets).

Conditioning (cGAN, Mirza & Osindero 2014): the one-hot label is concatenated to ``z``; D
gets it concatenated to its flattened input (MLPs) or as ``num_classes`` constant one-hot
channels (convolutional D).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig


def output_range(config: TrainConfig) -> Tuple[float, float]:
    """Value range of the generator's output for this config (``None``: 2-D points, unbounded)."""
    if config.is_toy:
        return None
    return (-1.0, 1.0) if config.arch == "dcgan" else (0.0, 1.0)


def _one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    return F.one_hot(y.long(), num_classes).to(torch.float32)


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): ``h_i = max_j (x W_ij + b_ij)``."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # pylearn2 groups consecutive pieces of one unit together.
        return self.linear(x).view(-1, self.units, self.pieces).amax(dim=2)


class MLPGenerator(nn.Module):
    """``z [+ one-hot y] -> (Linear, ReLU) x depth -> Linear -> sigmoid`` reshaped to (1, 28, 28)."""

    def __init__(self, z_dim: int, hidden: Tuple[int, ...], num_classes: int = 0, image_side: int = 28,
                 batchnorm: bool = False, z_scale: float = 1.0):
        super().__init__()
        self.num_classes = num_classes
        self.image_side = image_side
        self.z_scale = float(z_scale)  # fixed input scale: U(-1, 1) * sqrt(3) = pylearn2's uniform noise
        layers, width = [], z_dim + num_classes
        for units in hidden:
            layers += [nn.Linear(width, units), nn.BatchNorm1d(units) if batchnorm else nn.Identity(), nn.ReLU()]
            width = units
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, image_side * image_side)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.num_classes > 0:
            assert y is not None, "conditional generator needs labels y"
            z = torch.cat([z * self.z_scale, _one_hot(y, self.num_classes)], dim=1)
        elif self.z_scale != 1.0:
            z = z * self.z_scale
        x = torch.sigmoid(self.out(self.body(z)))
        return x.view(-1, 1, self.image_side, self.image_side)


class MLPDiscriminator(nn.Module):
    """``x [+ one-hot y] -> hidden layers -> Linear(1)`` logits; maxout + dropout for gan2014."""

    def __init__(self, hidden: Tuple[int, ...], num_classes: int = 0, maxout_pieces: int = 0,
                 input_drop: float = 0.0, hidden_drop: float = 0.0, in_features: int = 784, outputs: int = 1):
        super().__init__()
        self.num_classes = num_classes
        layers, width = [nn.Dropout(input_drop)] if input_drop else [], in_features + num_classes
        for i, units in enumerate(hidden):
            if i and hidden_drop:
                layers.append(nn.Dropout(hidden_drop))
            if maxout_pieces:
                layers.append(Maxout(width, units, maxout_pieces))
            else:
                layers += [nn.Linear(width, units), nn.LeakyReLU(0.2)]
            width = units
        if hidden_drop:
            layers.append(nn.Dropout(hidden_drop))
        self.body = nn.Sequential(*layers)
        self.outputs = outputs  # 1: a logit per sample; MAD-GAN: k+1 class logits (B, k+1)
        self.out = nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = x.flatten(1)
        if self.num_classes > 0:
            assert y is not None, "conditional discriminator needs labels y"
            x = torch.cat([x, _one_hot(y, self.num_classes)], dim=1)
        logits = self.out(self.body(x))
        return logits.view(-1) if self.outputs == 1 else logits


class DCGANGenerator(nn.Module):
    """``z -> Linear -> (s0 x s0) -> [ConvT 4x4/2, BN, ReLU]* -> ConvT -> tanh``.

    28x28: 7 -> 14 -> 28 with channels 2w -> w -> C. 32x32: 4 -> 8 -> 16 -> 32 with
    4w -> 2w -> w -> C.
    """

    def __init__(self, z_dim: int, width: int, channels: int = 1, image_size: int = 28,
                 num_classes: int = 0, batchnorm: bool = True):
        super().__init__()
        self.num_classes = num_classes
        ups = 2 if image_size == 28 else 3
        self.base = image_size // 2 ** ups
        chans = [width * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. [2w, w]
        self.c0 = chans[0]
        norm1d = nn.BatchNorm1d if batchnorm else nn.Identity
        norm2d = nn.BatchNorm2d if batchnorm else nn.Identity
        self.fc = nn.Sequential(nn.Linear(z_dim + num_classes, self.c0 * self.base ** 2, bias=not batchnorm),
                                norm1d(self.c0 * self.base ** 2), nn.ReLU())
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=not batchnorm), norm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.num_classes > 0:
            assert y is not None, "conditional generator needs labels y"
            z = torch.cat([z, _one_hot(y, self.num_classes)], dim=1)
        h = self.fc(z).view(-1, self.c0, self.base, self.base)
        return self.body(h)


class DCGANDiscriminator(nn.Module):
    """``x [+ label channels] -> Conv 4x4/2 LReLU -> [Conv 4x4/2, BN, LReLU]* -> Linear(1)``."""

    def __init__(self, width: int, channels: int = 1, image_size: int = 28, num_classes: int = 0,
                 batchnorm: bool = True):
        super().__init__()
        self.num_classes = num_classes
        downs = 2 if image_size == 28 else 3
        chans = [width * 2 ** i for i in range(downs)]
        layers, cin = [], channels + num_classes
        for i, cout in enumerate(chans):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=not (batchnorm and i)))
            if batchnorm and i:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        self.body = nn.Sequential(*layers)
        side = image_size // 2 ** downs
        self.out = nn.Linear(chans[-1] * side * side, 1)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.num_classes > 0:
            assert y is not None, "conditional discriminator needs labels y"
            maps = _one_hot(y, self.num_classes)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, maps], dim=1)
        return self.out(self.body(x).flatten(1)).view(-1)


# ------------------------------------------------------------------------------------------
def _uniform_linear_init(net: nn.Module, bound: float) -> None:
    """gan2014's pylearn2 init: Linear weights ~ U(-bound, bound), zero biases (in module order)."""
    for module in net.modules():
        if isinstance(module, nn.Linear):
            nn.init.uniform_(module.weight, -bound, bound)
            nn.init.zeros_(module.bias)


def build_generator(config: TrainConfig) -> nn.Module:
    """The generator for ``config`` with initial weights drawn from torch's global RNG.

    MAD-GAN (``mad_generators`` > 1): a :class:`~reference_models.mixtures.MADPointGenerator`;
    AdaGAN (``ada_components`` > 1): a :class:`~reference_models.mixtures.MixtureGenerator` of
    that many single generators (weights 1, 0, 0, ... until the trainer adds components).
    """
    if config.mad_generators > 1:
        from .mixtures import MADPointGenerator

        return MADPointGenerator(config.z_dim, (config.g_width,) * config.g_depth, config.batchnorm,
                                 config.mad_generators, config.prior)
    if config.ada_components > 1:
        from .mixtures import MixtureGenerator

        return MixtureGenerator([build_component(config) for _ in range(config.ada_components)], config.prior)
    return build_component(config)


def build_component(config: TrainConfig) -> nn.Module:
    """One plain generator of ``config``'s architecture (an AdaGAN component; else the generator)."""
    classes = config.num_classes or 0
    if config.arch == "gan2014":
        g = MLPGenerator(config.z_dim, (1200, 1200), classes, z_scale=config.z_scale)
        _uniform_linear_init(g, 0.05)
        return g
    if config.is_toy:
        from .toy import PointGenerator

        return PointGenerator(config.z_dim, (config.g_width,) * config.g_depth, config.batchnorm)
    if config.arch == "mlp":
        return MLPGenerator(config.z_dim, (config.g_width,) * config.g_depth, classes, batchnorm=config.batchnorm,
                            z_scale=config.z_scale)
    g = DCGANGenerator(config.z_dim, config.g_width, config.channels, config.image_size, classes, config.batchnorm)
    _dcgan_init(g)
    return g


def build_discriminator(config: TrainConfig) -> nn.Module:
    classes = config.num_classes or 0
    if config.arch == "gan2014":
        drop = config.d_dropout
        d = MLPDiscriminator((240, 240), classes, maxout_pieces=5, input_drop=0.2 if drop else 0.0,
                             hidden_drop=0.5 if drop else 0.0, in_features=784 * config.pack)
        _uniform_linear_init(d, 0.005)
        return d
    if config.arch == "mlp":
        inputs = 2 if config.is_toy else 784
        outputs = config.mad_generators + 1 if config.mad_generators > 1 else 1
        return MLPDiscriminator((config.d_width,) * config.d_depth, classes, in_features=inputs * config.pack,
                                outputs=outputs)
    d = DCGANDiscriminator(config.d_width, config.channels * config.pack, config.image_size, classes,
                           config.batchnorm)
    _dcgan_init(d)
    return d


def init_output_bias_from_marginals(generator: nn.Module, images: torch.Tensor, eps: float = 1e-7) -> None:
    """Set a sigmoid generator's output bias to ``logit(clip(mean pixel, eps, 1 - eps))``
    (pylearn2's ``init_sigmoid_bias_from_marginals``, which clips at 1e-7), so the untrained G
    already outputs the mean digit."""
    assert isinstance(generator, MLPGenerator)
    mean = images.reshape(len(images), -1).mean(0).clamp(eps, 1 - eps)
    with torch.no_grad():
        generator.out.bias.copy_(torch.log(mean) - torch.log1p(-mean))


def _dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016: all weights ~ N(0, 0.02); BatchNorm scale ~ N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
