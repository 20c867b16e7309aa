"""Reference GAN trainer: the toolkit's proving ground (see docs/trainer.md).

Trains Goodfellow et al. 2014, DCGAN, conditional and unrolled GANs on the embedded MNIST
subset, with presets that produce good, collapsed and memorizing generators on demand.

Public API::

    from reference_models import load_generator, TrainConfig, preset, Trainer
    G, meta = load_generator("runs/x")            # run folder, checkpoint or generator_state.pt
"""
import sys as _sys

if _sys.argv[:1] == ["-m"]:  # `python -m reference_models.X` is starting (argv[0] is "-m" only now)
    from ._startup import quiet_interrupts_until_ready

    quiet_interrupts_until_ready()

from .checkpoint import CHECKPOINT_FORMAT, GENERATOR_FORMAT, generator_meta, load_generator, read_checked  # noqa: E402
from .config import PRESETS, TrainConfig, apply_overrides, from_dict, preset, preset_names  # noqa: E402

__all__ = [
    "load_generator", "read_checked", "generator_meta", "CHECKPOINT_FORMAT", "GENERATOR_FORMAT",
    "TrainConfig", "PRESETS", "preset", "preset_names", "from_dict", "apply_overrides", "Trainer",
]


def __getattr__(name):
    # The trainer pulls in tqdm/monitor code; load it only when asked for.
    if name == "Trainer":
        from .train import Trainer

        return Trainer
    raise AttributeError(name)
