"""Helpers shared by the reference-trainer tests."""
import pytest
import torch


def assert_identical(a, b, where="state"):
    """Nested state dicts/lists equal, tensors bit for bit (``torch.equal``); ``where`` names the first difference."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(name="assert_identical")
def _assert_identical_fixture():
    return assert_identical
