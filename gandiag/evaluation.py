"""``evaluate``: one generator or sample set against real data -> every chosen metric.

Data flow (one way): source -> canonical images -> extractor features (reference
features cached by content hash) -> metric functions (:mod:`gandiag.metrics`) ->
a JSON-able ``metrics`` dict (plus arrays the HTML report draws).

The evaluation *steps* are registered by name in :data:`EVALUATIONS` (the values of
``--metrics``); the CLI's help and its "valid values are" read that registry.

Defaults per data domain: MNIST-like references (1x28x28) get
``mnist-fid, mnist-is, modes, kid, prdc, parzen, neighbours`` computed with the shipped
MNIST classifier (no download needed); other data gets ``fid, is, kid, prdc`` with the
FID InceptionV3.
"""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import __version__
from .data import ImageSet, load_images
from .errors import GandiagError
from .registry import Registry

MNIST_SHAPE = (1, 28, 28)
DEFAULT_MNIST = ("mnist-fid", "mnist-is", "modes", "kid", "prdc", "parzen", "neighbours")
DEFAULT_NATURAL = ("fid", "is", "kid", "prdc")


@dataclass(frozen=True)
class EvaluateOptions:
    """Every knob of an evaluation (unknown keys are an error: this is a frozen dataclass).

    Attributes:
        metrics: names from :data:`EVALUATIONS`; ``None`` = the domain default.
        ref: data spec of the real (training) images; default the embedded MNIST train split.
        heldout: data spec of held-out real images (Parzen test/validation rows and the
            data-copying baseline). ``None``: ``mnist-subset:test`` for the embedded
            subset, else a seeded 20 % of ``ref`` held out from it.
        extractor: feature extractor for fid/kid/prdc/fid-inf and feature-space
            neighbours; ``None`` = ``mnist-classifier`` on MNIST-like data, else
            ``inception-v3-fid``.
        mode_threshold: a class counts as covered when it holds at least this share of
            its fair share ``N / K`` (0.2 -> 2 % of samples for 10 classes).
        bootstrap: resamples for FID confidence intervals (only when features have
            <= 256 dimensions, where it is cheap; 0 disables).
    """

    metrics: Optional[Tuple[str, ...]] = None
    ref: str = "mnist-subset"
    heldout: Optional[str] = None
    extractor: Optional[str] = None
    batch_size: int = 250
    seed: int = 0
    device: str = "cpu"
    weights: Optional[str] = None
    allow_download: bool = False
    cache_dir: Optional[str] = None
    is_splits: int = 10
    kid_subsets: int = 100
    kid_subset_size: Optional[int] = None
    prdc_k: int = 5
    parzen_sigmas: Tuple[float, ...] = tuple(float(s) for s in np.logspace(-1, 0, 10))
    neighbours_k: int = 5
    neighbour_queries: int = 8
    mode_threshold: float = 0.2
    bootstrap: int = 50
    progress: bool = False


@dataclass
class Evaluation:
    """Result of :func:`evaluate`: ``metrics`` (JSON) and ``arrays`` for the report."""

    metrics: Dict[str, object]
    arrays: Dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationStep:
    name: str
    key: str  # top-level key in metrics.json
    run: Callable[["_Context"], object]
    description: str


EVALUATIONS: Registry[EvaluationStep] = Registry("metric")


def register_evaluation(name: str, key: str, description: str):
    def wrap(fn):
        EVALUATIONS.register(name, EvaluationStep(name, key, fn, description), description)
        return fn
    return wrap


# --------------------------------------------------------------------------------------------
HELDOUT_METRICS = ("parzen", "neighbours")


