"""MAD-GAN and AdaGAN in the reference trainer: options, shapes, losses, the AdaGAN weight update,
mixture sampling, checkpoints, exact resume and the monitor."""
import json

import numpy as np
import pytest
import torch

from gandiag.errors import GandiagError
from reference_models.checkpoint import load_generator
from reference_models.config import from_dict
from reference_models.losses import mad_discriminator_loss, mad_generator_loss
from reference_models.mixtures import (MADPointGenerator, MixtureGenerator, adagan_data_weights, next_mixture_weight,
                                       split_mixture_noise)
from reference_models.train import Trainer, main, resume_config

TOY = {"arch": "mlp", "dataset": "ring8", "z_dim": 8, "g_width": 16, "d_width": 16, "batch_size": 32, "steps": 6,
       "monitor_every": 0, "monitor_samples": 200, "log_every": 0, "sample_every": 0, "checkpoint_every": 0}


def toy(**changes):
    return from_dict({**TOY, **changes})


@pytest.mark.parametrize("changes, match", [
    ({"mad_generators": 0}, "mad_generators must be > 0"),
    ({"mad_generators": 3}, "mad_generators=3 must divide batch_size=32"),
    ({"mad_generators": 4, "pack": 2}, "needs pack=1"),
    ({"mad_generators": 4, "unroll_steps": 2}, "needs pack=1, unroll_steps=0"),
    ({"mad_generators": 4, "ada_components": 2}, "ada_components=1"),
    ({"mad_generators": 4, "label_smoothing": 0.1}, "label_smoothing must be 0"),
    ({"mad_generators": 4, "arch": "dcgan", "dataset": "mnist-subset"}, "2-D MLP datasets only"),
    ({"ada_components": 0}, "ada_components must be > 0"),
    ({"ada_components": 4}, "ada_components=4 must divide steps=6"),
    ({"ada_components": 2, "ada_beta": 1.0}, r"ada_beta must be in \[0, 1\)"),
    ({"ada_components": 2, "ada_classifier_steps": 0}, "ada_classifier_steps must be > 0"),
    ({"ada_components": 2, "arch": "dcgan", "dataset": "mnist-subset", "conditional": True}, "unconditional"),
])
def test_invalid_mixture_options_fail_loudly(changes, match):
    with pytest.raises(GandiagError, match=match):
        toy(**changes)


def test_mixture_model_names_and_unknown_keys():
    assert toy(mad_generators=4).model_name == "madgan4-mlp"
    assert toy(ada_components=3).model_name == "adagan3-mlp"
    assert toy(ada_components=3).ada_component_steps == 2
    with pytest.raises(GandiagError, match="unknown config key"):
        from_dict({**TOY, "madgan": 4})


@pytest.mark.parametrize("prior", ["normal", "uniform"])
def test_mixture_noise_picks_components_by_weight_and_redraws_z0_from_the_prior(prior):
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    z = torch.randn(n, 3, generator=gen) if prior == "normal" else torch.rand(n, 3, generator=gen) * 2 - 1
    weights = torch.tensor([0.5, 0.0, 0.3, 0.2], dtype=torch.float64)
    index, z2 = split_mixture_noise(z, weights, prior)
    freq = torch.bincount(index, minlength=4).double() / n
    assert torch.allclose(freq, weights, atol=0.005) and freq[1] == 0  # a zero-weight component is never drawn
    assert torch.equal(z2[:, 1:], z[:, 1:])
    for k in (0, 2, 3):  # within each component the new z_0 is again a prior draw
        x = z2[index == k, 0].double()
        if prior == "normal":
            assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
        else:
            assert x.min() >= -1 and x.max() <= 1 and abs(x.mean()) < 0.02 and abs(x.std() - 3 ** -0.5) < 0.02


