"""``python -m reference_models.experiments.remedies_mnist``: the pipeline on a few steps (fast).

The documented 1,000-step runs are re-checked by ``test_remedies_mnist_slow.py``.
"""
import json

from reference_models.checkpoint import config_of, read_checked
from reference_models.experiments import remedies_mnist


def test_each_variant_is_the_collapse_preset_with_its_one_change(tmp_path):
    quick = ["--set", "steps=3", "--set", "monitor_every=0", "--set", "sample_every=0", "--set", "log_every=0",
             "--set", "checkpoint_every=0"]
    out = tmp_path / "r.json"
    assert remedies_mnist.main(["--variants", "vanilla", "pac4", "--seeds", "0", "--runs", str(tmp_path / "runs"),
                                "--out", str(out), "--images", str(tmp_path), *quick]) == 0
    data = json.loads(out.read_text())
    assert [(r["variant"], r["seed"], r["step"]) for r in data["runs"]] == [("vanilla", 0, 3), ("pac4", 0, 3)]
    vanilla = config_of(read_checked(tmp_path / "runs" / "vanilla-s0" / "checkpoints" / "last.pt"), tmp_path)
    pac = config_of(read_checked(tmp_path / "runs" / "pac4-s0" / "checkpoints" / "last.pt"), tmp_path)
    assert (vanilla.pack, pac.pack, pac.batchnorm, pac.g_width) == (1, 4, False, 32)
    assert vanilla.replace(pack=4) == pac
    assert sum(data["runs"][0]["counts"]) == 1000
    assert set(data["summary"]) == {"vanilla", "pac4"}
    assert (tmp_path / "trainer-remedy-pac4.png").is_file()
    table = remedies_mnist.markdown_table(data)
    assert table.count("\n") == 3 and "| pac4 |" in table


def test_bad_jobs_is_one_clear_error(tmp_path, capsys):
    assert remedies_mnist.main(["--jobs", "0", "--runs", str(tmp_path), "--out", str(tmp_path / "o.json")]) == 2
    assert "--jobs must be >= 1" in capsys.readouterr().err


def test_beats_vanilla_needs_every_seed_above_every_vanilla_seed():
    from reference_models.experiments.remedies_toy import beats_vanilla

    assert beats_vanilla([5, 6, 7], [2, 4, 3])
    assert not beats_vanilla([5, 6, 4], [2, 4, 3])  # a tie with the best vanilla seed is not a win


def test_a_run_that_cannot_train_is_one_clear_error(tmp_path, capsys):
    # 4 AdaGAN components cannot split 3 steps: the trainer's own one-line error, then the script's
    assert remedies_mnist.main(["--variants", "adagan4", "--seeds", "0", "--runs", str(tmp_path / "runs"),
                                "--out", str(tmp_path / "o.json"), "--set", "steps=3"]) == 2
    err = capsys.readouterr().err
    assert "training" in err and "failed (exit 2" in err and "Traceback" not in err
    assert not (tmp_path / "o.json").exists()
