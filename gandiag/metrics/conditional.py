"""Metrics for class-conditional generators ``G(z, y)``.

* **Label accuracy** - does ``G(z, y)`` draw class ``y``? The share of samples a
  pretrained classifier assigns to the class they were generated for, overall and
  per class (a generator that ignores ``y`` scores about 1/K).
* **Intra-class FID** (Miyato & Koyama, "cGANs with Projection Discriminator",
  ICLR 2018): the FID between the generated and the real images *of each class*,
  in the same feature space as FID, and its mean over classes. It sees a class
  drawn as another class's images, which plain FID cannot.
* **Classification Accuracy Score** (Ravuri & Vinyals, "Classification Accuracy
  Score for Conditional Generative Models", NeurIPS 2019): train a classifier on
  generated ``(image, y)`` pairs only, test it on real held-out labelled images.
  Here the classifier is gandiag's small CNN
  (:class:`~gandiag.features.mnist_classifier.MnistCNN`, trained by
  :func:`gandiag.features.train_mnist_classifier.train`), so CAS applies to
  1x28x28, 10-class data (MNIST, Fashion-MNIST); its cost is reported in seconds
  (about one CPU-minute per 10,000 samples and epoch on 2 cores).
"""
from __future__ import annotations

import time
from typing import Dict

import numpy as np

from ..errors import GandiagError
from ._checks import as_matrix, check_int

PAPERS = {
    "intra-fid": "Miyato, Koyama. cGANs with Projection Discriminator. ICLR 2018",
    "cas": "Ravuri, Vinyals. Classification Accuracy Score for Conditional Generative Models. NeurIPS 2019",
}


