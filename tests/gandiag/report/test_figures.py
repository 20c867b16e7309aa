"""Report figures: valid PNGs, pixel-exact image grids, highlighted problems, checked input."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

from gandiag.errors import GandiagError
from gandiag.report import figures



def _open(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    image.load()  # decodes every byte: a truncated file fails here
    return image


def _red_pixels(png: bytes) -> int:
    rgb = np.asarray(_open(png).convert("RGB")).astype(int)
    target = np.array([0xC6, 0x28, 0x28])  # figures.BAD
    return int((np.abs(rgb - target).sum(axis=2) < 40).sum())


def _digits(n=6, channels=1):
    rng = np.random.default_rng(1)
    return rng.uniform(0, 1, (n, channels, 28, 28)).astype(np.float32)


def test_every_figure_is_a_valid_png(synthetic, checkpoints):
    m = synthetic
    parzen = {"sigmas": [0.1, 0.2, 0.4], "validation_log_likelihoods": [-5.0, 3.0, 1.0], "sigma": 0.2,
              "mean": 2.5, "stderr": 0.4}
    rows = checkpoints
    rng = np.random.default_rng(0)
    pngs = {
        "sample_grid": figures.sample_grid(_digits(10), 4),
        "neighbour_grid": figures.neighbour_grid(_digits(3), _digits(6).reshape(3, 2, 1, 28, 28), "Pixels",
                                                 distances=rng.uniform(1, 5, (3, 2)), threshold=2.0),
        "class_histogram": figures.class_histogram(m["modes"]),
        "parzen_curve": figures.parzen_curve(parzen),
        "fid_curve": figures.fid_curve(m["fid-inf"]),
        "coverage_over_steps": figures.coverage_over_steps(rows),
        "class_share_over_steps": figures.class_share_over_steps(
            rows, vanished=[{"class": 3, "vanished_at_step": 1000}], reference_fractions=[0.1] * 10),
        "fid_over_steps": figures.fid_over_steps(rows),
    }
    for name, png in pngs.items():
        image = _open(png)
        assert image.format == "PNG", name
        assert image.width >= 200 and image.height >= 150, (name, image.size)


def test_sample_grid_is_pixel_exact():
    """Integer upscaling, no interpolation: only the image values and the gutter grey appear."""
    image = np.zeros((1, 1, 4, 4), dtype=np.float32)
    image[0, 0, ::2, ::2] = 1.0  # checkerboard-ish pattern of 0 and 1
    png = figures.sample_grid(image, 1, target_width=40)  # mosaic 8x8 px (2 px gutters) -> scale 5
    out = np.asarray(_open(png).convert("L"))
    assert out.shape == (40, 40)
    assert set(np.unique(out).tolist()) <= {0, 191, 255}  # 0.75 * 255 = 191 gutter
    block = out[10:15, 10:15]  # image pixel (0, 0) after the 2-px gutter, scaled 5x
    assert (block == 255).all()
    assert (out[15:20, 10:15] == 0).all()


def test_sample_grid_layout_and_rgb():
    png = figures.sample_grid(_digits(10, channels=3), 5, target_width=150)
    out = _open(png)
    assert out.mode in ("RGB", "RGBA")
    assert out.size == (5 * 30 + 2, 2 * 30 + 2)  # scale 1: 5 per row, 2 rows, 2-px gutters


def test_figures_are_deterministic_and_leave_matplotlib_settings_alone(synthetic):
    before = dict(matplotlib.rcParams)
    m = synthetic
    assert figures.class_histogram(m["modes"]) == figures.class_histogram(m["modes"])
    assert figures.fid_curve(m["fid-inf"]) == figures.fid_curve(m["fid-inf"])
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k] and k != "backend"} == set()


def test_class_histogram_marks_missing_classes_in_red(synthetic):
    modes = {k: v for k, v in synthetic["modes"].items() if k != "threshold"}  # no red threshold line
    with_missing = _red_pixels(figures.class_histogram(modes))
    healthy = dict(modes, missing=[], covered=10)
    assert _red_pixels(figures.class_histogram(healthy)) < 50
    assert with_missing > 200  # red tick labels and "missing" labels (the bars themselves are ~0 high)


def test_neighbour_grid_frames_close_neighbours_in_red():
    queries = _digits(2)
    neighbours = _digits(4).reshape(2, 2, 1, 28, 28)
    far = figures.neighbour_grid(queries, neighbours, "x", distances=[[3.0, 4.0], [3.5, 5.0]], threshold=1.0)
    near = figures.neighbour_grid(queries, neighbours, "x", distances=[[0.0, 4.0], [0.5, 5.0]], threshold=1.0)
    assert _red_pixels(far) < 20
    assert _red_pixels(near) > 200


def test_diagnosis_figures_accept_unknown_steps(checkpoints):
    rows = [dict(r, step=None) for r in checkpoints]  # no step numbers: checkpoint order is used
    _open(figures.coverage_over_steps(rows))
    _open(figures.class_share_over_steps(rows))


@pytest.mark.parametrize("call, match", [
    (lambda rows: figures.sample_grid(np.zeros((2, 28, 28), np.float32)), "canonical"),
    (lambda rows: figures.sample_grid(_digits(2), 0), "nrow"),
    (lambda rows: figures.neighbour_grid(_digits(2), _digits(2), "t"), r"\(Q, k, C, H, W\)"),
    (lambda rows: figures.neighbour_grid(_digits(2), _digits(4).reshape(2, 2, 1, 28, 28), "t", distances=[[1.0]]),
     "distances"),
    (lambda rows: figures.class_histogram({"fractions": [0.5, 0.5]}), "missing key"),
    (lambda rows: figures.class_histogram({"fractions": [1.0], "num_classes": 2, "missing": []}), "num_classes=2"),
    (lambda rows: figures.parzen_curve({"sigmas": [0.1], "validation_log_likelihoods": [], "sigma": 0.1}), "sigmas"),
    (lambda rows: figures.fid_curve({"ns": [0, 10], "fids": [1, 2], "fid_inf": 0.5, "slope": 1}), "positive ns"),
    (lambda rows: figures.coverage_over_steps([]), "non-empty"),
    (lambda rows: figures.fid_over_steps([dict(r, fid=None) for r in rows]), "no checkpoint has an FID"),
    (lambda rows: figures.class_share_over_steps(rows, reference_fractions=[0.5, 0.5]), "expected 10"),
])
def test_bad_input_is_a_gandiag_error(call, match, checkpoints):
    with pytest.raises(GandiagError, match=match):
        call(checkpoints)


def test_rgb_and_large_images_stay_small():
    rng = np.random.default_rng(2)
    big = rng.uniform(0, 1, (16, 3, 256, 256)).astype(np.float32)
    grid = _open(figures.sample_grid(big, 8, target_width=760))
    assert grid.width <= 760  # box-downsampled 256 -> 85 px instead of a 2066-px-wide page element
    queries, neighbours = big[:2], big[2:8].reshape(2, 3, 3, 256, 256)
    _open(figures.neighbour_grid(queries, neighbours, "RGB", distances=np.ones((2, 3))))
