"""Label-free collapse figures render from real metric results."""
import io

import numpy as np
import pytest
from PIL import Image

from gandiag.errors import GandiagError
from gandiag.metrics.birthday import _crossing
from gandiag.metrics.ndb import ndb, ndb_bins, under_populated_examples
from gandiag.metrics.toy_modes import TOY_SETUPS, sample_toy, toy_mode_metrics
from gandiag.report.collapse_figures import (birthday_curve, ndb_bins_figure, ndb_missing_grid, pair_grid,
                                             toy_scatter)


def _size(png):
    return Image.open(io.BytesIO(png)).size


def test_ndb_figures():
    rng = np.random.default_rng(0)
    ref = rng.random((400, 1, 8, 8)).astype(np.float32)
    ref[:200] *= 0.2
    bins = ndb_bins(ref.reshape(400, -1), 6, seed=0)
    out = ndb(ref[200:].reshape(200, -1), bins=bins)
    assert out["under"]
    assert _size(ndb_bins_figure(out))[0] == 760
    w, h = _size(ndb_missing_grid(ref, under_populated_examples(out, bins)))
    assert w > 0 and h > 0
    with pytest.raises(GandiagError, match="no under-populated bins"):
        ndb_missing_grid(ref, [])


def test_birthday_and_toy_figures():
    images = np.random.default_rng(0).random((10, 1, 28, 28)).astype(np.float32)
    png = pair_grid(images, [[0, 1], [2, 3]], [0.0, 1.5], [True, False])
    assert png.startswith(b"\x89PNG")
    s, status = _crossing([8, 16, 32], [0.1, 0.4, 0.9])
    for st, sh in ((status, s), ("at_least", 32.0), ("at_most", 8.0)):
        birthday_curve({"batch_sizes": [8, 16, 32], "duplicate_probability": [0.1, 0.4, 0.9], "status": st,
                        "s_half": sh, "support_estimate": sh ** 2})
    x = sample_toy("ring8", 500, seed=0)
    ring = TOY_SETUPS["ring8"]
    assert _size(toy_scatter(x, ring.centres, ring.std, toy_mode_metrics(x, "ring8")))[0] == 460