def _int_labels(y, name: str, n: int, num_classes: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise GandiagError(f"{name}: expected {n} labels (one per row), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise GandiagError(f"{name}: labels must be integers, got dtype {arr.dtype}")
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise GandiagError(f"{name}: labels must lie in [0, {num_classes - 1}], got [{arr.min()}, {arr.max()}]; "
                           "check --num-classes")
    return arr.astype(np.int64)


def label_accuracy(predicted, conditioned, num_classes: int) -> Dict[str, object]:
    """How often the classifier's label equals the conditioning label.

    Args:
        predicted: (N,) classifier labels of the generated images (or (N, K) logits: argmax).
        conditioned: (N,) labels the images were generated for.
        num_classes: K.

    Returns:
        dict with ``accuracy``, ``per_class`` (accuracy per conditioning class, None for a class
        never asked for), ``confusion`` (K x K counts, row = asked, column = drawn), ``chance`` (1/K).
    """
    k = check_int(num_classes, "label_accuracy(num_classes)", minimum=2)
    pred = np.asarray(predicted)
    if pred.ndim == 2:
        pred = np.argmax(as_matrix(pred, "label_accuracy(predicted)", dim=k), axis=1)
    pred = _int_labels(pred, "label_accuracy(predicted)", pred.shape[0], k)
    cond = _int_labels(conditioned, "label_accuracy(conditioned)", pred.shape[0], k)
    if pred.size == 0:
        raise GandiagError("label_accuracy: no samples")
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (cond, pred), 1)
    asked = confusion.sum(axis=1)
    per_class = [float(confusion[c, c] / asked[c]) if asked[c] else None for c in range(k)]
    return {"accuracy": float(np.trace(confusion) / pred.size), "per_class": per_class,
            "confusion": confusion.tolist(), "chance": 1.0 / k, "num_samples": int(pred.size)}


def intra_class_fid(fake_feats, fake_labels, ref_feats, ref_labels, num_classes: int, *,
                    min_per_class: int = 2) -> Dict[str, object]:
    """FID per class between generated and real features, and its mean (intra-FID).

    Args:
        fake_feats: (N, D) features of generated images; fake_labels: (N,) their conditioning labels.
        ref_feats: (M, D) features of real images; ref_labels: (M,) their true labels.
        num_classes: K.
        min_per_class: fewest rows per class on each side (a class with fewer is an error:
            FID of one image is undefined).

    Returns:
        dict with ``intra_fid`` (mean over classes), ``per_class`` (list of K FIDs) and
        ``counts`` ({"fake": [...], "ref": [...]}).
    """
    from .frechet import fid_from_features

    k = check_int(num_classes, "intra_class_fid(num_classes)", minimum=2)
    f = as_matrix(fake_feats, "intra_class_fid(fake_feats)", min_rows=2)
    r = as_matrix(ref_feats, "intra_class_fid(ref_feats)", min_rows=2, dim=f.shape[1])
    fy = _int_labels(fake_labels, "intra_class_fid(fake_labels)", f.shape[0], k)
    ry = _int_labels(ref_labels, "intra_class_fid(ref_labels)", r.shape[0], k)
    fc, rc = np.bincount(fy, minlength=k), np.bincount(ry, minlength=k)
    short = [c for c in range(k) if fc[c] < min_per_class or rc[c] < min_per_class]
    if short:
        raise GandiagError(f"intra_class_fid: classes {short} have fewer than {min_per_class} generated or real "
                           f"images (generated {fc.tolist()}, real {rc.tolist()}); sample more images per class")
    per = [fid_from_features(f[fy == c], r[ry == c]) for c in range(k)]
    return {"intra_fid": float(np.mean(per)), "per_class": [float(v) for v in per],
            "counts": {"fake": fc.tolist(), "ref": rc.tolist()}}


def classification_accuracy_score(fake_images, fake_labels, test_images, test_labels, *, epochs: int = 3,
                                  seed: int = 0, max_shift: int = 0, log=None) -> Dict[str, object]:
    """CAS: train the small CNN on generated (image, label) pairs, test it on real labelled images.

    Args:
        fake_images: canonical (N, 1, 28, 28) generated images; fake_labels: (N,) conditioning labels 0..9.
        test_images, test_labels: real held-out (M, 1, 28, 28) images and their labels.
        epochs: training epochs over the generated set (Adam, cosine schedule, as the shipped classifier).
        seed: seeds initialisation and data order (recorded).
        max_shift: random-shift augmentation in pixels (0: none, so CAS measures the samples only).
        log: optional callable for per-epoch lines.

    Returns:
        dict with ``cas`` (real test accuracy), ``per_class`` accuracy, ``epochs``, ``seed``,
        ``num_train``, ``num_test`` and ``seconds`` (training + testing, the cost CAS adds).
    """
    from ..features.train_mnist_classifier import train

    epochs = check_int(epochs, "classification_accuracy_score(epochs)", minimum=1)
    seed = check_int(seed, "classification_accuracy_score(seed)", minimum=0)
    x = np.asarray(fake_images, dtype=np.float32)
    t = np.asarray(test_images, dtype=np.float32)
    for name, arr in (("fake_images", x), ("test_images", t)):
        if arr.ndim != 4 or arr.shape[1:] != (1, 28, 28):
            raise GandiagError(f"classification_accuracy_score({name}): CAS uses gandiag's 28x28 CNN and needs "
                               f"(N, 1, 28, 28) images, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise GandiagError(f"classification_accuracy_score({name}): contains NaN or Inf")
    y = _int_labels(fake_labels, "classification_accuracy_score(fake_labels)", len(x), 10)
    ty = _int_labels(test_labels, "classification_accuracy_score(test_labels)", len(t), 10)
    start = time.perf_counter()
    model, _ = train(x, y, epochs=epochs, max_shift=max_shift, seed=seed, log=log or (lambda *_: None))
    pred = _predict(model, t)
    seconds = time.perf_counter() - start
    per = label_accuracy(pred, ty, 10)["per_class"]
    return {"cas": float(np.mean(pred == ty)), "per_class": per, "epochs": epochs, "seed": seed,
            "num_train": int(len(x)), "num_test": int(len(t)), "seconds": float(seconds)}


def _predict(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    import torch

    out = []
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(images), batch_size):
            _, logits = model(torch.from_numpy(np.ascontiguousarray(images[s:s + batch_size])))
            out.append(logits.argmax(1).numpy())
    return np.concatenate(out).astype(np.int64)



# ------------------------------------------------------------------------------------ metric records
def _labels_or_error(ctx, what: str):
    fake_y = ctx.fake.labels
    if fake_y is None:
        raise GandiagError(f"{what} needs a conditional generator's labels: a generator with num_classes in its "
                           "metadata (or --num-classes K), or samples saved with a 'labels' array")
    return np.asarray(fake_y)


def _num_classes(fake_y: np.ndarray, ref_y: np.ndarray) -> int:
    return int(max(fake_y.max(), ref_y.max())) + 1


def _intra_fid_step(ctx) -> Dict[str, object]:
    fake_y = _labels_or_error(ctx, "intra-fid")
    ref_y = ctx.ref.labels
    if ref_y is None:
        raise GandiagError(f"intra-fid needs labelled real images: --ref {ctx.options.ref} has no labels "
                           "(use an idx/npz reference with labels, e.g. mnist-subset or fashion-mnist)")
    space = ctx.options.extractor or ctx.default_extractor()
    out = intra_class_fid(ctx.features(space, "fake"), fake_y, ctx.features(space, "ref"), np.asarray(ref_y),
                          _num_classes(fake_y, np.asarray(ref_y)))
    out["extractor"] = space
    return out


def _cas_step(ctx) -> Dict[str, object]:
    fake_y = _labels_or_error(ctx, "cas")
    held = ctx.heldout
    if held.labels is None:
        raise GandiagError(f"cas tests on labelled held-out real images, but {held.source} has no labels; "
                           "pass --heldout with labels (e.g. mnist-subset:test, fashion-mnist:test)")
    out = classification_accuracy_score(ctx.fake.images, fake_y, held.images, held.labels,
                                        epochs=ctx.options.cas_epochs, seed=ctx.options.seed)
    out["test_data"] = held.source
    return out


def _register() -> None:
    from ..options import Option
    from .record import Metric, Row, fmt, register_metric

    register_metric(Metric(
        "intra-fid", "Intra-class FID (mean over classes)", False, 0.0,
        "FID between generated and real images of each class, averaged; sees a generator that draws the "
        "wrong class for a label, which plain FID cannot.", PAPERS["intra-fid"],
        run=_intra_fid_step, feature_space="extractor", min_samples=20,
        rows=lambda r: [Row("intra-fid", fmt(r["intra_fid"]),
                            "worst class " + str(int(np.argmax(r["per_class"]))) + f" ({fmt(max(r['per_class']))})",
                            str(r.get("extractor", "")))],
        summary=lambda r: f"intra-class FID: {r['intra_fid']:.3f} (mean of {len(r['per_class'])} classes)  "
                          "[lower is better]",
        function="gandiag.metrics.conditional.intra_class_fid", order=27))
    register_metric(Metric(
        "cas", "Classification Accuracy Score", True, 0.0,
        "Accuracy on real held-out images of a small CNN trained only on generated (image, label) pairs "
        "(28x28 grayscale, 10 classes); costs a short training run, reported in seconds.", PAPERS["cas"],
        run=_cas_step, upper_bound=1.0, feature_space="pixels", min_samples=100, needs_heldout=True,
        options=(Option("cas_epochs", int, 3, "CAS: training epochs over the generated samples"),),
        rows=lambda r: [Row("cas", fmt(r["cas"], percent=True),
                            f"trained on {r['num_train']} generated, tested on {r['num_test']} real; "
                            f"{r['seconds']:.0f} s", "gandiag 28x28 CNN")],
        summary=lambda r: f"classification accuracy score: {100 * r['cas']:.1f}% ({r['seconds']:.0f} s of training)"
                          "  [higher is better]",
        function="gandiag.metrics.conditional.classification_accuracy_score", order=27))


_register()