class Reference:
    """The real-data side of evaluations: reference and held-out images, extractors, their features.

    Built once and shared by every evaluation against the same data: ``diagnose`` scores
    each checkpoint against one ``Reference``, so reference features, held-out distances
    and extractor weights are loaded or computed once, not once per checkpoint.

    Held-out data is resolved up front, and only when a chosen metric needs it (Parzen,
    neighbours): ``options.heldout``, else ``mnist-subset:test`` for the embedded subset,
    else a seeded 20 % of the reference (which then keeps the other 80 % for every metric,
    so all metrics of one evaluation see the same reference rows).
    """

    def __init__(self, options: EvaluateOptions = EvaluateOptions(), *, heldout: Optional[ImageSet] = None):
        self.o = options
        ref = load_images(options.ref)
        self.mnist_like = tuple(ref.shape) == MNIST_SHAPE
        self.metrics = resolve_metrics(options.metrics, self.mnist_like)
        if heldout is None and any(m in HELDOUT_METRICS for m in self.metrics):
            spec = options.heldout
            if spec is None and options.ref in ("mnist-subset", "mnist-subset:train"):
                spec = "mnist-subset:test"
            if spec is not None:
                heldout = load_images(spec)
            else:
                order = np.random.default_rng(options.seed).permutation(len(ref))
                cut = max(20, len(ref) // 5)
                heldout = ref.subset(np.sort(order[:cut]), f"{ref.source}[held-out 20%]")
                ref = ref.subset(np.sort(order[cut:]), f"{ref.source}[80%]")
        if heldout is not None and tuple(heldout.shape) != tuple(ref.shape):
            raise GandiagError(f"held-out images are {heldout.shape}, reference images {ref.shape}")
        self.ref, self.heldout = ref, heldout
        self._extractors: Dict[str, object] = {}
        self._feats: Dict[Tuple[str, str], Dict[str, np.ndarray]] = {}
        self._memo: Dict[object, object] = {}
        self.extractor_provenance: Dict[str, Dict[str, object]] = {}

    def extractor(self, name: str):
        if name not in self._extractors:
            from .features import get_extractor

            weights = self.o.weights if name in ("inception-v3-fid",) or name == self.o.extractor else None
            ext = get_extractor(name, device=self.o.device, weights=weights, allow_download=self.o.allow_download)
            self._extractors[name] = ext
            self.extractor_provenance[name] = ext.provenance()
        return self._extractors[name]

    def features(self, name: str, which: str) -> Dict[str, np.ndarray]:
        """Features (and logits) of ``which`` in ("ref", "heldout"), through the on-disk cache."""
        key = (name, which)
        if key not in self._feats:
            from .features.cache import cached_features

            data = self.ref if which == "ref" else self.require_heldout()
            ext = self.extractor(name)
            outputs = ("features", "logits") if getattr(ext, "num_classes", None) else ("features",)
            self._feats[key] = cached_features(data, ext, outputs=outputs, cache_dir=self.o.cache_dir,
                                               batch_size=self.o.batch_size)
        return self._feats[key]

    def memo(self, key, compute: Callable[[], object]):
        """A quantity derived from the real data only (reference statistics, held-out distances)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def require_heldout(self) -> ImageSet:
        if self.heldout is None:
            raise GandiagError("this metric needs held-out real images; pass --heldout (or include parzen or "
                               "neighbours in the metrics this reference was built for)")
        return self.heldout


class _Context:
    """One evaluation: the generated images, their features, and the shared :class:`Reference`."""

    def __init__(self, fake: ImageSet, reference: Reference):
        self.o = reference.o
        self.r = reference
        self.fake = fake
        self.ref = reference.ref
        self.mnist_like = reference.mnist_like
        self._fake_feats: Dict[str, Dict[str, np.ndarray]] = {}
        self.used_extractors: set = set()
        self._heldout_checked = False
        self.arrays: Dict[str, np.ndarray] = {}

    @property
    def heldout(self) -> ImageSet:
        held = self.r.require_heldout()
        if self._heldout_checked:
            return held
        # Held-out rows that are also among the samples make Parzen and the copy baseline meaningless
        # (e.g. scoring the test split with the test split as held-out data).
        seen = {row.tobytes() for row in self.fake.images.reshape(len(self.fake), -1)}
        shared = sum(row.tobytes() in seen for row in held.images.reshape(len(held), -1))
        if shared > 0.01 * len(held):
            raise GandiagError(
                f"{shared} of the {len(held)} held-out images ({held.source}) are also among the evaluated "
                "images; held-out data must be disjoint from them: pass another --heldout"
            )
        self._heldout_checked = True  # parzen and neighbours both ask; hash the rows once
        return held

    def require_same_shape(self, what: str) -> None:
        if tuple(self.fake.shape) != tuple(self.ref.shape):
            raise GandiagError(
                f"{what} compares pixels, but generated images are {'x'.join(map(str, self.fake.shape))} and the "
                f"reference ({self.o.ref}) is {'x'.join(map(str, self.ref.shape))}; pass a matching --ref"
            )

    def default_extractor(self) -> str:
        return self.o.extractor or ("mnist-classifier" if self.mnist_like else "inception-v3-fid")

    def features(self, name: str, which: str, output: str = "features") -> np.ndarray:
        self.used_extractors.add(name)
        if which == "fake":
            if name not in self._fake_feats:
                ext = self.r.extractor(name)
                outputs = ("features", "logits") if getattr(ext, "num_classes", None) else ("features",)
                self._fake_feats[name] = ext.extract(self.fake.images, batch_size=self.o.batch_size, outputs=outputs)
            feats = self._fake_feats[name]
        else:
            feats = self.r.features(name, which)
        if output not in feats:
            raise GandiagError(f"extractor {name!r} has no {output!r} output (needed for this metric)")
        return np.asarray(feats[output])

    def ref_stats(self, name: str):
        from .metrics import FeatureStats

        return self.r.memo(("stats", name), lambda: FeatureStats.from_features(self.features(name, "ref")))

    def mnist_classifier(self) -> str:
        if tuple(self.fake.shape) != MNIST_SHAPE:
            raise GandiagError(
                f"the MNIST classifier needs 1x28x28 grayscale digits; the generated images are "
                f"{'x'.join(map(str, self.fake.shape))} (for other data use fid/is/kid/prdc with --extractor)"
            )
        return "mnist-classifier"


def _fid_with_ci(ctx: _Context, extractor: str) -> Dict[str, object]:
    from .metrics import FeatureStats, frechet_distance

    fake = ctx.features(extractor, "fake").astype(np.float64)
    ref = ctx.ref_stats(extractor)
    mu_r, sigma_r = ref.mean, ref.cov
    fake_stats = FeatureStats.from_features(fake)
    value = frechet_distance(fake_stats.mean, fake_stats.cov, mu_r, sigma_r)
    out: Dict[str, object] = {"value": value, "extractor": extractor, "num_fake": len(fake), "num_real": ref.count}
    if ctx.o.bootstrap and fake.shape[1] <= 256:
        rng = np.random.default_rng(ctx.o.seed)
        boots = []
        for _ in range(ctx.o.bootstrap):
            s = FeatureStats.from_features(fake[rng.integers(0, len(fake), len(fake))])
            boots.append(frechet_distance(s.mean, s.cov, mu_r, sigma_r))
        # Resampling with replacement duplicates rows, which shrinks the covariance and inflates FID, so
        # the raw bootstrap distribution sits above the estimate. Re-centre it on the estimate (subtract
        # the bootstrap bias estimate) before taking percentiles.
        bias = float(np.mean(boots)) - value
        lo, hi = np.percentile(boots, [2.5, 97.5]) - bias
        out["ci95"] = [max(0.0, float(lo)), float(hi)]
        out["ci_method"] = (f"bias-corrected percentile bootstrap over generated samples "
                            f"({ctx.o.bootstrap} resamples; bootstrap bias {bias:.3g} removed)")
    return out


@register_evaluation("fid", "fid", "Fréchet distance on the chosen extractor's features (InceptionV3 by default)")
def _fid(ctx: _Context):
    return _fid_with_ci(ctx, ctx.o.extractor or "inception-v3-fid")


@register_evaluation("mnist-fid", "mnist_fid", "Fréchet distance on the shipped MNIST classifier's features")
def _mnist_fid(ctx: _Context):
    return _fid_with_ci(ctx, ctx.mnist_classifier())


def _is(ctx: _Context, extractor: str):
    from .metrics import inception_score_from_logits

    logits = ctx.features(extractor, "fake", "logits")
    mean, std = inception_score_from_logits(logits, splits=ctx.o.is_splits)
    return {"mean": mean, "std": std, "splits": ctx.o.is_splits, "extractor": extractor}


@register_evaluation("is", "inception_score", "Inception Score from InceptionV3 logits")
def _inception_score(ctx: _Context):
    return _is(ctx, "inception-v3-fid")


@register_evaluation("mnist-is", "mnist_inception_score", "Inception Score with the MNIST classifier")
def _mnist_is(ctx: _Context):
    return _is(ctx, ctx.mnist_classifier())


@register_evaluation("kid", "kid", "Kernel Inception Distance (unbiased MMD^2, cubic kernel)")
def _kid(ctx: _Context):
    from .metrics import kid

    name = ctx.default_extractor()
    a, b = ctx.features(name, "fake"), ctx.features(name, "ref")
    size = ctx.o.kid_subset_size or min(1000, len(a), len(b))
    mean, std = kid(a, b, subsets=ctx.o.kid_subsets, subset_size=size, seed=ctx.o.seed)
    return {"mean": mean, "std": std, "subsets": ctx.o.kid_subsets, "subset_size": size, "extractor": name}


@register_evaluation("fid-inf", "fid_inf", "FID extrapolated to infinitely many samples (Chong & Forsyth 2020)")
def _fid_inf(ctx: _Context):
    from .metrics import fid_infinity

    name = ctx.default_extractor()
    ref = ctx.ref_stats(name)
    out = fid_infinity(ctx.features(name, "fake"), ref.mean, ref.cov, seed=ctx.o.seed)
    return {**out, "extractor": name}


@register_evaluation("prdc", "prdc", "precision, recall, density, coverage (Naeem et al. 2020)")
def _prdc(ctx: _Context):
    from .metrics import prdc

    name = ctx.default_extractor()
    real, fake = ctx.features(name, "ref"), ctx.features(name, "fake")
    # Naeem et al. use equal real and fake counts: recall and coverage depend on the ratio, so the
    # larger side is subsampled (seeded) to the smaller one.
    n = min(len(real), len(fake))
    rng = np.random.default_rng(ctx.o.seed)
    if len(real) > n:
        real = real[np.sort(rng.choice(len(real), n, replace=False))]
    if len(fake) > n:
        fake = fake[np.sort(rng.choice(len(fake), n, replace=False))]
    out = prdc(real, fake, k=ctx.o.prdc_k)
    return {**out, "k": ctx.o.prdc_k, "num_real": n, "num_fake": n, "extractor": name}


@register_evaluation("parzen", "parzen", "Parzen-window log-likelihood of held-out digits (Goodfellow et al. 2014)")
def _parzen(ctx: _Context):
    from .images import flatten
    from .metrics import parzen_log_likelihood, parzen_select_sigma

    ctx.require_same_shape("parzen")
    held = ctx.heldout
    order = np.random.default_rng(ctx.o.seed).permutation(len(held))
    half = len(held) // 2
    validation, test = flatten(held.images[np.sort(order[:half])]), flatten(held.images[np.sort(order[half:])])
    samples = flatten(ctx.fake.images)
    chosen = parzen_select_sigma(samples, validation, sigmas=ctx.o.parzen_sigmas)
    result = parzen_log_likelihood(samples, test, chosen["sigma"])
    return {**result, "ci95": [result["mean"] - 1.96 * result["stderr"], result["mean"] + 1.96 * result["stderr"]],
            "sigmas": chosen["sigmas"], "validation_log_likelihoods": chosen["mean_log_likelihoods"],
            "num_samples": len(samples), "num_validation": len(validation), "num_test": len(test),
            "heldout": held.source}


@register_evaluation("neighbours", "neighbours", "nearest training images and a data-copying score")
def _neighbours(ctx: _Context):
    from .diagnostics.memorization import copy_score
    from .images import flatten
    from .metrics import nearest_neighbours

    ctx.require_same_shape("neighbours")
    held = ctx.heldout
    train = flatten(ctx.ref.images)
    k = ctx.o.neighbours_k
    idx, dist = nearest_neighbours(flatten(ctx.fake.images), train, k=k)
    d_test = ctx.r.memo("heldout-to-train", lambda: nearest_neighbours(flatten(held.images), train, k=1)[1][:, 0])
    score = copy_score(dist[:, 0], d_test)
    q = min(ctx.o.neighbour_queries, len(ctx.fake))
    queries = np.random.default_rng(ctx.o.seed).choice(len(ctx.fake), q, replace=False)
    out = {**score, "k": k, "num_samples": len(ctx.fake), "num_train": len(train), "num_heldout": len(held),
           "space": "pixels (l2)", "query_indices": queries.tolist(),
           "pixel_neighbours": idx[queries].tolist(), "pixel_distances": dist[queries].tolist()}
    ctx.arrays["nn_queries"] = ctx.fake.images[queries]
    ctx.arrays["nn_pixel"] = ctx.ref.images[idx[queries]]
    try:
        name = ctx.default_extractor()
        fidx, fdist = nearest_neighbours(ctx.features(name, "fake")[queries], ctx.features(name, "ref"), k=k)
        out.update(feature_extractor=name, feature_neighbours=fidx.tolist(), feature_distances=fdist.tolist())
        ctx.arrays["nn_feature"] = ctx.ref.images[fidx]
    except GandiagError as exc:  # e.g. Inception weights absent: pixel-space neighbours still stand
        out["feature_neighbours_unavailable"] = str(exc)
    return out


@register_evaluation("modes", "modes", "MNIST-classifier mode coverage: missing digits and class balance")
def _modes(ctx: _Context):
    from .metrics import mode_coverage

    name = ctx.mnist_classifier()
    logits = ctx.features(name, "fake", "logits")
    ref_logits = ctx.features(name, "ref", "logits")
    k = logits.shape[1]
    result = mode_coverage(logits, num_classes=k, reference=ref_logits, min_fraction=ctx.o.mode_threshold / k)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    ref_counts = np.bincount(ref_logits.argmax(axis=1), minlength=k)
    result.update(reference_fractions=(ref_counts / ref_counts.sum()).tolist(),
                  low_confidence_fraction=float(np.mean(probs.max(axis=1) < 0.5)),
                  mode_threshold=ctx.o.mode_threshold, classifier=name)
    if ctx.fake.labels is not None and ctx.fake.labels.max() < k:  # conditional generator: does it obey y?
        result["conditioning_accuracy"] = float(np.mean(logits.argmax(axis=1) == ctx.fake.labels))
    return result


# --------------------------------------------------------------------------------------------
def resolve_metrics(names: Optional[Sequence[str]], mnist_like: bool) -> List[str]:
    if not names:
        return list(DEFAULT_MNIST if mnist_like else DEFAULT_NATURAL)
    out = []
    for name in names:
        EVALUATIONS.get(name)  # unknown -> "valid values are: ..."
        if name not in out:
            out.append(name)
    return out


def evaluate(fake: ImageSet, options: Optional[EvaluateOptions] = None, *,
             source_provenance: Optional[Dict[str, object]] = None,
             heldout: Optional[ImageSet] = None, reference: Optional[Reference] = None) -> Evaluation:
    """Compute the chosen metrics of ``fake`` against ``options.ref``.

    Args:
        fake: generated images (see :func:`gandiag.sources.load_source`).
        options: :class:`EvaluateOptions` (default options when omitted; taken from
            ``reference`` when one is given).
        source_provenance: what produced ``fake`` (spec, generator metadata), recorded as is.
        heldout: held-out real images, overriding ``options.heldout`` (must be disjoint from ``fake``).
        reference: a :class:`Reference` to reuse across several evaluations (its options apply).

    Returns:
        :class:`Evaluation` whose ``metrics`` holds one top-level key per chosen metric
        (``fid``, ``mnist_fid``, ``inception_score``, ``kid``, ``prdc``, ``parzen``,
        ``modes``, ``neighbours``, ...) plus ``provenance``.
    """
    import torch

    if not isinstance(fake, ImageSet):
        raise GandiagError("evaluate: expected an ImageSet; load sources with gandiag.sources.load_source")
    if reference is None:
        reference = Reference(options or EvaluateOptions(), heldout=heldout)
    elif (options is not None and options != reference.o) or heldout is not None:
        raise GandiagError("evaluate: with reference=..., options and held-out data come from the Reference")
    options = reference.o
    ctx = _Context(fake, reference)
    names = reference.metrics
    results: Dict[str, object] = {}
    timings: Dict[str, float] = {}
    from .progress import progress_bar

    with progress_bar(total=len(names), desc="metrics", unit="metric", disable=not options.progress) as bar:
        for name in names:
            step = EVALUATIONS.get(name)
            bar.set_postfix_str(name)
            start = time.perf_counter()
            results[step.key] = _jsonable(step.run(ctx))
            timings[name] = round(time.perf_counter() - start, 3)
            bar.update(1)
    results["provenance"] = {
        "gandiag_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "metrics": names,
        "seed": options.seed,
        "source": source_provenance or {"description": fake.source},
        "reference": {"spec": options.ref, "description": ctx.ref.source, "num_images": len(ctx.ref),
                      "content_sha256": ctx.ref.content_hash()},
        "heldout": ({"description": reference.heldout.source, "num_images": len(reference.heldout)}
                    if reference.heldout is not None else None),
        "num_generated": len(fake),
        "image_shape": list(fake.shape),
        "extractors": {n: reference.extractor_provenance[n] for n in sorted(ctx.used_extractors)},
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(options).items()},
        "timings_s": timings,
    }
    arrays = dict(ctx.arrays)
    arrays["samples"] = fake.images[:64]
    return Evaluation(_jsonable(results), arrays)


def _jsonable(obj):
    """Plain-JSON copy: numpy scalars/arrays to Python, NaN/Inf to None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


__all__ = ["EvaluateOptions", "Evaluation", "EVALUATIONS", "Reference", "evaluate", "register_evaluation",
           "resolve_metrics"]

