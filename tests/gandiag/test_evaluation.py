"""evaluate / diagnose / neighbours / fid front door: every input kind, schema, verdicts, bad input."""
import json
import textwrap

import numpy as np
import pytest
import torch

from gandiag.cli import main
from gandiag.data import load_mnist_subset
from gandiag.errors import GandiagError
from gandiag.evaluation import EVALUATIONS, EvaluateOptions, evaluate
from gandiag.generators import META_FILE
from gandiag.sources import load_source

GENS = textwrap.dedent('''
    import numpy as np
    import torch
    from gandiag.data import load_mnist_subset

    _test = load_mnist_subset("test").subset(slice(0, 1000))  # the other 1000 are the held-out set
    _train = load_mnist_subset("train")
    _NO3 = torch.from_numpy(np.ascontiguousarray(_test.images[_test.labels != 3]))
    _ONLY01 = torch.from_numpy(np.ascontiguousarray(_test.images[_test.labels <= 1]))
    _ALL = torch.from_numpy(np.ascontiguousarray(_test.images))
    _TRAIN = torch.from_numpy(np.ascontiguousarray(_train.images))

    def _pick(pool, z):
        idx = (z[:, 0].abs() * 1e6).long() % len(pool)
        return pool[idx]

    def no_three(z):
        return _pick(_NO3, z)
    no_three.gandiag_meta = {"z_dim": 4}

    def only_01(z):
        return _pick(_ONLY01, z)
    only_01.gandiag_meta = {"z_dim": 4}

    def healthy(z):
        return _pick(_ALL, z)
    healthy.gandiag_meta = {"z_dim": 4}

    def replay_train(z):
        return _pick(_TRAIN, z)
    replay_train.gandiag_meta = {"z_dim": 4}

    def tanh_out(z):
        return _pick(_ALL, z) * 2 - 1
    tanh_out.gandiag_meta = {"z_dim": 4}

    def nan_out(z):
        return torch.full((z.shape[0], 1, 28, 28), float("nan"))
    nan_out.gandiag_meta = {"z_dim": 4}

    def wrong_shape(z):
        return torch.zeros(z.shape[0], 1, 32, 32)
    wrong_shape.gandiag_meta = {"z_dim": 4}
''')


HELDOUT = load_mnist_subset("test").subset(slice(1000, 2000), "test[1000:]")


@pytest.fixture
def heldout_npz(tmp_path):
    path = tmp_path / "heldout.npz"
    np.savez(path, images=HELDOUT.images, labels=HELDOUT.labels)
    return str(path)


