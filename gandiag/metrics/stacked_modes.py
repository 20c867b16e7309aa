"""Stacked MNIST: 1,000 modes counted with the shipped MNIST classifier.

The benchmark of Metz et al. (2017, "Unrolled GANs", Sec. 3.3.2) and VEEGAN
(Srivastava et al. 2017, Table 2): each image has three MNIST digits in its three
channels, so there are ``10^3 = 1000`` modes (``100 d_R + 10 d_G + d_B``). The
shipped classifier labels each channel
(:func:`gandiag.features.stacked_mnist_modes`); a mode is *covered* when at least
``min_count`` samples fall in it (1, as in both papers, which draw 26,000 samples),
and ``KL(p || uniform)`` over the 1,000 modes measures the imbalance (natural log;
0 for a perfectly uniform generator, ``log 1000 = 6.91`` for a single mode).

A sample set is recognised as Stacked MNIST by its shape, ``(N, 3, 28, 28)``.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..errors import GandiagError
from .modes import mode_coverage

NUM_MODES = 1000
STACKED_SHAPE = (3, 28, 28)
PAPER = ("Metz, Poole, Pfau, Sohl-Dickstein. Unrolled Generative Adversarial Networks. ICLR 2017; "
         "Srivastava et al. VEEGAN. NeurIPS 2017")


def stacked_mode_coverage(modes, reference_modes=None, *, min_count: int = 1) -> Dict[str, object]:
    """Modes covered and KL to uniform over Stacked MNIST's 1,000 modes.

    Args:
        modes: (N,) int mode of each generated image in 0..999 (``stacked_mnist_modes``).
        reference_modes: optional (M,) modes of real Stacked MNIST images, for ``kl_to_reference``.
        min_count: samples a mode needs to count as covered (1, as Metz et al. and VEEGAN).

    Returns:
        :func:`gandiag.metrics.modes.mode_coverage`'s dict over 1,000 classes (``covered``,
        ``missing``, ``counts``, ``kl_to_uniform``, ``kl_to_reference``, ...) plus ``digit_counts``
        ((3, 10) counts of each digit per channel R, G, B).
    """
    arr = np.asarray(modes)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise GandiagError(f"stacked_mode_coverage(modes): expected (N,) integer modes in 0..999, got "
                           f"{arr.dtype} {arr.shape}")
    out = mode_coverage(arr, num_classes=NUM_MODES, reference=reference_modes, min_count=min_count)
    digits = np.stack([arr // 100, (arr // 10) % 10, arr % 10])
    out["digit_counts"] = [np.bincount(d, minlength=10).tolist() for d in digits]
    return out


def is_stacked_mnist(shape) -> bool:
    """Whether canonical per-image shape ``(C, H, W)`` is Stacked MNIST's ``(3, 28, 28)``."""
    return tuple(shape) == STACKED_SHAPE


# ------------------------------------------------------------------------------------ metric record
def _step(ctx) -> Dict[str, object]:
    from ..features.mnist_classifier import MnistClassifierExtractor, stacked_mnist_modes

    if not is_stacked_mnist(ctx.fake.shape):
        raise GandiagError(f"stacked-modes: needs Stacked MNIST images (N, 3, 28, 28), one digit per channel; the "
                           f"generated images are {'x'.join(map(str, ctx.fake.shape))}")
    ext = MnistClassifierExtractor(device=ctx.options.device)
    fake_modes = stacked_mnist_modes(ctx.fake.images, ext, batch_size=ctx.options.batch_size)
    ref_modes: Optional[np.ndarray] = None
    if is_stacked_mnist(ctx.ref.shape):
        ref_modes = ctx.memo(("stacked-modes", "ref"),
                             lambda: stacked_mnist_modes(ctx.ref.images, ext, batch_size=ctx.options.batch_size))
    out = stacked_mode_coverage(fake_modes, ref_modes, min_count=ctx.options.stacked_min_count)
    out["classifier"] = "mnist-classifier"
    out.pop("fractions")  # 1,000 numbers the counts already give
    return out


def _rows(r):
    from .record import Row, fmt

    missing = len(r.get("missing") or [])
    return [Row("stacked-modes", f"{r['covered']} / {r['num_classes']}",
                f"KL to uniform {fmt(r.get('kl_to_uniform'))} nats; {missing} modes with < {r['threshold']} samples",
                "mnist-classifier per channel", flag=missing > 0)]


def _summary(r) -> str:
    return (f"stacked MNIST modes: {r['covered']}/1000 covered, KL to uniform {r['kl_to_uniform']:.3f} nats "
            f"({r['num_samples']} samples)")


def _register() -> None:
    from ..options import Option
    from .record import Metric, register_metric

    register_metric(Metric(
        "stacked-modes", "Stacked MNIST modes covered", True, 0.0,
        "Of the 1,000 Stacked-MNIST modes (a digit in each of 3 channels, read by the shipped MNIST classifier), "
        "how many appear among the samples; KL of the mode histogram to uniform.",
        PAPER, run=_step, upper_bound=1000.0, feature_space="mnist-classifier", min_samples=10,
        options=(Option("stacked_min_count", int, 1, "samples a Stacked-MNIST mode needs to count as covered"),),
        rows=_rows, summary=_summary, default_for=("stacked-mnist",),
        function="gandiag.metrics.stacked_modes.stacked_mode_coverage", order=26))


_register()
