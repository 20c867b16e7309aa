"""``evaluate``: one generator or sample set against real data -> every chosen metric.

Data flow (one way): source -> canonical images -> extractor features (reference
features cached by content hash) -> metric functions (:mod:`gandiag.metrics`) ->
a JSON-able ``metrics`` dict (plus arrays the HTML report draws).

Each metric is one record in :data:`gandiag.metrics.METRICS` (its module under
``gandiag/metrics/``): its name is the ``--metrics`` value and its metrics.json key, its
``run(ctx)`` is the evaluation step (``ctx`` is the :class:`_Context` below) and its options
are fields of :class:`EvaluateOptions`. This module only orchestrates.

Defaults per data domain come from the records' ``default_for``: MNIST-like references
(1x28x28) get ``mnist-fid, mnist-is, modes, kid, prdc, parzen, neighbours`` computed with
the shipped MNIST classifier (no download needed); other data gets ``fid, is, kid, prdc``
with the FID InceptionV3.
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
from .metrics.record import METRICS, canonical_name, default_metrics, freeze_options
from .options import Option, options_dataclass

MNIST_SHAPE = (1, 28, 28)
DEFAULT_MNIST = tuple(default_metrics("mnist"))
DEFAULT_NATURAL = tuple(default_metrics("natural"))

#: Options every evaluation has; each metric's own options come from its record.
COMMON_OPTIONS = (
    Option("metrics", Optional[Tuple[str, ...]], None,
           "metric names (see gandiag.metrics.list_metrics()); None = the domain default", cli=False),
    Option("ref", str, "mnist-subset", "real training data: mnist-subset[:train|test|all], fashion-mnist[:DIR][:test], "
           "torchvision-mnist:ROOT, a folder, .npz/.npy or idx file"),
    Option("heldout", Optional[str], None, "held-out real data for Parzen and the copying baseline (default: "
           "mnist-subset:test for the embedded subset, else a seeded 20% of --ref)"),
    Option("extractor", Optional[str], None, "features for fid/kid/prdc/fid-inf (see `gandiag extractors`; default "
           "mnist-classifier for MNIST-like data, else inception-v3-fid)"),
    Option("batch_size", int, 250, "images per forward pass", minimum=1),
    Option("seed", int, 0, "seed for every random choice", cli=False),
    Option("device", str, "cpu", "torch device", cli=False),
    Option("weights", Optional[str], None, "weights file for the extractor (e.g. Inception)"),
    Option("protocol", Optional[str], None, "InceptionV3 input protocol, recorded with every number: pytorch-fid "
           "(default; pytorch-fid 0.3), clean (clean-fid mode=clean) or torch-fidelity (torch-fidelity and the TF "
           "FID/IS code); also sets the Inception Score's split convention (docs/extractors.md)"),
    Option("allow_download", bool, False, "let the extractor download published weights"),
    Option("cache_dir", Optional[str], None, "reference feature cache (default $GANDIAG_CACHE or ~/.cache/gandiag)"),
    Option("progress", bool, False, "progress bars", cli=False),
)

EvaluateOptions = options_dataclass(
    "EvaluateOptions", COMMON_OPTIONS + freeze_options(),
    """Every knob of an evaluation (a frozen dataclass: unknown keys are an error).

    Fields: the :data:`COMMON_OPTIONS` (``metrics``, ``ref``, ``heldout``, ``extractor``,
    ``batch_size``, ``seed``, ``device``, ``weights``, ``allow_download``, ``cache_dir``,
    ``progress``) plus every registered metric's ``options`` (``bootstrap``, ``is_splits``,
    ``kid_subsets``, ``kid_subset_size``, ``prdc_k``, ``mode_threshold``, ``parzen_sigmas``,
    ``neighbours_k``, ``neighbour_queries``, ...). Each field's help text is in
    ``dataclasses.fields(EvaluateOptions)[i].metadata["help"]`` and on ``gandiag evaluate --help``.
    """, __name__)


@dataclass
class Evaluation:
    """Result of :func:`evaluate`: ``metrics`` (JSON) and ``arrays`` for the report."""

    metrics: Dict[str, object]
    arrays: Dict[str, np.ndarray] = field(default_factory=dict)


#: Former name of the metric registry (the records are in :data:`gandiag.metrics.METRICS`).
EVALUATIONS = METRICS


# --------------------------------------------------------------------------------------------


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
        if options.protocol is not None:
            from .features.resize import PROTOCOLS

            if options.protocol not in PROTOCOLS:
                raise GandiagError(f"protocol {options.protocol!r} is unknown; valid values are: "
                                   f"{', '.join(PROTOCOLS)}")
            if options.extractor not in (None, "inception-v3-fid"):
                raise GandiagError(f"--protocol {options.protocol} applies to the inception-v3-fid extractor only, "
                                   f"not {options.extractor!r}; drop --protocol or use --extractor inception-v3-fid")
        ref = load_images(options.ref)
        self.mnist_like = tuple(ref.shape) == MNIST_SHAPE
        self.domain = data_domain(ref)
        self.metrics = resolve_metrics(options.metrics, self.mnist_like, domain=self.domain)
        if heldout is None and any(METRICS.get(m).needs_heldout for m in self.metrics):
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
        if heldout is not None:
            _check_disjoint(heldout, ref)
        self.ref, self.heldout = ref, heldout
        self._extractors: Dict[str, object] = {}
        self._feats: Dict[Tuple[str, str], Dict[str, np.ndarray]] = {}
        self._memo: Dict[object, object] = {}
        self.extractor_provenance: Dict[str, Dict[str, object]] = {}

    def extractor(self, name: str):
        if name not in self._extractors:
            from .features import get_extractor

            weights = self.o.weights if name in ("inception-v3-fid",) or name == self.o.extractor else None
            opts = {"protocol": self.o.protocol} if name == "inception-v3-fid" and self.o.protocol else {}
            ext = get_extractor(name, device=self.o.device, weights=weights, allow_download=self.o.allow_download,
                                **opts)
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
    """One evaluation: the generated images, their features, and the shared :class:`Reference`.

    Implements :class:`gandiag.metrics.Context`, the interface metric steps are written against.
    """

    def __init__(self, fake: ImageSet, reference: Reference):
        self.o = self.options = reference.o
        self.r = reference
        self.fake = fake
        self.ref = reference.ref
        self.mnist_like = reference.mnist_like
        self.domain = reference.domain
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
        if self.o.extractor:
            return self.o.extractor
        if self.mnist_like:
            return "fashion-classifier" if self.domain == "fashion" else "mnist-classifier"
        return "inception-v3-fid"

    def memo(self, key, compute: Callable[[], object]):
        """A quantity derived from the real data only, computed once per :class:`Reference`."""
        return self.r.memo(key, compute)

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
        # a Fashion-MNIST reference is classified by the shipped Fashion classifier (same network)
        return "fashion-classifier" if self.domain == "fashion" else "mnist-classifier"


def _check_disjoint(heldout: ImageSet, ref: ImageSet) -> None:
    """Held-out rows that are also training (--ref) rows blind the copy detector (its threshold
    becomes 0) and score Parzen on training data: more than 1 % shared is an error."""
    seen = {row.tobytes() for row in np.asarray(ref.images).reshape(len(ref), -1)}
    shared = sum(row.tobytes() in seen for row in np.asarray(heldout.images).reshape(len(heldout), -1))
    if shared > 0.01 * len(heldout):
        raise GandiagError(
            f"{shared} of the {len(heldout)} held-out images ({heldout.source}) are also in the reference data "
            f"({ref.source}); held-out data must be disjoint from --ref: pass another --heldout"
        )


# --------------------------------------------------------------------------------------------
def data_domain(ref: ImageSet) -> str:
    """The reference's domain for default metrics: ``fashion`` (Fashion-MNIST), ``mnist`` (other 1x28x28),
    ``stacked-mnist`` (3x28x28) or ``natural``."""
    if tuple(ref.shape) == MNIST_SHAPE:
        return "fashion" if ref.kind == "fashion-mnist" or ref.source.startswith("fashion-mnist") else "mnist"
    if tuple(ref.shape) == (3, 28, 28):
        return "stacked-mnist"
    return "natural"


def resolve_metrics(names: Optional[Sequence[str]], mnist_like: bool, *, domain: Optional[str] = None) -> List[str]:
    if names is None:
        # Fashion-MNIST gets the MNIST defaults (its classifier stands in) plus its own; Stacked MNIST
        # gets only its own (the natural-image defaults need InceptionV3 weights).
        base = list(DEFAULT_MNIST if mnist_like else [] if domain == "stacked-mnist" else DEFAULT_NATURAL)
        extra = default_metrics(domain) if domain in ("fashion", "stacked-mnist") else []
        return base + [m for m in extra if m not in base]
    if not [n for n in names if str(n).strip()]:
        raise GandiagError("metrics: the list is empty; name at least one (see gandiag.metrics.list_metrics()), "
                           "or omit --metrics for the defaults")
    out = []
    for name in names:
        name = canonical_name(name)  # unknown -> "valid values are: ..."; former names warn
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
        :class:`Evaluation` whose ``metrics`` holds one top-level key per chosen metric, its
        registry name (``fid``, ``mnist-fid``, ``is``, ``kid``, ``prdc``, ``parzen``,
        ``modes``, ``neighbours``, ...), plus ``provenance``.
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
            metric = METRICS.get(name)
            bar.set_postfix_str(name)
            start = time.perf_counter()
            results[name] = _mark(_jsonable(metric.run(ctx)), reference.extractor_provenance)
            timings[name] = round(time.perf_counter() - start, 3)
            bar.update(1)
    classifier = next((n for n in ("mnist-classifier", "fashion-classifier") if n in ctx.used_extractors), None)
    if classifier is not None:  # classifier-based verdicts need samples the classifier can read
        from .metrics.domain import domain_check

        results["domain_check"] = _jsonable(domain_check(
            ctx.features(classifier, "fake"), ctx.features(classifier, "fake", "logits"),
            ctx.features(classifier, "ref"), ctx.features(classifier, "ref", "logits"),
            classifier=classifier, seed=options.seed))
    results["provenance"] = {
        "gandiag_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "metrics": names,
        "seed": options.seed,
        "source": source_provenance or fake.provenance or {"description": fake.source},
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


def _mark(result, provenance: Dict[str, Dict[str, object]]):
    """Every result computed with Inception features carries its protocol, and the marker of unpublished weights.

    So a number in metrics.json, the console summary or a report row can never be read without the
    protocol that decides which published tables it may stand next to.
    """
    if not isinstance(result, dict):
        return result
    prov = provenance.get(str(result.get("extractor", "")))
    if prov is None and result.get("feature_extractor") in provenance:
        prov = provenance[result["feature_extractor"]]
    if prov is not None and "protocol_description" in prov:  # an Inception extractor
        result["protocol"] = prov.get("protocol")
        if prov.get("weights_marker"):
            result["weights_marker"] = prov["weights_marker"]
    return result


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


__all__ = ["EvaluateOptions", "Evaluation", "EVALUATIONS", "COMMON_OPTIONS", "Reference", "evaluate",
           "resolve_metrics"]