@pytest.fixture
def gens(tmp_path, monkeypatch):
    (tmp_path / "demo_gens.py").write_text(GENS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "demo_gens"


FAST = ("modes", "neighbours", "mnist-fid")


def test_missing_digit_is_reported_missing(gens):
    fake = load_source(f"{gens}:no_three", num_samples=1500)
    ev = evaluate(fake, EvaluateOptions(metrics=FAST), heldout=HELDOUT)
    assert ev.metrics["modes"]["missing"] == [3]
    assert ev.metrics["modes"]["covered"] == 9
    assert not ev.metrics["neighbours"]["copying"]
    # classifier-based metrics bring the out-of-domain guard (gandiag.metrics.domain) along
    assert set(ev.metrics) == {"modes", "neighbours", "mnist-fid", "domain_check", "provenance"}


def test_replayed_training_images_are_flagged_as_copying(gens):
    ev = evaluate(load_source(f"{gens}:replay_train", num_samples=1000), EvaluateOptions(metrics=("neighbours",)))
    assert ev.metrics["neighbours"]["copying"] and ev.metrics["neighbours"]["copy_fraction"] > 0.9
    healthy = evaluate(load_source(f"{gens}:healthy", num_samples=1000), EvaluateOptions(metrics=("neighbours",)),
                       heldout=HELDOUT)
    assert not healthy.metrics["neighbours"]["copying"]


def test_default_metrics_schema_for_mnist(gens):
    ev = evaluate(load_source(f"{gens}:healthy", num_samples=1200), EvaluateOptions(bootstrap=10), heldout=HELDOUT)
    m = ev.metrics
    assert set(m) == {"mnist-fid", "mnist-is", "modes", "kid", "prdc", "parzen", "neighbours",
                      "domain_check", "provenance"}
    assert set(m["domain_check"]) >= {"out_of_domain", "far_fraction", "classifier", "message"}
    assert set(m["prdc"]) >= {"precision", "recall", "density", "coverage"}
    assert set(m["parzen"]) >= {"mean", "stderr", "sigma"}
    assert set(m["modes"]) >= {"covered", "num_classes", "missing", "counts", "kl_to_reference"}
    assert set(m["neighbours"]) >= {"mean_distance", "copy_fraction"}
    # the interval is for the generator's FID: it holds the bias-corrected estimate (the plug-in value
    # sits above it by the finite-sample bias)
    lo, hi = m["mnist-fid"]["ci95"]
    corrected = m["mnist-fid"]["bias_corrected"]
    assert 0 <= lo <= corrected <= hi + 1e-9 and corrected <= m["mnist-fid"]["value"]
    assert m["modes"]["covered"] == 10 and m["mnist-fid"]["value"] < 20.0  # real digits, drawn with replacement
    prov = m["provenance"]
    assert prov["seed"] == 0 and prov["num_generated"] == 1200
    # the shipped classifier's weights are identified by their hash (was an always-true assertion on a
    # "weights" key that provenance never had)
    from gandiag.fileio import sha256_file

    ext = prov["extractors"]["mnist-classifier"]
    assert ext["weights_sha256"] == sha256_file(ext["weights_path"]) and len(ext["weights_sha256"]) == 64
    json.dumps(m, allow_nan=False)


def test_unknown_metric_lists_valid_values():
    with pytest.raises(GandiagError, match="valid values are: " + ", ".join(EVALUATIONS.names())):
        evaluate(load_mnist_subset("test"), EvaluateOptions(metrics=("fidd",)))


def test_shape_mismatch_is_clear(gens):
    with pytest.raises(GandiagError, match="1x28x28"):
        evaluate(load_source(f"{gens}:wrong_shape", num_samples=10), EvaluateOptions(metrics=("modes",)))


@pytest.mark.parametrize("kind", ["npz", "folder", "torchscript", "pt2"])
def test_cli_input_kinds(tmp_path, kind, capsys, heldout_npz):
    test = load_mnist_subset("test")
    images = (test.images[:300] * 255).round().astype(np.uint8)
    if kind == "npz":
        src = tmp_path / "s.npz"
        np.savez(src, images=images)
    elif kind == "folder":
        from PIL import Image

        src = tmp_path / "imgs"
        src.mkdir()
        for i, im in enumerate(images[:120]):
            Image.fromarray(im[0]).save(src / f"{i:04d}.png")
    else:
        pool = torch.from_numpy(np.ascontiguousarray(test.images[:500]))

        class Replay(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("pool", pool)

            def forward(self, z):
                idx = (z[:, 0].abs() * 1e6).long() % self.pool.shape[0]
                return self.pool[idx] * 2 - 1  # a tanh-range generator

        meta = json.dumps({"z_dim": 4, "output_range": [-1, 1]})
        if kind == "torchscript":
            src = tmp_path / "g.ts"
            torch.jit.save(torch.jit.script(Replay()), str(src), _extra_files={META_FILE: meta})
        else:
            src = tmp_path / "g.pt2"
            prog = torch.export.export(Replay(), (torch.zeros(2, 4),),
                                       dynamic_shapes=({0: torch.export.Dim("b", min=1, max=4096)},))
            torch.export.save(prog, str(src), extra_files={META_FILE: meta})
    out = tmp_path / "eval"
    args = ["evaluate", str(src), "--metrics", "modes,neighbours", "--out", str(out), "--quiet",
            "--heldout", heldout_npz]
    if kind in ("torchscript", "pt2"):
        args += ["--num-samples", "300"]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["modes"]["covered"] == 10
    assert (out / "report.html").stat().st_size > 10_000
    assert "modes covered: 10/10" in capsys.readouterr().out


def test_cli_reference_checkpoint_and_diagnose(tmp_path, capsys):
    from reference_models.train import main as train_main

    run = tmp_path / "run"
    assert train_main(["--config", "collapse", "--out", str(run), "--steps", "40", "--quiet",
                       "--set", "checkpoint_every=20", "--set", "monitor_every=0", "--set", "sample_every=0"]) == 0
    assert main(["evaluate", str(run / "checkpoints" / "last.pt"), "--metrics", "modes", "--num-samples", "200",
                 "--out", str(tmp_path / "e"), "--quiet"]) == 0
    assert main(["diagnose", str(run), "--num-samples", "200", "--out", str(tmp_path / "d"), "--quiet"]) == 0
    diag = json.loads((tmp_path / "d" / "diagnosis.json").read_text())
    assert [c["step"] for c in diag["checkpoints"]] == [20, 40]
    assert diag["verdict"]["verdict"] in ("healthy", "partial collapse", "collapse", "memorization")
    assert "verdict:" in capsys.readouterr().out


def test_diagnose_names_vanishing_digit(gens, tmp_path, heldout_npz):
    from gandiag.diagnostics.run import diagnose

    result, arrays = diagnose([f"{gens}:healthy", f"{gens}:no_three", f"{gens}:only_01"], num_samples=600,
                              options=EvaluateOptions(heldout=heldout_npz))
    assert result["verdict"]["verdict"] == "collapse"
    vanished = {v["class"]: v["vanished_at_step"] for v in result["verdict"]["vanished"]}
    assert vanished[3] == 1 and vanished[5] == 2
    assert arrays["final_samples"].shape[1:] == (1, 28, 28)


@pytest.mark.parametrize("spec, extra, match", [
    ("missing.npz", [], "array file not found"),
    ("missing_dir", [], "no such file or folder"),
    ("{gens}:nan_out", [], "NaN"),
    ("{gens}:wrong_shape", ["--metrics", "neighbours"], "pass a matching --ref"),
    ("{gens}:tanh_out", [], "--output-range -1,1"),
    ("{gens}:healthy", ["--metrics", "fid,bogus"], "unknown metric 'bogus'"),
])
def test_cli_bad_inputs_exit_2_with_one_line(gens, tmp_path, capsys, spec, extra, match, heldout_npz):
    code = main(["evaluate", spec.format(gens=gens), "--num-samples", "50", "--quiet", "--heldout", heldout_npz,
                 *extra])
    err = capsys.readouterr().err
    assert code == 2 and match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_tanh_generator_with_declared_range_works(gens):
    fake = load_source(f"{gens}:tanh_out", num_samples=400, value_range="-1,1")
    assert evaluate(fake, EvaluateOptions(metrics=("modes",)), heldout=HELDOUT).metrics["modes"]["covered"] == 10


def test_fid_command_stats_roundtrip(tmp_path, capsys):
    stats = tmp_path / "ref.npz"
    assert main(["fid", "--save-stats", "mnist-subset:test", str(stats), "--extractor", "mnist-classifier",
                 "--quiet"]) == 0
    assert main(["fid", str(stats), str(stats)]) == 0
    assert "FID: 0.000000" in capsys.readouterr().out
    assert main(["fid", "mnist-subset:test", "mnist-subset", "--extractor", "mnist-classifier", "--quiet"]) == 0
    value = float(capsys.readouterr().out.split("FID:")[1].split()[0])
    assert 0 < value < 5


def test_neighbours_command(gens, tmp_path, heldout_npz):
    assert main(["neighbours", f"{gens}:replay_train", "--num-samples", "300", "-k", "3",
                 "--out", str(tmp_path / "nn"), "--quiet", "--heldout", heldout_npz]) == 0
    m = json.loads((tmp_path / "nn" / "metrics.json").read_text())
    # feature-space neighbours use the MNIST classifier, so the out-of-domain guard runs too
    assert set(m) == {"neighbours", "domain_check", "provenance"} and m["neighbours"]["copying"]
    assert np.asarray(m["neighbours"]["pixel_neighbours"]).shape[1] == 3


def test_heldout_overlapping_the_samples_is_refused():
    test = load_mnist_subset("test")
    with pytest.raises(GandiagError, match="must be disjoint"):
        evaluate(test, EvaluateOptions(metrics=("parzen",)))
    ok = evaluate(test.subset(slice(0, 1000)), EvaluateOptions(metrics=("parzen",)), heldout=test.subset(slice(1000, 2000)))
    assert 100 < ok.metrics["parzen"]["mean"] < 400  # real digits: ~+220 nats at 5k samples, ~+140 at 1k


def test_shared_reference_gives_the_same_numbers_as_fresh_ones(gens):
    from gandiag.evaluation import Reference

    options = EvaluateOptions(metrics=("modes", "mnist-fid", "neighbours"), bootstrap=0)
    reference = Reference(options, heldout=HELDOUT)
    for name in ("healthy", "no_three"):
        fake = load_source(f"{gens}:{name}", num_samples=300)
        shared = evaluate(fake, reference=reference).metrics
        fresh = evaluate(fake, options, heldout=HELDOUT).metrics
        for key in ("modes", "mnist-fid", "neighbours"):
            assert shared[key] == fresh[key]
    with pytest.raises(GandiagError, match="come from the Reference"):
        evaluate(fake, EvaluateOptions(), reference=reference)
