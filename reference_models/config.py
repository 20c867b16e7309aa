"""Training configuration: one frozen dataclass, small named presets, ``key=value`` overrides.

A run is fully described by a :class:`TrainConfig` (written to ``runs/x/config.json``
and into every checkpoint). Presets are named starting points; the command line
changes single fields with ``--set key=value``. Unknown keys, wrong types and
out-of-range values raise :class:`gandiag.GandiagError` that names the key and the
valid choices, so a typo never silently trains the default.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from gandiag.errors import GandiagError

ARCHS = ("gan2014", "dcgan", "mlp")
LOSSES = ("nonsaturating", "minimax")
OPTIMIZERS = ("adam", "sgd")
PRIORS = ("normal", "uniform")
UPDATES = ("alternating", "simultaneous")
DATASETS = ("mnist-subset", "stacked-mnist", "ring8", "grid25")
TOY_DATASETS = ("ring8", "grid25")  # 2-D mixtures of Gaussians (reference_models/toy.py)
UNROLL_OPTIMIZERS = ("same", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a reference-trainer run.

    Model fields pick the networks; loss/optimizer fields the game; schedule fields how
    often the trainer logs, samples, monitors and checkpoints. ``0`` for an interval
    turns that action off (a final checkpoint is always written).
    """

    # --- model -----------------------------------------------------------------------
    arch: str = "dcgan"            # gan2014 (MLP G / maxout D, Goodfellow 2014), dcgan, mlp
    z_dim: int = 64
    prior: str = "normal"          # z ~ N(0, I) or U(-1, 1)^z_dim
    z_scale: float = 1.0           # G multiplies z by this first (gan2014: sqrt(3), pylearn2's U(-sqrt3, sqrt3))
    g_width: int = 64              # dcgan: channels of the 14x14 layer (7x7 has 2x); mlp: hidden units
    d_width: int = 32              # dcgan: channels of D's first conv; mlp: hidden units
    g_depth: int = 2               # mlp only: hidden layers of G
    d_depth: int = 2               # mlp only: hidden layers of D
    conditional: bool = False      # cGAN (Mirza & Osindero 2014): label to G and D
    batchnorm: bool = True         # BatchNorm in G (dcgan, mlp) and in dcgan D's hidden convs
    d_dropout: bool = True         # gan2014: dropout in D (input keep 0.8, hidden keep 0.5)
    # --- data ------------------------------------------------------------------------
    dataset: str = "mnist-subset"  # embedded 8000-digit train split; stacked-mnist = 3 digits as RGB 32x32;
    #                                ring8 / grid25 = 2-D Gaussian mixtures (arch=mlp, points, not images)
    train_size: int = 0            # 0 = all rows; else a seeded, label-stratified subset (memorization)
    # under-represented digits (e.g. "5" or "5,8"): only rare_keep of their images stay in the
    # training set (seeded); 0 drops them (dataset bias: partial-collapse). Measured: a small DCGAN
    # does *not* drop a digit kept at 5 % (docs/trainer.md)
    rare_digits: str = ""
    rare_keep: float = 0.1
    image_size: int = 28           # 28 or 32 (32 pads MNIST by 2 pixels)
    # --- game ------------------------------------------------------------------------
    loss: str = "nonsaturating"    # -log D(G(z)) (non-saturating) or log(1 - D(G(z))) (minimax)
    d_steps: int = 1               # k discriminator updates per generator update
    # alternating: D steps, then G against the updated D. simultaneous: pylearn2's AdversaryCost2
    # (gan2014) -- one sample and one D forward pass (same dropout masks) give both losses, both
    # gradients are taken at the current weights and both optimizers step together.
    update: str = "alternating"
    unroll_steps: int = 0          # Metz et al. 2017: G sees D after this many look-ahead updates
    unroll_lr: float = 0.0         # step size of the look-ahead updates (0 = d_lr)
    # same: the look-ahead repeats D's own optimizer from its current state (Adam: copied moments
    # and step count, as Metz et al. unrolled Adam); sgd: plain SGD steps of size unroll_lr.
    unroll_optimizer: str = "same"
    # from this step on D stops learning (its learning rate is 0) while G keeps training against
    # the fixed D, which collapses G onto the images D scores highest (Metz et al. 2017, Sec. 1;
    # Goodfellow 2016 tutorial, Sec. 5.1.1). 0 = never.
    d_freeze_step: int = 0
    pack: int = 1                  # PacGAN (Lin et al. 2018): D judges packs of this many samples jointly
    # MAD-GAN (Ghosh et al. 2018): k generators sharing their first layers (one head each) and a
    # D with k+1 softmax outputs (real, or which generator made the fake); 1 = off. 2-D MLPs only.
    mad_generators: int = 1
    # AdaGAN (Tolstikhin et al. 2017): boosting with this many components trained one after
    # another (steps/ada_components steps each, fresh G and D), each on the data re-weighted
    # towards what the mixture so far misses; sampling is from the mixture. 1 = off.
    ada_components: int = 1
    ada_beta: float = 0.0          # weight of each new component; 0 = the paper's "uniform" 1/t
    ada_classifier_steps: int = 500  # Adam steps of the data-vs-mixture classifier behind the weights
    reuse_fake: bool = True        # G update reuses the last D step's fake batch (DCGAN recipe; faster)
    label_smoothing: float = 0.0   # one-sided: real target 1 - s (Salimans et al. 2016)
    # --- optimization ----------------------------------------------------------------
    optimizer: str = "adam"
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta1: float = 0.5             # adam beta1 / sgd: initial momentum
    beta2: float = 0.999           # adam beta2 / sgd: final momentum (ramped, gan2014)
    momentum_ramp_steps: int = 0   # sgd: steps over which momentum goes from beta1 to beta2
    lr_decay: float = 1.0          # per-update division of the learning rate (gan2014: 1.000004)
    min_lr: float = 0.0
    batch_size: int = 64
    steps: int = 2000              # generator updates (dcgan-mnist: >= 9/10 digits from 1500 on; docs/trainer.md)
    # --- bookkeeping -----------------------------------------------------------------
    seed: int = 0
    deterministic: bool = True     # torch.use_deterministic_algorithms (exact resume on CPU)
    log_every: int = 50
    sample_every: int = 250
    checkpoint_every: int = 500
    monitor_every: int = 250       # in-training mode coverage + MNIST-domain FID (0 = off)
    monitor_samples: int = 1000
    # 1 thread: these nets are small, so intra-op threads cost more in synchronisation than they
    # gain (measured 8x slower with 2 threads on 2 busy cores); 0 = leave torch's default.
    num_threads: int = 1

    # ------------------------------------------------------------------------------------
    def __post_init__(self):
        _choice("arch", self.arch, ARCHS)
        _choice("loss", self.loss, LOSSES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("prior", self.prior, PRIORS)
        _choice("update", self.update, UPDATES)
        _choice("unroll_optimizer", self.unroll_optimizer, UNROLL_OPTIMIZERS)
        _positive("pack", self.pack)
        if self.batch_size % self.pack:
            raise GandiagError(f"config pack={self.pack} must divide batch_size={self.batch_size} (D sees "
                               "batch_size/pack packs)")
        if self.pack > 1 and self.conditional:
            raise GandiagError("config pack > 1 is for unconditional GANs (set conditional=false)")
        if self.is_toy and (self.arch != "mlp" or self.conditional):
            raise GandiagError(f"config dataset={self.dataset} (2-D points) needs arch=mlp and conditional=false")
        _positive("z_scale", self.z_scale)
        if self.z_scale != 1.0 and self.arch == "dcgan":
            raise GandiagError("config z_scale applies to the MLP generators (arch=gan2014 or mlp), not arch=dcgan")
        if self.update == "simultaneous" and (self.d_steps != 1 or self.unroll_steps):
            raise GandiagError("config update=simultaneous takes one joint step: it needs d_steps=1 and "
                               "unroll_steps=0 (or set update=alternating)")
        _choice("dataset", self.dataset, DATASETS)
        self._check_mixtures()
        _choice("image_size", self.image_size, (28, 32))
        for key in ("z_dim", "g_width", "d_width", "g_depth", "d_depth", "d_steps", "batch_size", "steps"):
            _positive(key, getattr(self, key))
        for key in ("unroll_steps", "d_freeze_step", "train_size", "log_every", "sample_every", "checkpoint_every",
                    "monitor_every", "momentum_ramp_steps", "num_threads"):
            if getattr(self, key) < 0:
                raise GandiagError(f"config {key} must be >= 0, got {getattr(self, key)}")
        for key in ("g_lr", "d_lr"):
            _positive(key, getattr(self, key))
        if not 0.0 <= self.label_smoothing < 0.5:
            raise GandiagError(f"config label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if self.rare_digits:
            try:
                digits = self.rare_digit_list
            except ValueError:
                digits = ()
            if not digits or any(not 0 <= d <= 9 for d in digits) or self.dataset != "mnist-subset":
                raise GandiagError(f"config rare_digits={self.rare_digits!r} must list MNIST digits 0-9 separated "
                                   "by commas (e.g. rare_digits=5,8) and needs dataset=mnist-subset")
        if not 0.0 <= self.rare_keep <= 1.0:
            raise GandiagError(f"config rare_keep must be in [0, 1] (0 drops rare_digits entirely), got {self.rare_keep}")
        if self.lr_decay < 1.0:
            raise GandiagError(f"config lr_decay divides the lr each update and must be >= 1, got {self.lr_decay}")
        if self.dataset == "stacked-mnist" and self.image_size != 32:
            raise GandiagError("config dataset=stacked-mnist needs image_size=32 (set image_size=32)")
        if self.arch != "dcgan" and self.image_size != 28:
            raise GandiagError(f"config image_size={self.image_size} needs arch=dcgan (MLPs are 28x28 only)")
        if self.arch != "dcgan" and self.dataset == "stacked-mnist":
            raise GandiagError("config dataset=stacked-mnist needs arch=dcgan")
        if self.conditional and self.dataset == "stacked-mnist":
            raise GandiagError("config conditional=true is for mnist-subset (10 classes), not stacked-mnist")
        if self.monitor_every and self.monitor_samples < 100:
            raise GandiagError(f"config monitor_samples must be >= 100 for a meaningful FID, got {self.monitor_samples}")

    def _check_mixtures(self) -> None:
        """MAD-GAN / AdaGAN options: values and the combinations they support."""
        for key in ("mad_generators", "ada_components", "ada_classifier_steps"):
            _positive(key, getattr(self, key))
        k = self.mad_generators
        if k > 1:
            if not self.is_toy:
                raise GandiagError(f"config mad_generators={k} is implemented for the 2-D MLP datasets only "
                                   f"(dataset=ring8 or grid25, arch=mlp), not dataset={self.dataset}")
            if self.pack > 1 or self.unroll_steps or self.update != "alternating" or self.ada_components > 1:
                raise GandiagError(f"config mad_generators={k} is its own remedy: it needs pack=1, unroll_steps=0, "
                                   "update=alternating and ada_components=1")
            if self.label_smoothing:
                raise GandiagError(f"config mad_generators={k} has a softmax D; label_smoothing must be 0")
            if self.batch_size % k:
                raise GandiagError(f"config mad_generators={k} must divide batch_size={self.batch_size} (each "
                                   "generator makes batch_size/k fakes per step)")
        t = self.ada_components
        if not 0.0 <= self.ada_beta < 1.0:
            raise GandiagError(f"config ada_beta must be in [0, 1) (0 = the uniform mixture, beta_t = 1/t), "
                               f"got {self.ada_beta}")
        if t > 1:
            if self.conditional:
                raise GandiagError(f"config ada_components={t} is for unconditional GANs (set conditional=false)")
            if self.steps % t:
                raise GandiagError(f"config ada_components={t} must divide steps={self.steps} (each component "
                                   "trains steps/ada_components steps)")

    # ------------------------------------------------------------------------------------
    @property
    def ada_component_steps(self) -> int:
        """Steps of each AdaGAN component (``steps`` when AdaGAN is off)."""
        return self.steps // self.ada_components

    @property
    def rare_digit_list(self) -> Tuple[int, ...]:
        return tuple(sorted({int(d) for d in self.rare_digits.split(",") if d.strip()}))

    @property
    def is_toy(self) -> bool:
        """2-D point data (ring8, grid25) instead of images."""
        return self.dataset in TOY_DATASETS

    @property
    def channels(self) -> int:
        return 3 if self.dataset == "stacked-mnist" else 1

    @property
    def num_classes(self) -> Optional[int]:
        return 10 if self.conditional else None

    @property
    def image_shape(self) -> Tuple[int, ...]:
        """``(C, H, W)`` of one sample; ``(2,)`` for the 2-D toy datasets."""
        if self.is_toy:
            return (2,)
        return (self.channels, self.image_size, self.image_size)

    @property
    def model_name(self) -> str:
        """Human name: ``dcgan``, ``cgan-dcgan``, ``unrolled-mlp``, ``gan2014``..."""
        name = self.arch
        if self.conditional:
            name = f"cgan-{name}"
        if self.unroll_steps:
            name = f"unrolled{self.unroll_steps}-{name}"
        if self.pack > 1:
            name = f"pac{self.pack}-{name}"
        if self.mad_generators > 1:
            name = f"madgan{self.mad_generators}-{name}"
        if self.ada_components > 1:
            name = f"adagan{self.ada_components}-{name}"
        return name

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "TrainConfig":
        return from_dict({**self.to_dict(), **changes})


def _choice(key: str, value: Any, valid: Iterable[Any]) -> None:
    valid = tuple(valid)
    if value not in valid:
        raise GandiagError(f"config {key}={value!r} is not valid; valid values are: {', '.join(map(str, valid))}")


def _positive(key: str, value: Any) -> None:
    if not value > 0:
        raise GandiagError(f"config {key} must be > 0, got {value}")


FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig)}
_PY_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Build a config from a mapping; unknown keys and wrong types are errors."""
    unknown = sorted(set(values) - set(FIELD_TYPES))
    if unknown:
        raise GandiagError(
            f"unknown config key(s) {', '.join(unknown)}; valid keys are: {', '.join(FIELD_TYPES)}"
        )
    checked = {}
    for key, value in values.items():
        want = _PY_TYPES[FIELD_TYPES[key]]
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise GandiagError(f"config {key} must be {want.__name__}, got {type(value).__name__} {value!r}")
        checked[key] = value
    return TrainConfig(**checked)


def parse_override(text: str) -> Tuple[str, Any]:
    """Parse one ``key=value`` command-line override into a typed pair.

    Booleans accept true/false/1/0/yes/no; numbers use Python syntax (``2e-4``).
    """
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise GandiagError(f"--set expects key=value, got {text!r} (e.g. --set d_steps=2)")
    if key not in FIELD_TYPES:
        raise GandiagError(f"--set {text!r}: unknown config key {key!r}; valid keys are: {', '.join(FIELD_TYPES)}")
    want = _PY_TYPES[FIELD_TYPES[key]]
    raw = raw.strip()
    try:
        if want is bool:
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return key, lowered in ("true", "1", "yes")
        return key, want(raw) if want is not int else int(raw)
    except ValueError:
        raise GandiagError(f"--set {text!r}: {key} must be {want.__name__}, got {raw!r}") from None


def apply_overrides(config: TrainConfig, overrides: Iterable[str]) -> TrainConfig:
    changes = dict(parse_override(text) for text in overrides)
    return config.replace(**changes) if changes else config


# ------------------------------------------------------------------------------------------
# Presets. Durations are for 2 CPU cores: the defaults of the "demo" pair (dcgan-mnist,
# collapse) finish in a few minutes together; see docs/trainer.md for measured numbers.
PRESETS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "dcgan-mnist": (
        "DCGAN sized for 28x28 MNIST, Adam 2e-4/0.5, non-saturating loss: the 'good' generator",
        {},
    ),
    "dcgan-stacked-mnist": (
        "DCGAN for Stacked MNIST (3 digits as RGB channels, 32x32, 1000 modes)",
        {"dataset": "stacked-mnist", "image_size": 32, "steps": 3000},
    ),
    "gan2014-mnist": (
        "Goodfellow et al. 2014 MNIST (adversarial/mnist.yaml): MLP G 100-1200-1200-784 on U(-sqrt3, sqrt3) "
        "noise, maxout D 240x5, dropout, SGD 0.1 + momentum, simultaneous D/G update (AdversaryCost2)",
        {"arch": "gan2014", "z_dim": 100, "prior": "uniform", "z_scale": 3 ** 0.5, "update": "simultaneous",
         "optimizer": "sgd", "g_lr": 0.1, "d_lr": 0.1, "beta1": 0.5,
         "beta2": 0.7, "momentum_ramp_steps": 125000, "lr_decay": 1.000004, "min_lr": 1e-6,
         "batch_size": 100, "steps": 3000, "batchnorm": False},
    ),
    "cgan-mnist": (
        "conditional DCGAN: one-hot label appended to z and as 10 constant channels to D's input",
        {"conditional": True},
    ),
    "unrolled-mnist": (
        "Metz et al. 2017 unrolled GAN (5 look-ahead steps of D's own Adam) with small MLPs (BatchNorm in G)",
        {"arch": "mlp", "g_width": 256, "d_width": 256, "unroll_steps": 5, "g_lr": 1e-3, "d_lr": 1e-3,
         "batch_size": 64, "steps": 1500},
    ),
    "collapse": (
        "classic mode collapse: the dcgan-mnist networks without BatchNorm (Radford et al. 2016: BatchNorm "
        "is what keeps a deep generator from collapsing all samples to one point); at 1,000 steps it draws "
        "mostly ones (3 digits with >= 5 % of the samples)",
        {"batchnorm": False, "g_width": 32, "d_width": 32, "steps": 1000, "sample_every": 250,
         "monitor_every": 250, "checkpoint_every": 250},
    ),
    "partial-collapse": (
        "partial mode collapse from dataset bias: dcgan-mnist trained on the subset with every 5 removed "
        "(rare_digits=5, rare_keep=0); it draws good digits of the other nine and never a 5 (docs/trainer.md)",
        {"rare_digits": "5", "rare_keep": 0.0, "sample_every": 250, "checkpoint_every": 250, "monitor_every": 250},
    ),
    "memorize": (
        "memorization without collapse: a conditional DCGAN (cgan-mnist) on 10 training digits, one per "
        "class; G learns to draw, for each label, its one training image (>= 95 % of samples within the "
        "5 % quantile of held-out-to-train distance, 10/10 digits; docs/trainer.md)",
        {"conditional": True, "train_size": 10, "batch_size": 10, "steps": 1500, "sample_every": 250,
         "checkpoint_every": 250, "monitor_every": 250},
    ),
}


def preset(name: str) -> TrainConfig:
    """The named preset as a config."""
    if name not in PRESETS:
        raise GandiagError(f"unknown preset {name!r}; valid presets are: {', '.join(PRESETS)}")
    return from_dict(PRESETS[name][1])


def preset_names() -> Tuple[str, ...]:
    return tuple(PRESETS)


def config_json(config: TrainConfig) -> str:
    return json.dumps(config.to_dict(), indent=2)
