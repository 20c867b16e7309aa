"""ONNX generators through the source registry: same images as TorchScript, metadata never guessed, no custom ops."""
import io
import json
import warnings

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from gandiag.errors import GandiagError  # noqa: E402
from gandiag.generators import META_FILE  # noqa: E402
from gandiag.sources import load_source  # noqa: E402


class _G(torch.nn.Module):
    """A small DCGAN-like generator: z (B, 16) -> tanh images (B, 1, 8, 8)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(16, 8 * 4 * 4)
        self.up = torch.nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1)

    def forward(self, z):
        return torch.tanh(self.up(torch.relu(self.fc(z)).reshape(-1, 8, 4, 4)))


META = {"z_dim": 16, "output_range": [-1, 1]}


def _export_onnx(module, path, props=None, inputs=("z",)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, 16),), str(path), input_names=list(inputs), output_names=["images"],
                          dynamic_axes={"z": {0: "batch"}, "images": {0: "batch"}}, dynamo=False)
    model = onnx.load(str(path))
    if props:
        onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    g = _G().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        script = torch.jit.trace(g, torch.randn(2, 16))
        torch.jit.save(script, str(folder / "g.ts"), _extra_files={META_FILE: json.dumps(META)})
    _export_onnx(g, folder / "g.onnx", {"gandiag.json": json.dumps(META)})
    _export_onnx(g, folder / "flat.onnx", {"z_dim": "16", "output_range": "-1,1"})
    _export_onnx(g, folder / "bare.onnx")
    return folder


def test_onnx_gives_the_torchscript_images(exported):
    ts = load_source(str(exported / "g.ts"), num_samples=300, seed=4, batch_size=128)
    ox = load_source(str(exported / "g.onnx"), num_samples=300, seed=4, batch_size=128)
    assert ox.kind == "onnx" and ox.provenance["generator"]["z_dim"] == 16
    assert ox.images.shape == ts.images.shape == (300, 1, 8, 8)
    np.testing.assert_allclose(ox.images, ts.images, atol=2e-6)
    flat = load_source(str(exported / "flat.onnx"), num_samples=300, seed=4)  # flat props work too
    np.testing.assert_allclose(flat.images, ts.images, atol=2e-6)


def test_latent_size_and_range_are_never_guessed(exported):
    bare = str(exported / "bare.onnx")
    with pytest.raises(GandiagError, match="latent size is not recorded in the file; pass --z-dim"):
        load_source(bare, num_samples=4)
    with pytest.raises(GandiagError, match="--output-range"):  # tanh outputs outside the default 0,1
        load_source(bare, num_samples=64, z_dim=16)
    ok = load_source(bare, num_samples=8, z_dim=16, value_range="-1,1")  # flags = what the metadata says
    np.testing.assert_array_equal(ok.images, load_source(str(exported / "g.onnx"), num_samples=8).images)
    with pytest.raises(GandiagError, match="takes 16 latents but z_dim is 8"):
        load_source(bare, num_samples=4, z_dim=8, value_range="-1,1")
    with pytest.raises(GandiagError, match="--z-dim 8 contradicts the file's metadata z_dim=16"):
        load_source(str(exported / "g.onnx"), num_samples=4, z_dim=8)


def test_custom_operator_domains_and_outside_data_are_refused(exported, tmp_path):
    model = onnx.load(str(exported / "g.onnx"))
    model.graph.node[0].domain = "com.example.native"
    model.opset_import.append(onnx.helper.make_opsetid("com.example.native", 1))
    onnx.save(model, str(tmp_path / "custom.onnx"))
    with pytest.raises(GandiagError, match="custom domains \\(com.example.native\\).*loads none"):
        load_source(str(tmp_path / "custom.onnx"), num_samples=4)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(GandiagError, match="corrupt or not an ONNX model"):
        load_source(str(tmp_path / "junk.onnx"), num_samples=4)


def test_cli_evaluates_an_onnx_generator(exported, tmp_path, capsys):
    from gandiag.cli import main

    ref = tmp_path / "ref.npz"
    np.savez(ref, images=np.random.default_rng(0).random((64, 1, 8, 8), dtype=np.float32))
    code = main(["evaluate", str(exported / "g.onnx"), "--ref", str(ref), "--metrics", "1nn-accuracy",
                 "--extractor", "pixels", "--num-samples", "64", "--quiet", "--out", str(tmp_path / "ev")])
    assert code == 0, capsys.readouterr().err
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["provenance"]["source"]["kind"] == "onnx" and m["1nn-accuracy"]["num_fake"] == 64
