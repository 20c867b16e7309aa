"""Train the Fashion-MNIST classifier used by the ``fashion-classifier`` extractor.

Usage::

    python -m gandiag.features.train_fashion_classifier --out my_fashion_cnn.pt --threads 2

Same network (:class:`~gandiag.features.mnist_classifier.MnistCNN`), optimiser,
seeding and loop as :mod:`gandiag.features.train_mnist_classifier` (this script only
changes the data and the defaults): the full Fashion-MNIST training set (60,000
images, Debian package ``dataset-fashion-mnist``) for 3 epochs with +-1 pixel
shifts, evaluated on the 10,000-image test set. Training images byte-identical to a
test image are dropped first (the count is printed), so the accuracy is held-out.

The shipped ``weights/fashion_classifier.pt`` is the output of the command above
(seed 0); see :mod:`gandiag.features.fashion_classifier` for its accuracy and sha256.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict

import numpy as np

from ..errors import GandiagError
from .train_mnist_classifier import accuracy, add_training_arguments, drop_overlap, train

DEFAULTS = {"epochs": 3, "batch_size": 64, "lr": 2e-3, "max_shift": 1, "seed": 0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gandiag.features.train_fashion_classifier",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_training_arguments(parser, data="fashion-mnist:train", eval_data="fashion-mnist:test",
                           data_help="training data spec with labels", defaults=DEFAULTS)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except GandiagError as exc:
        print(f"train_fashion_classifier: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    import torch

    from ..data import load_images
    from ..fileio import atomic_open, sha256_file

    if args.threads:
        torch.set_num_threads(args.threads)
    data, held = load_images(args.data), load_images(args.eval_data)
    if data.labels is None or held.labels is None:
        raise GandiagError(f"--data {args.data} and --eval-data {args.eval_data} both need labels")
    train_x, train_y, dropped = drop_overlap(np.asarray(data.images), data.labels, np.asarray(held.images))
    eval_x = np.asarray(held.images)
    print(f"training on {len(train_x)} images from {data.source} (dropped {dropped} identical to the eval split); "
          f"evaluating on {len(held)} from {held.source}")
    model, history = train(train_x, train_y, eval_x=None, epochs=args.epochs, batch_size=args.batch_size,
                           lr=args.lr, max_shift=args.max_shift, seed=args.seed)
    acc = accuracy(model, eval_x, held.labels)
    state: Dict[str, torch.Tensor] = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    out = Path(args.out)
    with atomic_open(out, "wb") as handle:
        torch.save(state, handle)
    seconds = sum(h["seconds"] for h in history)
    print(f"held-out accuracy {acc:.4f}; training {seconds:.0f} s; wrote {out} (sha256 {sha256_file(out)})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
