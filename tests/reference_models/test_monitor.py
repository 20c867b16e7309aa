"""The in-training monitor: coverage and MNIST-FID with the shipped classifier."""
import json

import pytest
import torch

from reference_models.config import preset
from reference_models.data import load_train_data
from reference_models.monitor import Monitor, evaluate_run, main as monitor_main
from reference_models.train import Trainer


class Replay(torch.nn.Module):
    """A 'generator' that returns fixed images (scaled to the [-1, 1] DCGAN range)."""

    def __init__(self, images):
        super().__init__()
        self.register_buffer("images", images * 2.0 - 1.0)

    def forward(self, z):
        return self.images[torch.arange(len(z)) % len(self.images)]


@pytest.fixture(scope="module")
def setup():
    config = preset("dcgan-mnist").replace(monitor_samples=500)
    data = load_train_data(config)
    return config, data, Monitor(config, data)


def test_real_digits_cover_all_modes_and_one_digit_covers_one(setup):
    config, data, monitor = setup
    real = torch.from_numpy(data.canonical[-500:].copy())
    good = monitor.evaluate(Replay(real))
    assert good["covered"] == 10 and good["missing"] == [] and good["max_fraction"] < 0.2
    sevens = real[data.labels[-500:].numpy() == 7]
    collapsed = monitor.evaluate(Replay(sevens))
    assert collapsed["covered"] == 1 and collapsed["counts"][7] >= 450
    assert collapsed["missing"] == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    assert collapsed["fid"] > 10 * good["fid"]
    assert good["num_samples"] == 500 and good["coverage_threshold"] == 25  # 5 % of 500


def test_monitor_is_deterministic_and_consumes_no_rng(setup):
    config, data, monitor = setup
    torch.manual_seed(0)
    g = Trainer(config.replace(g_width=8, d_width=8, monitor_every=0), None, quiet=True).G
    state = torch.get_rng_state()
    a, b = monitor.evaluate(g), monitor.evaluate(g)
    assert torch.equal(state, torch.get_rng_state())
    a.pop("monitor_s"), b.pop("monitor_s")
    assert a == b


def test_training_logs_monitor_records_and_evaluate_run(tmp_path, capsys):
    config = preset("cgan-mnist").replace(g_width=8, d_width=8, batch_size=16, train_size=64, steps=4,
                                          monitor_every=2, monitor_samples=100, log_every=2, sample_every=0,
                                          checkpoint_every=2)
    assert Trainer(config, tmp_path / "run", quiet=True).fit() == 0
    records = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    monitored = [r for r in records if r["kind"] == "monitor"]
    assert [r["step"] for r in monitored] == [0, 2, 4]
    assert all(0 <= r["covered"] <= 10 and r["fid"] >= 0 and 0 <= r["label_accuracy"] <= 1 for r in monitored)
    post = evaluate_run(tmp_path / "run")
    assert [r["step"] for r in post] == [2, 4]
    for a, b in zip(post, monitored[1:]):  # same fixed z: same numbers as in training (up to float32 threading)
        assert a["counts"] == b["counts"] and a["fid"] == pytest.approx(b["fid"], rel=1e-5)
    assert monitor_main([str(tmp_path / "run")]) == 0
    assert "step       4  covered" in capsys.readouterr().out
    assert monitor_main([str(tmp_path / "nothing")]) == 2


def test_stacked_mnist_counts_digit_triples():
    config = preset("dcgan-stacked-mnist").replace(monitor_samples=200, train_size=400, batch_size=16)
    data = load_train_data(config)
    assert data.canonical.shape[1:] == (3, 32, 32)
    monitor = Monitor(config, data)
    real = torch.from_numpy(data.canonical[:200].copy())
    result = monitor.evaluate(Replay(real))
    truth = len(set(data.labels[:200].tolist()))  # distinct true triples among these 200
    assert result["num_modes"] == 1000
    assert truth - 10 <= result["covered"] <= truth  # the classifier misreads a few digits at most
    same = monitor.evaluate(Replay(real[:1]))
    assert same["covered"] == 1 and same["max_fraction"] == 1.0


def test_monitor_and_evaluate_share_one_definition_of_covered():
    """'covered' is one rule (share of the fair share N/K) with one default, in the monitor and in evaluate."""
    import numpy as np

    from gandiag.evaluation import EvaluateOptions
    from gandiag.metrics.modes import DEFAULT_MODE_THRESHOLD, covered_min_fraction, mode_coverage

    assert EvaluateOptions().mode_threshold == DEFAULT_MODE_THRESHOLD
    labels = np.repeat(np.arange(10), [100, 100, 100, 100, 100, 100, 100, 100, 150, 50])[:1000]
    labels[:60] = 9  # digit 0 keeps 40 of 1000 samples: 4 % < 5 %, so it is missing
    cov = mode_coverage(labels, num_classes=10, min_fraction=covered_min_fraction(10))
    assert cov["threshold"] == 50 and 0 in cov["missing"]