def test_mad_generator_heads_share_the_body_and_sample_the_uniform_mixture():
    torch.manual_seed(0)
    g = MADPointGenerator(8, (16, 16), batchnorm=True, heads=4).eval()
    assert len(g.body) == 3 and len(g.heads) == 4  # one shared hidden layer, one per head
    z = torch.randn(40, 8)
    out = g.forward_heads(z)
    assert out.shape == (40, 2)
    h = g.body(z)
    assert torch.allclose(out[10:20], g.heads[1](h[10:20]))  # chunk i goes through head i
    index, z2 = split_mixture_noise(z, g.weights, "normal")
    sample = g(z)
    hz = g.body(z2)
    for b in range(40):
        assert torch.allclose(sample[b], g.heads[int(index[b])](hz[b:b + 1])[0], atol=1e-6)


def test_mad_discriminator_has_k_plus_1_outputs_and_its_losses():
    trainer = Trainer(toy(mad_generators=4), None, quiet=True, monitor=False)
    x = torch.randn(32, 2)
    assert trainer.D(x).shape == (32, 5)
    logits = torch.zeros(6, 5)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    assert mad_discriminator_loss(logits, logits, labels).item() == pytest.approx(np.log(5))
    assert mad_generator_loss(logits, "nonsaturating").item() == pytest.approx(np.log(5))
    assert mad_generator_loss(logits, "minimax").item() == pytest.approx(np.log(4 / 5))
    # one D step lowers D's loss on a fixed batch; one step of all heads lowers G's loss
    real, fake = trainer.data.images[:32], trainer.G.forward_heads(torch.randn(32, 8)).detach()
    labels = torch.arange(4).repeat_interleave(8)
    before = mad_discriminator_loss(trainer.D(real), trainer.D(fake), labels).item()
    stats = trainer.mad_step()
    assert set(stats) == {"d_loss", "d_real", "d_fake", "g_loss"}
    assert mad_discriminator_loss(trainer.D(real), trainer.D(fake), labels).item() < before


def test_adagan_weights_follow_theorem_1():
    # mixture = data (h = 1 everywhere): uniform weights
    assert np.allclose(adagan_data_weights(np.ones(50), 0.3), 1 / 50)
    rng = np.random.default_rng(0)
    ratios = rng.lognormal(0, 1.5, size=1000)
    beta = 0.25
    w = adagan_data_weights(ratios, beta)
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    # w_i = (lambda - (1 - beta) h_i)_+ / (N beta) for one lambda: a line in h where positive
    pos = w > 0
    lam = w[pos] * len(ratios) * beta + (1 - beta) * ratios[pos]
    assert np.allclose(lam, lam[0])
    assert (ratios[~pos] >= lam[0] / (1 - beta) - 1e-9).all()  # well-covered points get weight 0
    assert np.all(np.diff(w[np.argsort(ratios)]) <= 1e-15)  # the more the mixture covers a point, the less weight
    assert next_mixture_weight(0, 0.0) == 1.0 and next_mixture_weight(3, 0.0) == 0.25
    assert next_mixture_weight(3, 0.4) == 0.4


def test_adagan_trains_components_one_after_another_on_reweighted_data():
    trainer = Trainer(toy(ada_components=3, ada_classifier_steps=20), None, quiet=True, monitor=False)
    assert isinstance(trainer.model, MixtureGenerator) and trainer.G is trainer.model.components[0]
    for _ in range(2):
        trainer.train_step()
    assert trainer._data_weights is None and trainer.model.weights.tolist() == [1.0, 0.0, 0.0]
    first = {k: v.clone() for k, v in trainer.model.components[0].state_dict().items()}
    trainer.train_step()  # step 3 starts component 2
    assert trainer.G is trainer.model.components[1]
    assert trainer.model.weights.tolist() == pytest.approx([0.5, 0.5, 0.0])
    w = trainer._data_weights
    assert w.dtype == torch.float64 and w.sum().item() == pytest.approx(1.0) and w.std() > 0
    trainer.train_step()
    for k, v in trainer.model.components[0].state_dict().items():
        assert torch.equal(v, first[k]), k  # a finished component is frozen
    trainer.train_step()
    trainer.train_step()
    assert trainer.model.weights.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert trainer.model(torch.randn(7, 8)).shape == (7, 2)


