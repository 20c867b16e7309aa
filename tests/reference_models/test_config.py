"""Presets, overrides and the loud failures of the training configuration."""
import dataclasses
import json

import pytest

from gandiag.errors import GandiagError
from reference_models.config import PRESETS, TrainConfig, apply_overrides, from_dict, parse_override, preset


def test_every_preset_builds_and_round_trips_through_json():
    for name in PRESETS:
        config = preset(name)
        again = from_dict(json.loads(json.dumps(config.to_dict())))
        assert again == config


def test_required_presets_exist():
    for name in ("dcgan-mnist", "gan2014-mnist", "cgan-mnist", "unrolled-mnist", "collapse", "memorize",
                 "partial-collapse"):
        assert name in PRESETS


def test_gan2014_preset_follows_the_pylearn2_yaml():
    c = preset("gan2014-mnist")
    assert (c.arch, c.z_dim, c.optimizer, c.g_lr, c.d_lr, c.batch_size) == ("gan2014", 100, "sgd", 0.1, 0.1, 100)
    assert (c.beta1, c.beta2, c.lr_decay, c.min_lr) == (0.5, 0.7, 1.000004, 1e-6)
    # AdversaryCost2's simultaneous update; Generator(noise="uniform") = U(-sqrt3, sqrt3) = sqrt3 * U(-1, 1)
    assert (c.update, c.prior, c.z_scale) == ("simultaneous", "uniform", 3 ** 0.5)


def test_overrides_are_typed():
    c = apply_overrides(preset("dcgan-mnist"), ["d_steps=3", "g_lr=1e-3", "conditional=true", "loss=minimax"])
    assert (c.d_steps, c.g_lr, c.conditional, c.loss) == (3, 1e-3, True, "minimax")
    assert parse_override("label-smoothing=0.1") == ("label_smoothing", 0.1)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'steps'"):
        preset("dcgan-mnist").steps = 3  # type: ignore[misc]


@pytest.mark.parametrize("text,match", [
    ("d_stepz=2", "unknown config key 'd_stepz'"),
    ("d_steps", "expects key=value"),
    ("d_steps=two", "d_steps must be int"),
    ("conditional=maybe", "conditional must be bool"),
])
def test_bad_overrides_fail_loudly(text, match):
    with pytest.raises(GandiagError, match=match):
        apply_overrides(preset("dcgan-mnist"), [text])


@pytest.mark.parametrize("changes,match", [
    ({"loss": "wasserstein"}, "loss='wasserstein' is not valid; valid values are: nonsaturating, minimax"),
    ({"arch": "resnet"}, "arch='resnet' is not valid"),
    ({"d_steps": 0}, "d_steps must be > 0"),
    ({"label_smoothing": 0.7}, "label_smoothing must be in"),
    ({"dataset": "stacked-mnist"}, "needs image_size=32"),
    ({"arch": "mlp", "image_size": 32}, "needs arch=dcgan"),
    ({"lr_decay": 0.5}, "lr_decay"),
])
def test_invalid_values_fail_loudly(changes, match):
    with pytest.raises(GandiagError, match=match):
        preset("dcgan-mnist").replace(**changes)


def test_unknown_keys_and_types_in_dicts():
    with pytest.raises(GandiagError, match="unknown config key"):
        from_dict({"lerning_rate": 0.1})
    with pytest.raises(GandiagError, match="steps must be int"):
        from_dict({"steps": "100"})
    with pytest.raises(GandiagError, match="unknown preset 'dcgan'"):
        preset("dcgan")
    assert from_dict({"g_lr": 1}).g_lr == 1.0  # ints widen to floats


def test_model_names():
    assert TrainConfig().model_name == "dcgan"
    assert preset("cgan-mnist").model_name == "cgan-dcgan"
    assert preset("unrolled-mnist").model_name == "unrolled5-mlp"
