"""gandiag.safe_load: archives are inspected before torch sees them, and torch.load is forced safe."""
import io
import json
import os
import pickle
import zipfile

import pytest
import torch

from gandiag import safe_load
from gandiag.errors import GandiagError
from gandiag.generators import load_generator
from gandiag.safe_load import UnsafeFileError, check_torch_payload, pickle_globals


class _Marker:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _TinyG(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 784)

    def forward(self, z):
        return torch.sigmoid(self.lin(z)).view(-1, 1, 28, 28)


@pytest.fixture(scope="module")
def good_pt2(tmp_path_factory):
    path = tmp_path_factory.mktemp("pt2") / "g.pt2"
    program = torch.export.export(_TinyG().eval(), (torch.randn(3, 4),),
                                  dynamic_shapes=({0: torch.export.Dim("b", min=2, max=64)},))
    torch.export.save(program, str(path), extra_files={"gandiag.json": json.dumps({"z_dim": 4})})
    return path


def _with_member(src, dst, suffix, payload):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, payload if info.filename.endswith(suffix) else zin.read(info.filename))
    return dst


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_globals_sees_global_and_stack_global(tmp_path, protocol):
    data = pickle.dumps(_Marker(tmp_path / "m"), protocol=protocol)  # protocol 4+ uses STACK_GLOBAL + MEMOIZE
    assert ("io", "open") in pickle_globals(data) or ("builtins", "open") in pickle_globals(data)
    with pytest.raises(UnsafeFileError, match="--trust-pickle"):
        check_torch_payload(data, "x.pkl")
    assert not (tmp_path / "m").exists()


def test_tensor_pickles_pass_the_allow_list():
    check_torch_payload(_saved({"w": torch.randn(3), "n": torch.arange(4)}), "state.pt")
    check_torch_payload(_saved(torch.nn.Linear(2, 2).state_dict()), "state.pt")


def test_good_export_loads_and_samples(good_pt2):
    gen = load_generator(str(good_pt2))
    assert gen.sample(3).images.shape == (3, 1, 28, 28)


def test_hostile_sample_inputs_refused_before_torch(good_pt2, tmp_path):
    marker = tmp_path / "ran"
    evil = _with_member(good_pt2, tmp_path / "evil.pt2", "data/sample_inputs/model.pt",
                        _saved(((_Marker(marker),), {})))
    with pytest.raises(UnsafeFileError, match="sample_inputs.*--trust-pickle"):
        load_generator(str(evil))
    assert not marker.exists()


def test_forced_weights_only_is_a_second_barrier(good_pt2, tmp_path, monkeypatch):
    """Even if the inspection missed something, torch.export.load's weights_only=False fallback
    runs under TORCH_FORCE_WEIGHTS_ONLY_LOAD and cannot unpickle the object."""
    marker = tmp_path / "ran"
    evil = _with_member(good_pt2, tmp_path / "evil.pt2", "data/sample_inputs/model.pt",
                        _saved(((_Marker(marker),), {})))
    monkeypatch.setattr(safe_load, "check_export_archive", lambda *a, **k: [])
    with pytest.raises(UnsafeFileError, match="--trust-pickle"):
        safe_load.load_export(evil)
    assert not marker.exists()
    assert "TORCH_FORCE_WEIGHTS_ONLY_LOAD" not in os.environ  # restored after the block


@pytest.mark.parametrize("payload, message", [(b"", "empty"), (b"not a zip at all", "not a valid torch.export"),
                                              (None, "torch.export")])
def test_empty_garbage_truncated(good_pt2, tmp_path, payload, message):
    path = tmp_path / "bad.pt2"
    path.write_bytes(good_pt2.read_bytes()[:2000] if payload is None else payload)
    with pytest.raises(GandiagError, match=message):
        load_generator(str(path), z_dim=4)


def test_plain_pickle_contract(tmp_path):
    """Without trust: refused before a byte is unpickled. With --trust-pickle: one pickle.load."""
    marker = tmp_path / "ran"
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps(_Marker(marker)))
    with pytest.raises(UnsafeFileError, match="--trust-pickle"):
        load_generator(str(path), z_dim=4)
    assert not marker.exists()
    with pytest.raises(GandiagError, match="unpickled to a TextIOWrapper, not a generator"):
        load_generator(str(path), z_dim=4, trust_pickle=True)
    assert marker.exists()  # the user trusted it: it ran, once, and the result was checked
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps(torch.nn.Sequential(torch.nn.Linear(4, 784), torch.nn.Sigmoid(),
                                                      torch.nn.Unflatten(1, (1, 28, 28)))))
    assert load_generator(str(good), z_dim=4, trust_pickle=True).sample(2).images.shape == (2, 1, 28, 28)
