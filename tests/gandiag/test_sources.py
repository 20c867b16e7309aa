"""The source registry: every input kind recognised by exactly one registered kind, with provenance."""
import textwrap

import numpy as np
import pytest
import torch

from gandiag.data import ImageSet, load_images
from gandiag.data.kinds import SOURCES, list_sources, matching_kinds, register_source, resolve_kind
from gandiag.errors import GandiagError
from gandiag.sources import is_generator_spec, load_source, open_generator


@pytest.fixture
def files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.random((12, 1, 8, 8), dtype=np.float32)
    np.savez(tmp_path / "s.npz", images=images)
    (tmp_path / "pngs").mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray((images[i, 0] * 255).astype(np.uint8)).save(tmp_path / "pngs" / f"{i}.png")
    torch.save({"w": torch.zeros(3)}, tmp_path / "weights.pt")
    (tmp_path / "toy_gen_mod.py").write_text(textwrap.dedent('''
        import torch
        def g(z):
            return torch.sigmoid(z[:, :64]).reshape(-1, 1, 8, 8)
        g.gandiag_meta = {"z_dim": 64}
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_each_builtin_kind_recognises_its_specs_and_only_them(files):
    assert matching_kinds(str(files / "s.npz")) == ["array"]
    assert matching_kinds(str(files / "pngs")) == ["image-folder"]
    assert matching_kinds("mnist-subset:test") == ["mnist-subset"]
    assert matching_kinds("fashion-mnist:test") == ["fashion-mnist"]
    assert matching_kinds("toy_gen_mod:g") == ["callable"]
    assert matching_kinds("no_such_package_xyz:g") == []  # not importable: not taken for a callable
    assert is_generator_spec("toy_gen_mod:g") and not is_generator_spec(str(files / "s.npz"))
    assert {"array", "image-folder", "idx", "mnist-subset", "torchscript", "export", "callable", "pickle",
            "checkpoint"} <= {k.name for k in list_sources()}  # checkpoint: the reference trainer's entry point


def test_images_carry_kind_and_provenance(files):
    data = load_source(str(files / "s.npz"), num_samples=5, seed=1)
    assert data.kind == "array" and len(data) == 5
    assert data.provenance == {"spec": str(files / "s.npz"), "kind": "array", "role": "data", "num_samples": 5,
                               "seed": 1, "description": data.source}
    gen = load_source("toy_gen_mod:g", num_samples=7, seed=3)
    assert gen.kind == "callable" and gen.provenance["role"] == "generator"
    assert gen.provenance["generator"]["z_dim"] == 64 and gen.provenance["seed"] == 3
    assert load_images("mnist-subset:test").kind == "mnist-subset"
    assert open_generator("toy_gen_mod:g").z_dim == 64


def test_unknown_and_weights_only_specs_are_errors_naming_the_kinds(files):
    with pytest.raises(GandiagError, match=r"is not a source gandiag can read \(no such file.*Known kinds: array"):
        load_source(str(files / "missing.npz2"))
    with pytest.raises(GandiagError, match="holds tensors only, not a generator: gandiag cannot rebuild a network from weights"):
        load_source(str(files / "weights.pt"))
    with pytest.raises(GandiagError, match="is not a data gandiag can read"):
        load_images("toy_gen_mod:g")  # --ref takes data kinds only


def test_ambiguous_specs_name_both_candidates_and_new_kinds_need_no_edit(files):
    def toy_load(spec, options):
        n = int(spec.partition(":")[2] or 4)
        return ImageSet(np.full((n, 1, 4, 4), 0.5, np.float32), None, spec)

    register_source("toyset", lambda s: s.partition(":")[0] == "toyset", load=toy_load,
                    description="constant toy images", example="toyset:4")
    register_source("npz-twin", lambda s: s.endswith(".npz"), load=lambda s, o: None, description="clash")
    try:
        data = load_source("toyset:6")  # a new data kind, spelled like module:attr, works without other edits
        assert data.kind == "toyset" and len(data) == 6 and data.provenance["spec"] == "toyset:6"
        with pytest.raises(GandiagError, match="is ambiguous: it is recognised as array and npz-twin"):
            load_source(str(files / "s.npz"))
        with pytest.raises(GandiagError, match="source kind 'toyset' is already registered"):
            register_source("toyset", lambda s: False, load=toy_load, description="again")
        with pytest.raises(GandiagError, match="exactly one of load"):
            register_source("neither", lambda s: False, description="bad")
    finally:
        SOURCES._entries.pop("toyset", None)
        SOURCES._entries.pop("npz-twin", None)
    assert resolve_kind(str(files / "s.npz")).name == "array"


def test_run_folder_hints(tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "step_0000001.pt").write_bytes(b"x")  # a model file: not an image folder
    with pytest.raises(GandiagError, match="a run folder without checkpoints/last.pt"):
        load_source(str(tmp_path / "run"))
    entry = SOURCES._entries.pop("checkpoint")  # as if the reference_models plug-in were not installed
    try:
        with pytest.raises(GandiagError, match="read by the reference_models plug-in"):
            load_source(str(tmp_path / "run"))
    finally:
        SOURCES._entries["checkpoint"] = entry
