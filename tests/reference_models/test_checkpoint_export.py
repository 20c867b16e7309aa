"""Checkpoint reading (with its errors), load_generator, and the three export formats."""
import io
import json

import pytest
import torch

from gandiag.errors import GandiagError
from reference_models import load_generator
from reference_models.checkpoint import read_checked, save_torch_atomic
from reference_models.config import preset
from reference_models.export import example_inputs, main as export_main, read_exported, read_torchscript
from reference_models.train import Trainer

TINY = dict(g_width=8, d_width=8, batch_size=16, train_size=64, monitor_every=0, log_every=0,
            sample_every=0, checkpoint_every=0, steps=2)


@pytest.fixture(scope="module", params=["dcgan-mnist", "cgan-mnist", "collapse"])
def run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    trainer = Trainer(preset(request.param).replace(**TINY), out, quiet=True)
    assert trainer.fit() == 0
    return out


def _outputs(module, meta):
    with torch.no_grad():
        return module(*example_inputs(meta, batch=6))


def test_load_generator_from_run_checkpoint_and_state_export_agree(run):
    g_run, meta = load_generator(run)
    g_ckpt, meta_ckpt = load_generator(run / "checkpoints" / "step_0000002.pt")
    g_state, meta_state = load_generator(run / "export" / "generator_state.pt")
    assert meta == meta_ckpt == meta_state
    assert set(meta) >= {"z_dim", "prior", "output_range", "num_classes", "image_shape", "model", "step"}
    assert not g_run.training and meta["step"] == 2
    a = _outputs(g_run, meta)
    assert a.shape == (6, *meta["image_shape"])
    lo, hi = meta["output_range"]
    assert a.min() >= lo and a.max() <= hi
    assert torch.equal(a, _outputs(g_ckpt, meta)) and torch.equal(a, _outputs(g_state, meta))
    state = torch.load(run / "export" / "generator_state.pt", weights_only=True)
    assert state["meta"] == meta and state["format"] == "gandiag-reference-generator/1"


def test_torchscript_and_torch_export_reproduce_the_generator(run):
    g, meta = load_generator(run)
    expected = _outputs(g, meta)
    ts, ts_meta = read_torchscript(run / "export" / "generator.ts")
    pt2, pt2_meta = read_exported(run / "export" / "generator.pt2")
    assert ts_meta == meta and pt2_meta == meta
    assert torch.equal(_outputs(ts, meta), expected)
    assert torch.allclose(_outputs(pt2, meta), expected, rtol=0, atol=1e-6)
    z = torch.randn(3, meta["z_dim"])  # another batch size: the batch dimension is dynamic
    args = (z,) if not meta["num_classes"] else (z, torch.tensor([1, 2, 3]))
    with torch.no_grad():
        assert pt2(*args).shape == ts(*args).shape == (3, *meta["image_shape"])


def test_export_cli_writes_all_three_formats(run, tmp_path, capsys):
    assert export_main([str(run / "checkpoints" / "last.pt"), "--out", str(tmp_path / "exp")]) == 0
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == \
        ["generator.pt2", "generator.ts", "generator_state.pt"]
    assert export_main([str(tmp_path / "missing.pt"), "--out", str(tmp_path / "exp2")]) == 2
    assert "not found" in capsys.readouterr().err


def test_missing_corrupt_and_foreign_files_raise_clear_errors(run, tmp_path):
    with pytest.raises(GandiagError, match="generator checkpoint not found: .*nope.pt"):
        load_generator(tmp_path / "nope.pt")
    with pytest.raises(GandiagError, match="a folder without checkpoints/last.pt"):
        load_generator(tmp_path)
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(GandiagError, match="truncated.pt cannot be read: it is corrupt, truncated"):
        load_generator(tmp_path / "truncated.pt")
    (tmp_path / "noise.pt").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(GandiagError, match="cannot be read: it is corrupt"):
        load_generator(tmp_path / "noise.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(GandiagError, match="is not a gandiag reference checkpoint"):
        load_generator(tmp_path / "plain.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(GandiagError, match="not a gandiag reference checkpoint .format 'Tensor'"):
        read_checked(tmp_path / "tensor.pt")
    with open(tmp_path / "pickled.pt", "wb") as handle:
        torch.save({"format": "gandiag-reference-checkpoint/1", "obj": io.StringIO("x")}, handle)
    with pytest.raises(GandiagError, match="objects that weights_only loading refuses"):
        load_generator(tmp_path / "pickled.pt")


def test_damaged_entries_and_mismatched_weights(run, tmp_path):
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    broken = dict(state)
    del broken["generator"]
    save_torch_atomic(broken, tmp_path / "nogen.pt")
    with pytest.raises(GandiagError, match="damaged: the 'generator' entry is missing"):
        load_generator(tmp_path / "nogen.pt")
    wrong = dict(state, config={**state["config"], "g_width": state["config"]["g_width"] * 2})
    save_torch_atomic(wrong, tmp_path / "wrong.pt")
    with pytest.raises(GandiagError, match="generator weights do not match its config"):
        load_generator(tmp_path / "wrong.pt")
    future = dict(state, config={**state["config"], "new_knob": 1})
    save_torch_atomic(future, tmp_path / "future.pt")
    with pytest.raises(GandiagError, match="stored config is not valid.*unknown config key"):
        load_generator(tmp_path / "future.pt")


def test_checkpoint_holds_only_weights_only_types(run):
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert {"format", "config", "step", "generator", "discriminator", "g_optimizer", "d_optimizer", "rng",
            "data_batches", "meta"} <= set(state)
    assert state["rng"]["torch"].dtype == torch.uint8 and state["rng"]["noise"].dtype == torch.uint8
    json.dumps(state["config"]) and json.dumps(state["meta"])


@pytest.mark.slow
def test_onnx_export_matches_pt2_through_gandiag(run, tmp_path, capsys, recwarn):
    """--onnx writes generator.onnx (dynamo exporter, meta as a model prop) that gandiag samples like the .pt2."""
    pytest.importorskip("onnxruntime")
    if run.name.rstrip("0123456789") != "cgan-mnist":  # one preset (conditional: z and y inputs) is enough
        pytest.skip("ONNX export checked on cgan-mnist only (each export takes seconds)")
    import numpy as np

    from gandiag.sources import load_source

    assert export_main([str(run), "--out", str(tmp_path / "exp"), "--onnx"]) == 0
    out = capsys.readouterr().out
    assert all(line.split(":")[0] in ("state", "ts", "pt2", "onnx") for line in out.strip().splitlines()), out
    assert not [w for w in recwarn if "deprecat" in str(w.message).lower()]  # no jit/onnx notices for users
    onnx_images = load_source(str(tmp_path / "exp" / "generator.onnx"), num_samples=40, seed=3)
    pt2_images = load_source(str(tmp_path / "exp" / "generator.pt2"), num_samples=40, seed=3)
    assert onnx_images.kind == "onnx" and onnx_images.provenance["generator"]["num_classes"] == 10
    np.testing.assert_allclose(onnx_images.images, pt2_images.images, atol=1e-5)
    np.testing.assert_array_equal(onnx_images.labels, pt2_images.labels)
