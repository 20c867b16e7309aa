import json
import textwrap

import numpy as np
import pytest
import torch

from gandiag.errors import GandiagError
from gandiag.generators import META_FILE, load_generator
from gandiag.sources import load_source


class TanhGen(torch.nn.Module):
    def __init__(self, z_dim=8):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(z_dim, 28 * 28)

    def forward(self, z):
        return torch.tanh(self.fc(z)).view(-1, 1, 28, 28)


@pytest.fixture
def ts_file(tmp_path):
    path = tmp_path / "g.ts"
    meta = {"z_dim": 8, "output_range": [-1, 1]}
    torch.jit.save(torch.jit.script(TanhGen()), str(path), _extra_files={META_FILE: json.dumps(meta)})
    return path


def test_torchscript_with_metadata_samples_canonical_images(ts_file):
    images = load_source(str(ts_file), num_samples=10, seed=3, batch_size=4)
    assert images.images.shape == (10, 1, 28, 28) and images.images.dtype == np.float32
    assert 0.0 <= images.images.min() and images.images.max() <= 1.0
    again = load_source(str(ts_file), num_samples=10, seed=3, batch_size=10)
    np.testing.assert_allclose(images.images, again.images, atol=1e-6)  # batch-size independent
    other = load_source(str(ts_file), num_samples=10, seed=4)
    assert not np.allclose(images.images, other.images)


def test_metadata_contradiction_is_an_error(ts_file):
    with pytest.raises(GandiagError, match="contradicts the file's metadata z_dim=8"):
        load_generator(str(ts_file), z_dim=16)
    with pytest.raises(GandiagError, match="contradicts"):
        load_generator(str(ts_file), output_range="0,1")


def test_torchscript_without_metadata_needs_z_dim_and_range(tmp_path):
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(TanhGen()), str(path))
    with pytest.raises(GandiagError, match="--z-dim"):
        load_generator(str(path))
    gen = load_generator(str(path), z_dim=8)
    with pytest.raises(GandiagError, match="--output-range -1,1"):
        gen.sample(4)
    assert load_generator(str(path), z_dim=8, output_range="-1,1").sample(4).images.shape == (4, 1, 28, 28)


def test_wrong_z_dim_gives_clear_error(tmp_path):
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(TanhGen()), str(path))
    with pytest.raises(GandiagError, match="Check --z-dim"):
        load_generator(str(path), z_dim=5, output_range="-1,1").sample(2)


def test_torch_export_program(tmp_path):
    path = tmp_path / "g.pt2"
    program = torch.export.export(TanhGen(), (torch.zeros(2, 8),),
                                  dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},))
    torch.export.save(program, str(path), extra_files={META_FILE: json.dumps({"z_dim": 8, "output_range": [-1, 1]})})
    ref = load_source(str(path), num_samples=6, seed=1)
    assert ref.images.shape == (6, 1, 28, 28)


def test_module_callable_forms(tmp_path, monkeypatch):
    (tmp_path / "mygen.py").write_text(textwrap.dedent("""
        import torch
        class G(torch.nn.Module):
            gandiag_meta = {"z_dim": 4}
            def forward(self, z):
                return torch.sigmoid(z[:, :1, None, None].repeat(1, 3, 8, 8))
        net = G()
        def make():
            return G()
        def fn(z):
            return torch.zeros(z.shape[0], 8, 8, 3, dtype=torch.uint8) + 255
        def nan(z):
            return torch.full((z.shape[0], 1, 8, 8), float("nan"))
        def flat(z):
            return torch.zeros(z.shape[0], 64)
        def short(z):
            return torch.zeros(1, 1, 8, 8)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_source("mygen:net", num_samples=3).images.shape == (3, 3, 8, 8)
    assert load_source("mygen:make", num_samples=3).images.shape == (3, 3, 8, 8)
    out = load_source("mygen:fn", num_samples=2, z_dim=4)
    assert out.images.shape == (2, 3, 8, 8) and out.images.min() == 1.0
    with pytest.raises(GandiagError, match="NaN"):
        load_source("mygen:nan", num_samples=2, z_dim=4)
    with pytest.raises(GandiagError, match="expected images"):
        load_source("mygen:flat", num_samples=2, z_dim=4)
    with pytest.raises(GandiagError, match="returned 1 images for 2 latents"):
        load_source("mygen:short", num_samples=2, z_dim=4)
    with pytest.raises(GandiagError, match="no attribute"):
        load_generator("mygen:missing")
    with pytest.raises(GandiagError, match="no module named .no_such_module_xyz. is importable"):
        load_generator("no_such_module_xyz:fn")


def test_pickles_refused_unless_trusted(tmp_path):
    path = tmp_path / "g.pkl"
    torch.save(TanhGen(), str(path))
    with pytest.raises(GandiagError, match="--trust-pickle"):
        load_generator(str(path), z_dim=8)
    gen = load_generator(str(path), z_dim=8, output_range="-1,1", trust_pickle=True)
    assert gen.sample(2).images.shape == (2, 1, 28, 28)


def test_non_generator_files(tmp_path):
    state = tmp_path / "weights.pt"
    torch.save(TanhGen().state_dict(), str(state))
    with pytest.raises(GandiagError, match="not a generator"):
        load_generator(str(state))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(GandiagError, match="corrupt"):
        load_generator(str(bad))
    with pytest.raises(GandiagError, match="no such file"):
        load_generator(str(tmp_path / "missing.pt"))


def test_conditional_generator_gets_balanced_labels(tmp_path, monkeypatch):
    (tmp_path / "condgen.py").write_text(textwrap.dedent("""
        import torch
        def g(z, y):
            return (y.float() / 9).view(-1, 1, 1, 1).repeat(1, 1, 6, 6)
        g.gandiag_meta = {"z_dim": 3, "num_classes": 10}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    out = load_source("condgen:g", num_samples=50)
    assert np.bincount(out.labels).tolist() == [5] * 10
    np.testing.assert_allclose(out.images[:, 0, 0, 0], out.labels / 9, atol=1e-6)
