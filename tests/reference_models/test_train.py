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
    trainer = Trainer(tiny("collapse"), None, quiet=True)  # MLP without BatchNorm: a clean comparison
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


def _assert_identical(a, b, where="state"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            _assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("name", ["dcgan-mnist", "gan2014-mnist"])
def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path, name):
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
    _assert_identical(a, b)


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
