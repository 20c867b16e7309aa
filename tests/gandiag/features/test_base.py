"""Extractor.extract_batch: CPU forward passes sliced to max_forward_batch (bounded activation memory)."""
import numpy as np

from gandiag.data import load_mnist_subset
from gandiag.features import get_extractor
from gandiag.features.inception import InceptionExtractor


def test_large_batches_run_in_forward_slices_with_the_same_features():
    ext = get_extractor("mnist-classifier")
    images = np.ascontiguousarray(load_mnist_subset("test").images[:45])
    whole = ext.extract_batch(images, ("features", "logits"))
    seen = []
    original = ext.forward_tensor

    def spy(x):
        seen.append(int(x.shape[0]))
        return original(x)

    ext.forward_tensor = spy
    ext.max_forward_batch = 20
    sliced = ext.extract_batch(images, ("features", "logits"))
    assert seen == [20, 20, 5]
    for key in whole:
        np.testing.assert_allclose(sliced[key], whole[key], rtol=1e-5, atol=1e-6)
    assert InceptionExtractor.max_forward_batch == 32  # the 3.4 GiB fix: batch 250 ran as one pass
