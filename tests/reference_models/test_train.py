"""Training steps, exact resume, run-folder layout, CLI and Ctrl-C of the reference trainer."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gandiag.errors import GandiagError
from reference_models.checkpoint import CHECKPOINT_FORMAT
from reference_models.config import preset
from reference_models.losses import discriminator_loss, generator_loss, unrolled_discriminator
from reference_models.train import Trainer, main, resume_config

# Tiny but complete: BatchNorm DCGAN, 8 channels, batches of 16 from a 64-digit subset.
TINY = dict(g_width=8, d_width=8, batch_size=16, train_size=64, monitor_every=0, log_every=1,
            sample_every=2, checkpoint_every=2, steps=4)
TINY_SET = [f"{k}={v}" for k, v in TINY.items()]


def tiny(name="dcgan-mnist", **changes):
    return preset(name).replace(**{**TINY, **changes})


def fixed_batches(trainer, n=16):
    gen = torch.Generator().manual_seed(5)
    real = trainer.data.images[:n]
    z = torch.randn(n, trainer.config.z_dim, generator=gen)
    ry = trainer.data.labels[:n] if trainer.config.conditional else None
    fy = torch.randint(0, 10, (n,), generator=gen) if trainer.config.conditional else None
    return real, ry, z, fy


@pytest.mark.parametrize("name,changes", [("dcgan-mnist", {}), ("gan2014-mnist", {"batch_size": 16}),
                                          ("cgan-mnist", {}), ("collapse", {})])
def test_one_discriminator_step_decreases_its_loss_on_a_fixed_batch(name, changes):
    trainer = Trainer(tiny(name, **changes), None, quiet=True)
    trainer.D.eval()  # no dropout / batch statistics noise in the comparison
    real, ry, z, fy = fixed_batches(trainer)
    with torch.no_grad():
        fake = trainer._g(z, fy)

    def loss():
        with torch.no_grad():
            return discriminator_loss(trainer._d(real, ry), trainer._d(fake, fy)).item()

    before = loss()
    for group in trainer.d_opt.param_groups:
        group["lr"] = 1e-3 if trainer.config.optimizer == "adam" else 0.05
    trainer.discriminator_step(real, ry, fake, fy)
    assert loss() < before


def test_one_generator_step_decreases_its_loss_against_a_fixed_discriminator():
    trainer = Trainer(tiny(arch="mlp", batchnorm=False, g_lr=1e-3, d_lr=1e-3), None, quiet=True)  # no BatchNorm: clean
    _, _, z, fy = fixed_batches(trainer)

    def loss():
        with torch.no_grad():
            return generator_loss(trainer._d(trainer._g(z, fy), fy), "nonsaturating").item()

    before = loss()
    trainer.config = trainer.config.replace(loss="nonsaturating")
    trainer.generator_step(z, fy)
    assert loss() < before


def test_losses_are_stable_at_extreme_logits():
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(discriminator_loss(big, -big, 0.1))
    assert torch.isfinite(generator_loss(big, "minimax")) and torch.isfinite(generator_loss(-big, "nonsaturating"))
    # -log D(G(z)) = softplus(-l): log 2 at l = 0; log(1 - D) = -softplus(l): -log 2 at l = 0
    zero = torch.zeros(3)
    assert generator_loss(zero, "nonsaturating").item() == pytest.approx(0.6931471805599453)
    assert generator_loss(zero, "minimax").item() == pytest.approx(-0.6931471805599453)


def test_unrolled_lookahead_is_differentiable_and_leaves_d_untouched():
    trainer = Trainer(tiny("unrolled-mnist", unroll_steps=2), None, quiet=True)
    real, _, z, _ = fixed_batches(trainer)
    before = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    fake = trainer.G(z)
    ahead = unrolled_discriminator(trainer.D, real, fake, steps=2, lr=0.1)
    loss = generator_loss(ahead(fake), "nonsaturating")
    grads = torch.autograd.grad(loss, list(trainer.G.parameters()))
    assert all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert all(torch.equal(before[k], v) for k, v in trainer.D.state_dict().items())
    with torch.no_grad():  # the look-ahead D differs from the current one
        assert not torch.allclose(ahead(fake), trainer.D(fake))
    trainer.train_step()  # and a full unrolled step runs


def _all_state(trainer):
    state = trainer.state_dict()
    return state


@pytest.mark.parametrize("name", ["dcgan-mnist", "gan2014-mnist"])
def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path, name, assert_identical):
    extra = {"batch_size": 16} if name == "gan2014-mnist" else {}
    config = tiny(name, steps=6, checkpoint_every=3, **extra)
    full = Trainer(config, tmp_path / "full", quiet=True)
    assert full.fit() == 0
    # Same run stopped after 3 steps, then resumed in a fresh Trainer from checkpoints/last.pt.
    first = Trainer(config.replace(steps=3), tmp_path / "part", quiet=True)
    assert first.fit() == 0
    state = torch.load(tmp_path / "part" / "checkpoints" / "last.pt", weights_only=True)
    torch.manual_seed(12345)  # scramble global RNG: the checkpoint must restore it
    second = Trainer(resume_config(first.config, [], 6), tmp_path / "part", quiet=True)
    second.load_state_dict(state)
    assert second.fit() == 0
    a, b = full.state_dict(), second.state_dict()
    a.pop("config"), b.pop("config")  # differs only in `steps`
    for state in (a, b):  # wall/CPU seconds differ between any two runs
        for key in ("window_s", "elapsed_s", "cpu_s"):
            state["log_state"].pop(key)
    assert_identical(a, b)


def test_cli_run_folder_layout_checkpoint_contract_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--config", "dcgan-mnist", "--out", str(out), "--quiet"]
    for item in TINY_SET:
        args += ["--set", item]
    assert main(args) == 0
    assert json.loads((out / "config.json").read_text())["g_width"] == 8
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == \
        ["last.pt", "step_0000002.pt", "step_0000004.pt"]
    assert sorted(p.name for p in (out / "export").iterdir()) == \
        ["generator.pt2", "generator.ts", "generator_state.pt"]
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["format"] == CHECKPOINT_FORMAT and ckpt["step"] == 4
    assert ckpt["meta"] == {"z_dim": 64, "prior": "normal", "output_range": [-1.0, 1.0], "num_classes": None,
                            "image_shape": [1, 28, 28], "model": "dcgan", "step": 4}
    json.dumps(ckpt["config"])
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "steps_per_s"} <= set(records[0])
    # The same folder again without --resume is refused; with --resume it continues.
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["--out", str(out), "--resume", "--steps", "6", "--quiet"]) == 0
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] == 6
    assert main(["--out", str(out), "--resume", "--set", "d_steps=3", "--quiet"]) == 2
    assert "cannot change d_steps" in capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["--config", "dcgan-mnist", "--out", str(tmp_path / "x"), "--set", "bogus=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set 'bogus=1': unknown config key 'bogus'") and err.count("\n") == 1
    assert main(["--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "checkpoint to resume not found" in capsys.readouterr().err


def test_resume_config_only_allows_schedule_changes():
    stored = tiny()
    assert resume_config(stored, ["log_every=7"], 10).steps == 10
    with pytest.raises(GandiagError, match="cannot change g_lr"):
        resume_config(stored, ["g_lr=0.1"], None)


def test_divergence_is_reported_not_silently_logged(monkeypatch):
    trainer = Trainer(tiny(), None, quiet=True)
    monkeypatch.setattr(trainer, "generator_step", lambda *a, **k: {"g_loss": float("nan")})
    with pytest.raises(GandiagError, match="diverged at step 1: g_loss = nan"):
        trainer.train_step()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-u", "-c",
           "import sys, reference_models.train as t; sys.exit(t.main(sys.argv[1:]))",
           "--config", "dcgan-mnist", "--out", str(out), "--quiet", "--steps", "100000",
           "--set", "checkpoint_every=0", "--set", "sample_every=0"]
    for item in TINY_SET:
        if not item.startswith(("steps=", "checkpoint_every=", "sample_every=")):
            cmd += ["--set", item]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    log = out / "log.jsonl"
    import time

    deadline = time.time() + 60
    while time.time() < deadline and not (log.exists() and log.stat().st_size > 0):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "Traceback" not in err
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] >= 1
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["event"] == "interrupted" and last["step"] == state["step"]


TIMING_FIELDS = ("steps_per_s", "elapsed_s", "cpu_s", "monitor_s")


def _log_records(path):
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_FIELDS}
            for line in path.read_text().splitlines()]


def test_resumed_log_equals_uninterrupted_log_line_by_line(tmp_path):
    # log_every=3 and a stop after step 5: the checkpoint falls inside a log window, and the
    # end-of-session monitor check at step 5 is off schedule (monitor_every=4).
    config = tiny("collapse", steps=9, log_every=3, checkpoint_every=0, sample_every=0, monitor_every=4,
                  monitor_samples=100)
    assert main(["--config", "collapse", "--out", str(tmp_path / "full"), "--quiet"]
                + [f"--set={k}={v}" for k, v in config.to_dict().items()]) == 0
    assert main(["--config", "collapse", "--out", str(tmp_path / "part"), "--quiet"]
                + [f"--set={k}={v}" for k, v in config.replace(steps=5).to_dict().items()]) == 0
    part_log = (tmp_path / "part" / "log.jsonl").read_text()
    assert '"final": true' in part_log  # the off-schedule check that the resume must drop
    state = torch.load(tmp_path / "part" / "checkpoints" / "last.pt", weights_only=True)
    assert state["log_state"]["window_n"] == 2  # steps 4 and 5 of the window ending at 6
    assert main(["--out", str(tmp_path / "part"), "--resume", "--steps", "9", "--quiet"]) == 0
    full, resumed = _log_records(tmp_path / "full" / "log.jsonl"), _log_records(tmp_path / "part" / "log.jsonl")
    assert [r["step"] for r in full if r["kind"] == "train"] == [3, 6, 9]
    assert len(full) == len(resumed)
    for a, b in zip(full, resumed):
        assert a == b
    # cumulative timers: the resumed session continues the first one's clock
    last = [json.loads(line) for line in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    train = [r for r in last if r["kind"] == "train"]
    assert train[1]["elapsed_s"] >= state["log_state"]["elapsed_s"] >= train[0]["elapsed_s"]
    assert [r["steps_run"] for r in last if r["kind"] == "event"] == [9]


def test_gan2014_simultaneous_update_takes_both_gradients_at_the_same_weights():
    # pylearn2's AdversaryCost2: D's and G's gradients from one forward pass at the old weights.
    config = tiny("gan2014-mnist", batch_size=16, d_dropout=False)
    assert config.update == "simultaneous"
    trainer, twin = Trainer(config, None, quiet=True), Trainer(config, None, quiet=True)
    trainer._set_schedules()
    real, _ = twin._real_batch()
    z, _ = twin._noise(config.batch_size)
    fake = twin.G(z)
    lr = trainer.g_opt.param_groups[0]["lr"]
    g_grads = torch.autograd.grad(generator_loss(twin.D(fake), "nonsaturating"), list(twin.G.parameters()))
    d_grads = torch.autograd.grad(discriminator_loss(twin.D(real), twin.D(fake.detach())), list(twin.D.parameters()))
    trainer.train_step()
    # first SGD-momentum step: p <- p - lr * grad
    for new, old, grad in zip(trainer.G.parameters(), twin.G.parameters(), g_grads):
        torch.testing.assert_close(new, old - lr * grad, rtol=0, atol=1e-7)
    for new, old, grad in zip(trainer.D.parameters(), twin.D.parameters(), d_grads):
        torch.testing.assert_close(new, old - lr * grad, rtol=0, atol=1e-7)
    # alternating (the option) lets G see the updated D: a different G step
    alt = Trainer(config.replace(update="alternating", reuse_fake=True), None, quiet=True)
    alt.train_step()
    assert any(not torch.allclose(a, b) for a, b in zip(alt.G.parameters(), trainer.G.parameters()))


def test_gan2014_noise_is_pylearn2_uniform_and_bias_clip_is_1e7():
    config = preset("gan2014-mnist")
    assert (config.prior, config.z_scale) == ("uniform", 3 ** 0.5)
    trainer = Trainer(tiny("gan2014-mnist", batch_size=16), None, quiet=True)
    z = torch.rand(8, config.z_dim) * 2 - 1  # the exported contract: z ~ U(-1, 1)
    with torch.no_grad():  # G's first layer sees U(-sqrt3, sqrt3) noise (variance 1)
        by_hand = torch.sigmoid(trainer.G.out(trainer.G.body(z * 3 ** 0.5))).view(-1, 1, 28, 28)
        torch.testing.assert_close(trainer.G(z), by_hand)
    mean = trainer.data.images.reshape(len(trainer.data), -1).mean(0).double()
    assert (mean == 0).any()  # blank corner pixels: clipped at 1e-7, not 1e-3
    expected = torch.logit(mean.clamp(1e-7, 1 - 1e-7)).float()
    torch.testing.assert_close(trainer.G.out.bias, expected)
    with pytest.raises(GandiagError, match="update=simultaneous takes one joint step"):
        config.replace(d_steps=2)


def test_unrolled_lookahead_repeats_ds_own_adam_steps():
    # The look-ahead with D's optimizer = K real Adam steps of a copy of D (and its state) on the
    # same batches: Metz et al. unroll the optimizer D actually uses.
    import copy

    trainer = Trainer(tiny("unrolled-mnist", unroll_steps=3), None, quiet=True)
    for _ in range(3):  # give Adam a non-trivial state
        trainer.train_step()
    real, _, z, _ = fixed_batches(trainer)
    fake = trainer.G(z)
    lr = trainer.d_opt.param_groups[0]["lr"]
    ahead = unrolled_discriminator(trainer.D, real, fake, steps=3, lr=lr, optimizer=trainer.d_opt)
    d_copy = copy.deepcopy(trainer.D)
    opt_copy = torch.optim.Adam(d_copy.parameters(), lr=lr, betas=trainer.d_opt.param_groups[0]["betas"])
    opt_copy.load_state_dict(trainer.d_opt.state_dict())
    for _ in range(3):
        loss = discriminator_loss(d_copy(real), d_copy(fake.detach()))
        opt_copy.zero_grad()
        loss.backward()
        opt_copy.step()
    sgd = unrolled_discriminator(trainer.D, real, fake, steps=3, lr=lr)  # the old look-ahead
    with torch.no_grad():
        torch.testing.assert_close(ahead(fake), d_copy(fake), rtol=1e-4, atol=1e-5)
        moved = (ahead(fake) - trainer.D(fake)).abs().mean().item()
        sgd_moved = (sgd(fake) - trainer.D(fake)).abs().mean().item()
    assert moved > 10 * sgd_moved  # plain SGD at Adam's lr hardly moves D


def test_unrolling_changes_the_generator_gradient():
    trainer = Trainer(tiny("unrolled-mnist", unroll_steps=5), None, quiet=True)
    for _ in range(3):
        trainer.train_step()
    real, _, z, _ = fixed_batches(trainer)

    def g_grad(**kw):
        fake = trainer.G(z)
        d = unrolled_discriminator(trainer.D, real, fake, steps=5, lr=trainer.d_opt.param_groups[0]["lr"], **kw)
        grads = torch.autograd.grad(generator_loss(d(fake), "nonsaturating"), list(trainer.G.parameters()))
        return torch.cat([g.flatten() for g in grads])

    fake = trainer.G(z)
    trainer.D.requires_grad_(False)
    plain = torch.autograd.grad(generator_loss(trainer.D(fake), "nonsaturating"), list(trainer.G.parameters()))
    trainer.D.requires_grad_(True)
    plain = torch.cat([g.flatten() for g in plain])
    cos = torch.nn.functional.cosine_similarity
    adam, sgd = g_grad(optimizer=trainer.d_opt), g_grad()
    print("cosine(unrolled-adam, plain) =", cos(adam, plain, dim=0).item(), " cosine(unrolled-sgd, plain) =",
          cos(sgd, plain, dim=0).item())
    assert cos(sgd, plain, dim=0) > 0.99  # the old SGD look-ahead was a no-op for G
    assert cos(adam, plain, dim=0) < 0.9


def test_pacgan_packs_consecutive_samples_into_one_discriminator_input():
    from reference_models.losses import pack_samples

    x = torch.arange(4 * 1 * 2 * 2, dtype=torch.float32).view(4, 1, 2, 2)
    packed = pack_samples(x, 2)
    assert packed.shape == (2, 2, 2, 2) and torch.equal(packed[1, 0], x[2, 0]) and torch.equal(packed[1, 1], x[3, 0])
    for name in ("dcgan-mnist", "collapse"):
        trainer = Trainer(tiny(name, pack=4), None, quiet=True)
        real, _ = trainer._real_batch()
        assert trainer._d(real, None).shape == (real.shape[0] // 4,)
        trainer.train_step()
    with pytest.raises(GandiagError, match="pack=3 must divide batch_size=16"):
        tiny(pack=3)


def test_toy_datasets_train_and_monitor_with_the_shared_mode_metrics(tmp_path):
    from gandiag.metrics.toy_modes import toy_mode_metrics

    config = preset("unrolled-mnist").replace(dataset="grid25", unroll_steps=0, g_width=32, d_width=32, z_dim=8,
                                              batch_size=64, steps=4,
                                        monitor_every=2, monitor_samples=200, log_every=2, sample_every=2,
                                        checkpoint_every=0)
    trainer = Trainer(config, tmp_path / "run", quiet=True)
    assert trainer.data.images.shape[1:] == (2,)
    # the training points themselves cover all 25 modes, almost all within 3 sigma
    real = toy_mode_metrics(trainer.data.canonical, "grid25")
    assert real["modes_covered"] == 25 and real["high_quality_fraction"] > 0.98
    assert trainer.fit() == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    monitor = [r for r in records if r["kind"] == "monitor"]
    assert [r["step"] for r in monitor] == [0, 2, 4] and monitor[-1]["num_modes"] == 25
    assert (tmp_path / "run" / "samples" / "step_0000004.png").stat().st_size > 1000
    with pytest.raises(GandiagError, match="needs arch=mlp"):
        preset("dcgan-mnist").replace(dataset="ring8")


def test_rare_digits_keep_a_seeded_fraction_of_those_classes():
    from reference_models.data import load_train_data

    data = load_train_data(preset("dcgan-mnist").replace(monitor_every=0, rare_digits="5", rare_keep=0.1))
    full = load_train_data(preset("dcgan-mnist").replace(monitor_every=0))
    n5, full5 = int((data.labels == 5).sum()), int((full.labels == 5).sum())
    assert n5 == -(-full5 // 10)
    assert all(int((data.labels == c).sum()) == int((full.labels == c).sum()) for c in range(10) if c != 5)
    dropped = load_train_data(preset("partial-collapse").replace(monitor_every=0))  # rare_keep=0: no fives
    assert int((dropped.labels == 5).sum()) == 0 and len(dropped) == len(full) - full5
    with pytest.raises(GandiagError, match="rare_digits='12'"):
        preset("dcgan-mnist").replace(rare_digits="12")


def test_d_freeze_step_stops_d_and_keeps_training_g():
    trainer = Trainer(tiny(d_freeze_step=2), None, quiet=True)
    for _ in range(2):
        trainer.train_step()
    d_before = [p.detach().clone() for p in trainer.D.parameters()]
    g_before = [p.detach().clone() for p in trainer.G.parameters()]
    for _ in range(2):
        trainer.train_step()
    assert all(torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters()))
    assert trainer.d_opt.param_groups[0]["lr"] == 0.0 and trainer.g_opt.param_groups[0]["lr"] > 0