def _strip_timers(state):
    state.pop("config")
    for key in ("window_s", "elapsed_s", "cpu_s"):
        state["log_state"].pop(key)
    return state


@pytest.mark.parametrize("changes, stop", [
    ({"mad_generators": 4}, 3),
    ({"ada_components": 3, "ada_classifier_steps": 10}, 2),  # stop at a component boundary
    ({"ada_components": 3, "ada_classifier_steps": 10}, 3),  # stop inside component 2
])
def test_mixture_runs_resume_bit_for_bit(tmp_path, changes, stop, assert_identical):
    config = toy(**changes, monitor_every=2, log_every=1)
    full = Trainer(config, tmp_path / "full", quiet=True)
    assert full.fit() == 0
    # interrupted after `stop` steps (fit() with fewer steps would change AdaGAN's component length)
    first = Trainer(config, tmp_path / "part", quiet=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.num_threads)  # as fit() runs (float sums depend on the thread count)
    try:
        while first.step < stop:
            first.train_step()
    finally:
        torch.set_num_threads(threads)
    first.out.mkdir(parents=True, exist_ok=True)
    first.save_checkpoint()
    state = torch.load(tmp_path / "part" / "checkpoints" / "last.pt", weights_only=True)
    torch.manual_seed(999)  # scramble the global RNG: the checkpoint restores it
    second = Trainer(resume_config(config, [], None), tmp_path / "part", quiet=True)
    second.load_state_dict(state)
    assert second.fit() == 0
    assert_identical(_strip_timers(full.state_dict()), _strip_timers(second.state_dict()))


def test_mixture_checkpoints_load_as_generators_and_the_monitor_logs_coverage(tmp_path):
    for name, changes in (("mad", {"mad_generators": 4}), ("ada", {"ada_components": 2, "ada_classifier_steps": 5})):
        out = tmp_path / name
        trainer = Trainer(toy(**changes, steps=4, monitor_every=2), out, quiet=True)
        assert trainer.fit() == 0
        records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        monitor = [r for r in records if r["kind"] == "monitor"]
        assert [r["step"] for r in monitor] == [0, 2, 4] and all(r["num_modes"] == 8 for r in monitor)
        g, meta = load_generator(out)
        z = torch.randn(16, 8)
        assert meta["image_shape"] == [2] and meta["model"] == trainer.config.model_name
        with torch.no_grad():
            trainer.model.eval()
            assert torch.equal(g(z), trainer.model(z))


def test_adagan_resume_refuses_a_new_step_count(tmp_path, capsys):
    out = tmp_path / "run"
    Trainer(toy(ada_components=2, ada_classifier_steps=5, steps=4), out, quiet=True).fit()
    assert main(["--out", str(out), "--resume", "--steps", "8", "--quiet"]) == 2
    assert "cannot change steps of an AdaGAN run" in capsys.readouterr().err


def test_adagan_dcgan_exports_torch_formats_and_refuses_onnx(tmp_path):
    from reference_models.config import preset
    from reference_models.export import example_inputs, export_onnx

    config = preset("dcgan-mnist").replace(ada_components=2, ada_classifier_steps=2, steps=2, g_width=8, d_width=8,
                                           batch_size=16, monitor_every=0, sample_every=0, log_every=0,
                                           checkpoint_every=0)
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    assert trainer.fit() == 0
    assert trainer.model.weights.tolist() == pytest.approx([0.5, 0.5])
    assert {p.name for p in (tmp_path / "run" / "export").iterdir()} >= {"generator_state.pt", "generator.ts"}
    g, meta = load_generator(tmp_path / "run" / "export" / "generator_state.pt")
    assert meta["model"] == "adagan2-dcgan" and g(torch.randn(3, config.z_dim)).shape == (3, 1, 28, 28)
    with pytest.raises(GandiagError, match="ONNX export of a mixture generator"):
        export_onnx(g, example_inputs(meta), meta, tmp_path / "g.onnx")
