import numpy as np
import pytest
import torch

from gandiag.errors import GandiagError
from gandiag.images import check_canonical, flatten, parse_range, to_canonical, to_rgb, to_uint8


def test_uint8_nchw_is_divided_by_255_exactly():
    x = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    y = to_canonical(x)
    assert y.dtype == np.float32 and y.shape == (1, 1, 16, 16)
    np.testing.assert_array_equal(to_uint8(y), x)
    assert y.max() == 1.0 and y.min() == 0.0


def test_nhwc_rgb_is_transposed():
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype(np.float32)
    y = to_canonical(x)
    assert y.shape == (2, 3, 8, 8)
    np.testing.assert_array_equal(y[1, 2], x[1, :, :, 2])


def test_tanh_range_is_mapped_to_unit_interval():
    x = np.array([-1.0, 0.0, 1.0], dtype=np.float32).reshape(1, 1, 1, 3).repeat(3, axis=2)
    y = to_canonical(x, value_range="-1,1", layout="NCHW")
    np.testing.assert_allclose(y[0, 0, 0], [0.0, 0.5, 1.0])


def test_float_255_range_and_torch_tensor_input():
    t = torch.full((2, 1, 5, 5), 255.0)
    y = to_canonical(t, value_range="0,255")
    assert np.all(y == 1.0)


def test_grayscale_stack_and_flat_rows():
    assert to_canonical(np.zeros((5, 28, 28), np.uint8)).shape == (5, 1, 28, 28)
    assert to_canonical(np.zeros((5, 784), np.float32)).shape == (5, 1, 28, 28)


def test_negative_float_without_declared_range_names_the_flag():
    with pytest.raises(GandiagError, match="--output-range -1,1"):
        to_canonical(np.full((1, 1, 5, 5), -0.5, np.float32))


def test_float_above_one_names_255_flag():
    with pytest.raises(GandiagError, match="--output-range 0,255"):
        to_canonical(np.full((1, 1, 5, 5), 200.0, np.float32))


def test_ambiguous_layout_asks_for_layout_flag():
    with pytest.raises(GandiagError, match="--layout"):
        to_canonical(np.zeros((2, 3, 3, 3), np.float32))
    assert to_canonical(np.zeros((2, 3, 3, 3), np.float32), layout="NHWC").shape == (2, 3, 3, 3)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((2, 1, 5, 5), bool), "unsupported dtype"),
        (np.zeros((0, 1, 5, 5), np.float32), "no images"),
        (np.zeros((2, 4, 5, 5), np.float32), "alpha"),
        (np.zeros((2, 5, 5, 2), np.float32), "1 or 3 channels"),
        (np.zeros((2, 30), np.float32), "flattened square"),
        (np.zeros((4,), np.float32), "1-D"),
        (np.zeros((32, 32, 3), np.float32), "add a batch axis"),
        (np.zeros((2, 1, 5, 5), np.int32), "--output-range 0,255"),
    ],
)
def test_bad_inputs(x, match):
    with pytest.raises(GandiagError, match=match):
        to_canonical(x)


def test_nan_is_rejected_and_counted():
    x = np.zeros((3, 1, 5, 5), np.float32)
    x[1, 0, 0, 0] = np.nan
    with pytest.raises(GandiagError, match="1 of 3 images contain NaN"):
        to_canonical(x)


def test_uint8_with_other_declared_range_is_an_error():
    with pytest.raises(GandiagError, match="uint8 images are always 0..255"):
        to_canonical(np.zeros((1, 1, 5, 5), np.uint8), value_range="-1,1")


def test_parse_range_forms_and_errors():
    assert parse_range("-1, 1") == (-1.0, 1.0)
    assert parse_range((0, 2)) == (0.0, 2.0)
    for bad in ("a,b", "1,0", "nan,1"):
        with pytest.raises(GandiagError, match="invalid value range"):
            parse_range(bad)


def test_helpers_require_canonical_and_convert():
    x = np.random.default_rng(1).random((2, 1, 5, 5)).astype(np.float32)
    assert to_rgb(x).shape == (2, 3, 5, 5)
    assert flatten(x).shape == (2, 25)
    with pytest.raises(GandiagError, match="canonical"):
        check_canonical(x.astype(np.float64))
