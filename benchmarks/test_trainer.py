"""Reference trainer vs a plain PyTorch DCGAN loop of the same architecture, same run.

Run: ``python -m pytest benchmarks/test_trainer.py --benchmark-enable -p no:randomly -s``

Both sides train the ``dcgan-mnist`` networks (same G and D modules, batch 64, Adam 2e-4,
non-saturating loss, 1 intra-op thread) on the embedded MNIST subset. The plain loop is
the textbook one (random batch indices, ``BCEWithLogitsLoss``, detach the fake batch for D).
The reference trainer adds its exact-resume data order, schedules, seeded noise generator,
divergence checks and running statistics; the ratio shows what that bookkeeping costs.
``test_interleaved_ratio`` alternates blocks of the two loops so that load from other
processes hits both alike, and prints ``trainer steps/s / plain steps/s``.
"""
import statistics
import time

import pytest
import torch

from reference_models.config import preset
from reference_models.nets import build_discriminator, build_generator
from reference_models.train import Trainer

CONFIG = preset("dcgan-mnist").replace(monitor_every=0)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(CONFIG.num_threads)
    yield
    torch.set_num_threads(threads)


class PlainLoop:
    """The DCGAN training step as PyTorch's examples write it."""

    def __init__(self, trainer_data):
        torch.manual_seed(0)
        self.data = trainer_data.images
        self.G, self.D = build_generator(CONFIG), build_discriminator(CONFIG)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.bce = torch.nn.BCEWithLogitsLoss()
        self.ones, self.zeros = torch.ones(CONFIG.batch_size), torch.zeros(CONFIG.batch_size)

    def step(self):
        b = CONFIG.batch_size
        real = self.data[torch.randint(0, len(self.data), (b,))]
        fake = self.G(torch.randn(b, CONFIG.z_dim))
        self.opt_d.zero_grad()
        loss_d = 0.5 * (self.bce(self.D(real), self.ones) + self.bce(self.D(fake.detach()), self.zeros))
        loss_d.backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        loss_g = self.bce(self.D(fake), self.ones)
        loss_g.backward()
        self.opt_g.step()
        return loss_d.item(), loss_g.item()


@pytest.fixture(scope="module")
def trainer():
    return Trainer(CONFIG, None, quiet=True, monitor=False)


@pytest.fixture(scope="module")
def plain(trainer):
    return PlainLoop(trainer.data)


def test_reference_trainer_step(benchmark, trainer):
    benchmark.group = "dcgan-mnist training step"
    benchmark.pedantic(trainer.train_step, rounds=40, iterations=1, warmup_rounds=5)


def test_plain_pytorch_step(benchmark, plain):
    benchmark.group = "dcgan-mnist training step"
    benchmark.pedantic(plain.step, rounds=40, iterations=1, warmup_rounds=5)


def test_interleaved_ratio(trainer, plain):
    block = 20
    ours, theirs = [], []
    for _ in range(5):
        for fn, out in ((trainer.train_step, ours), (plain.step, theirs)):
            start = time.perf_counter()
            for _ in range(block):
                fn()
            out.append(block / (time.perf_counter() - start))
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"\nreference trainer {statistics.median(ours):.2f} steps/s, plain loop "
          f"{statistics.median(theirs):.2f} steps/s, ratio {ratio:.3f}")
    assert ratio > 0.5  # a regression guard; the measured ratio goes to benchmarks/README.md
