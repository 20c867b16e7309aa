"""Feature extraction: gandiag's FID InceptionV3 vs pytorch-fid's, same weights and images, same run.

Run: ``python -m pytest benchmarks/test_extraction.py --benchmark-enable -p no:randomly``

Groups (speed-up = peer median / gandiag median, printed at the end):

* ``inception-64x28-cpu``: 64 RGB 28x28 images, resized to 299x299 inside both
  extractors (pytorch-fid protocol: bilinear), batch 32, CPU float32, random
  He-initialised weights in pytorch-fid's state-dict format (the published file
  cannot be downloaded here; speed does not depend on the weight values). The peer
  is ``pytorch_fid.inception.InceptionV3([3])`` called as pytorch-fid's
  ``get_activations`` does (``torch.no_grad``, one forward per batch); gandiag is
  ``get_extractor("inception-v3-fid").extract`` (inference mode, BatchNorm folded
  into the convolutions, channels-last memory layout: its defaults). Features are
  asserted equal to 1e-5 first. gandiag with ``channels_last=False`` is reported as an
  extra line (``gandiag-contiguous``) to show where the speed comes from.
* ``inception-64x28-cpu-interleaved``: the same two extractions alternated for 3 rounds
  (order swapped each round), medians compared: robust to load swings on shared cores.
* ``mnist-classifier-2000-cpu``: the shipped MNIST CNN over the 2,000 embedded test
  digits (no peer: absolute numbers only, for the timing documentation).
"""
from unittest import mock

import numpy as np
import pytest
import torch

from gandiag.data import load_mnist_subset
from gandiag.features import get_extractor, time_extraction
from gandiag.features.inception import random_state_dict

N_IMAGES, BATCH = 64, 32
GROUP = "inception-64x28-cpu"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    state = random_state_dict(seed=0)
    path = tmp_path_factory.mktemp("bench") / "random_inception.pth"
    torch.save(state, path)
    return state, path


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((N_IMAGES, 3, 28, 28), dtype=np.float32)


@pytest.fixture(scope="module")
def peer(weights):
    import pytorch_fid.inception as pfi

    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: weights[0]):
        return pfi.InceptionV3([3]).eval()


def _peer_extract(model, images):
    """pytorch-fid's get_activations loop without the file loader."""
    out = []
    for s in range(0, len(images), BATCH):
        batch = torch.from_numpy(images[s:s + BATCH])
        with torch.no_grad():
            pred = model(batch)[0]
        out.append(pred.squeeze(3).squeeze(2).cpu().numpy())
    return np.concatenate(out)


@pytest.fixture(scope="module")
def ours(weights):
    return get_extractor("inception-v3-fid", weights=weights[1])


def test_same_features(ours, peer, images):
    a = ours.extract(images[:BATCH], batch_size=BATCH)["features"]
    b = _peer_extract(peer, images[:BATCH])
    assert np.abs(a - b).max() <= 1e-5


@pytest.mark.benchmark(group=GROUP)
def test_inception_gandiag(benchmark, ours, images, speedups):
    ours.extract(images[:BATCH], batch_size=BATCH)  # warm-up (oneDNN primitive creation)
    out = benchmark.pedantic(lambda: ours.extract(images, batch_size=BATCH), rounds=3, iterations=1)
    speedups.record_benchmark(GROUP, "gandiag", benchmark)
    assert out["features"].shape == (N_IMAGES, 2048)


@pytest.mark.benchmark(group=GROUP)
def test_inception_pytorch_fid(benchmark, peer, images, speedups):
    _peer_extract(peer, images[:BATCH])  # warm-up
    out = benchmark.pedantic(lambda: _peer_extract(peer, images), rounds=3, iterations=1)
    speedups.record_benchmark(GROUP, "peer", benchmark)
    assert out.shape == (N_IMAGES, 2048)


@pytest.mark.benchmark(group=GROUP)
def test_inception_gandiag_contiguous(benchmark, weights, images, speedups):
    ext = get_extractor("inception-v3-fid", weights=weights[1], channels_last=False)
    ext.extract(images[:BATCH], batch_size=BATCH)
    benchmark.pedantic(lambda: ext.extract(images, batch_size=BATCH), rounds=3, iterations=1)
    speedups.record_benchmark(GROUP, "gandiag-contiguous", benchmark)


def test_mnist_classifier_timing(speedups):
    digits = np.array(load_mnist_subset("test").images)
    rep = time_extraction(get_extractor("mnist-classifier"), digits, batch_size=500, warmup=1)
    speedups.record("mnist-classifier-2000-cpu", "images_per_s", rep.images_per_s)
    speedups.record("mnist-classifier-2000-cpu", "p50_ms_per_500", rep.latency_ms["p50"])
    assert rep.images_per_s > 0


def test_interleaved_ratio(ours, peer, images, speedups):
    """Alternate the two sides (order swapped each round) so load swings on the shared cores hit both."""
    import time

    group = "inception-64x28-cpu-interleaved"
    ours.extract(images[:BATCH], batch_size=BATCH)
    _peer_extract(peer, images[:BATCH])
    sides = {"gandiag": lambda: ours.extract(images, batch_size=BATCH), "peer": lambda: _peer_extract(peer, images)}
    for r in range(3):
        for side in (("gandiag", "peer") if r % 2 == 0 else ("peer", "gandiag")):
            start = time.perf_counter()
            sides[side]()
            speedups.record(group, side, time.perf_counter() - start)
