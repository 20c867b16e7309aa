"""The metric record: one registration per metric, read by evaluate, the CLI, the report and the docs.

A metric is *one* :class:`Metric` record, registered with :func:`register_metric` in the
metric's own module (``gandiag/metrics/<name>.py``, next to its pure math). The record's
``name`` is the metric's only name: its ``--metrics`` value, its top-level key in
metrics.json, its report row id and its docs row. Modules of this package are discovered
(:func:`discover`), and so are plug-ins named by the ``gandiag.metrics`` entry-point group,
so adding a metric is one new file plus its test. See docs/plugins.md.

The evaluation step ``run(ctx) -> dict`` receives an evaluation context (see
:class:`Context`): it never imports :mod:`gandiag.evaluation`, which imports this registry.
"""
from __future__ import annotations

import importlib
import pkgutil
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Protocol, Sequence, Tuple

import numpy as np

from ..errors import GandiagError
from ..options import Option
from ..registry import Registry

#: Data domains for ``default_for``: MNIST-like references (1x28x28) and everything else; Fashion-MNIST
#: (which also runs the "mnist" defaults, with its own classifier) and Stacked MNIST (3x28x28).
DOMAINS = ("mnist", "natural", "fashion", "stacked-mnist")


class Row(NamedTuple):
    """One row of the report's metric table, as plain text (the report escapes it).

    ``value`` and ``detail`` may hold several lines separated by ``"\\n"``; ``name`` is the
    record's name or one of its :class:`Part` names; ``features`` names the feature space;
    ``flag`` marks a row the reader must not miss (missing modes, copying).
    """

    name: str
    value: str
    detail: str = ""
    features: str = ""
    flag: bool = False


@dataclass(frozen=True)
class Part:
    """A named number inside a metric's result (PRDC's ``precision`` ... ``coverage``)."""

    name: str
    title: str
    higher_is_better: Optional[bool]
    lower_bound: Optional[float]
    description: str
    upper_bound: Optional[float] = None


@dataclass(frozen=True)
class Metric:
    """Everything gandiag knows about one metric.

    Attributes:
        name: the one name (``--metrics``, metrics.json key, report row id); lower case,
            digits, ``-``.
        title: full title for reports and docs.
        higher_is_better: True / False, or None when the number has no "better" direction.
        lower_bound / upper_bound: possible range (None: unbounded or data-dependent).
        description: one or two sentences for the report and docs/metrics.md.
        paper: citation of the defining paper.
        run: the evaluation step, ``run(ctx) -> dict`` (JSON-able: numbers, lists, strings).
        feature_space: what the number is computed on: ``"extractor"`` (the chosen
            ``--extractor``, default per domain), an extractor name (``"mnist-classifier"``,
            ``"inception-v3-fid"``) or ``"pixels"``. The step also records the one it used.
        min_samples: fewest generated samples the metric accepts.
        options: :class:`gandiag.options.Option` records the step reads as ``ctx.options.<name>``;
            they become :class:`gandiag.evaluation.EvaluateOptions` fields and CLI flags.
        rows: ``rows(result) -> [Row, ...]`` for the report's metric table (default: none).
        summary: ``summary(result) -> str``, the console line after ``gandiag evaluate``.
        section: title of its own report section (None: table row only); the report places it by
            ``order`` and draws it with the body registered in :mod:`gandiag.report.sections`
            (or a generic one).
        aliases: former names, still accepted with a FutureWarning.
        needs_heldout: needs held-out real images (``--heldout``).
        default_for: data domains (:data:`DOMAINS`) where it runs without ``--metrics``.
        parts: named numbers inside the result, each with its own direction (PRDC).
        function: dotted path of the pure function computing it (docs).
        order: position in tables, docs and the default metric list (ascending).
    """

    name: str
    title: str
    higher_is_better: Optional[bool]
    lower_bound: Optional[float]
    description: str
    paper: str
    run: Callable[[Any], Mapping[str, Any]]
    upper_bound: Optional[float] = None
    feature_space: str = "extractor"
    min_samples: int = 2
    options: Tuple[Option, ...] = ()
    rows: Optional[Callable[[Mapping[str, Any]], List[Row]]] = None
    summary: Optional[Callable[[Mapping[str, Any]], str]] = None
    section: Optional[str] = None
    aliases: Tuple[str, ...] = ()
    needs_heldout: bool = False
    default_for: Tuple[str, ...] = ()
    parts: Tuple[Part, ...] = ()
    function: str = ""
    order: int = 100

    @property
    def family(self) -> str:  # the former MetricInfo.family
        return self.name


class Context(Protocol):
    """What an evaluation step may use (implemented by :mod:`gandiag.evaluation`).

    Attributes / methods:
        options: the :class:`~gandiag.evaluation.EvaluateOptions` (``options.seed``, the
            metric's own options, ...).
        fake, ref: :class:`~gandiag.data.ImageSet` of generated and reference images.
        heldout: held-out real images (checked disjoint from ``fake``); errors when absent.
        arrays: dict the step may fill with arrays the report draws (not written to JSON).
        mnist_like: the reference is 1x28x28.
        domain: ``mnist``, ``fashion``, ``stacked-mnist`` or ``natural`` (see :data:`DOMAINS`).
        features(extractor, which, output="features"): ``(N, D)`` array; ``which`` is
            ``"fake"``, ``"ref"`` or ``"heldout"``; ``output`` ``"features"`` or ``"logits"``.
        ref_stats(extractor): :class:`FeatureStats` of the reference (computed once).
        default_extractor(): the ``--extractor`` or the domain default.
        mnist_classifier(): ``"mnist-classifier"``, or an error when images are not 1x28x28.
        require_same_shape(what): error unless fake and reference images share a shape.
        memo(key, compute): a value derived from the real data only, computed once per reference.
    """

    options: Any
    fake: Any
    ref: Any
    arrays: Dict[str, np.ndarray]
    mnist_like: bool

    def features(self, extractor: str, which: str, output: str = "features") -> np.ndarray: ...

    def ref_stats(self, extractor: str) -> Any: ...

    def default_extractor(self) -> str: ...

    def mnist_classifier(self) -> str: ...

    def require_same_shape(self, what: str) -> None: ...

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any: ...


METRICS: Registry[Metric] = Registry("metric")
_ALIASES: Dict[str, str] = {}


def register_metric(metric: Metric, *, replace: bool = False) -> Metric:
    """Add ``metric`` to :data:`METRICS`: validates its name, refuses duplicates and taken aliases.

    Options must be registered before :class:`gandiag.evaluation.EvaluateOptions` is assembled
    (at the first import of :mod:`gandiag.evaluation`): keep the call at the import of the
    metric's module, inside this package or a ``gandiag.metrics`` entry point.
    """
    if not isinstance(metric, Metric):
        raise GandiagError(f"register_metric: expected a gandiag.metrics.Metric, got {type(metric).__name__}")
    if not callable(metric.run):
        raise GandiagError(f"metric {metric.name!r}: run must be callable run(ctx) -> dict")
    bad = [d for d in metric.default_for if d not in DOMAINS]
    if bad:
        raise GandiagError(f"metric {metric.name!r}: unknown default_for {bad}; valid values are: {', '.join(DOMAINS)}")
    for alias in metric.aliases:
        owner = _ALIASES.get(alias)
        if (alias in METRICS or owner not in (None, metric.name)) and not replace:
            raise GandiagError(f"metric {metric.name!r}: alias {alias!r} is already taken by {owner or alias!r}")
    if metric.name in _ALIASES and not replace:
        raise GandiagError(f"metric name {metric.name!r} is already an alias of {_ALIASES[metric.name]!r}")
    if _OPTIONS_FROZEN and metric.options and metric.name not in METRICS:
        raise GandiagError(
            f"metric {metric.name!r} declares options but was registered after EvaluateOptions was assembled; "
            "register it from a gandiag.metrics entry point (see docs/plugins.md)")
    METRICS.register(metric.name, metric, metric.title, replace=replace)
    for alias in metric.aliases:
        _ALIASES[alias] = metric.name
    return metric


_OPTIONS_FROZEN = False


def freeze_options() -> Tuple[Option, ...]:
    """Every registered metric's options, in metric order; later option-bearing registrations fail."""
    global _OPTIONS_FROZEN
    discover()
    _OPTIONS_FROZEN = True
    return tuple(opt for m in ordered_metrics() for opt in m.options)


def canonical_name(name: str, *, warn: bool = True) -> str:
    """A metric name or a former alias -> the one name (aliases warn); unknown names list the valid ones."""
    discover()
    if name in METRICS:
        return name
    if name in _ALIASES:
        new = _ALIASES[name]
        if warn:
            warnings.warn(f"metric name {name!r} is deprecated; use {new!r}", FutureWarning, stacklevel=3)
        return new
    METRICS.get(name)  # raises: unknown metric ... valid values are: ...
    raise AssertionError("unreachable")


def get_metric(name: str) -> Metric:
    """The record of ``name`` (or of a former alias, with a FutureWarning)."""
    return METRICS.get(canonical_name(name))


def ordered_metrics() -> List[Metric]:
    discover()
    return sorted((METRICS.get(n) for n in METRICS.names()), key=lambda m: (m.order, m.name))


def list_metrics() -> List[str]:
    """Every metric name, in registry order (tables, docs, ``--metrics`` help)."""
    return [m.name for m in ordered_metrics()]


def default_metrics(domain: str) -> List[str]:
    """The metrics run without ``--metrics`` on ``domain`` ("mnist" or "natural")."""
    return [m.name for m in ordered_metrics() if domain in m.default_for]


def get_metric_info(name: str):
    """A metric's or a part's metadata (title, direction, bounds, description) by name."""
    discover()
    if name in METRICS or name in _ALIASES:
        return get_metric(name)
    for metric in METRICS.entries():
        for part in metric.obj.parts:
            if part.name == name:
                return part
    return METRICS.get(name)  # raises with the valid names


def canonical_results(results: Mapping[str, Any]) -> Dict[str, Any]:
    """A metrics.json dict with former keys (``mnist_fid``, ``inception_score``, ...) renamed."""
    discover()
    out: Dict[str, Any] = {}
    renamed = []
    for key, value in results.items():
        new = _ALIASES.get(key, key)
        if new != key:
            renamed.append(f"{key!r} is the former name of {new!r}")
        out[new] = value
    if renamed:
        warnings.warn("metrics.json keys renamed: " + "; ".join(renamed), FutureWarning, stacklevel=2)
    return out


_DISCOVERED: List[bool] = []


def discover() -> None:
    """Import every public module of :mod:`gandiag.metrics` and the ``gandiag.metrics`` entry points once."""
    if _DISCOVERED:
        return
    _DISCOVERED.append(True)
    package = importlib.import_module("gandiag.metrics")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"gandiag.metrics.{info.name}")
    from importlib.metadata import entry_points

    for ep in entry_points(group="gandiag.metrics"):
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken plug-in must not break every command
            warnings.warn(f"gandiag.metrics plug-in {ep.name!r} ({ep.value}) failed to load: {exc}", RuntimeWarning)
            continue
        if callable(loaded) and not isinstance(loaded, Metric):
            loaded()


# ------------------------------------------------------------------------------ shared row helpers
def fmt(value: object, *, percent: bool = False) -> str:
    """A number for humans: precision by magnitude; ``None`` (non-finite in JSON) -> "n/a"."""
    import math

    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if percent:
            return f"{value:.1%}"
        a = abs(value)
        if a >= 1e4:
            return f"{value:,.0f}" if a < 1e9 else f"{value:.3e}"
        if a != 0 and a < 1e-4:
            return f"{value:.3e}"
        return f"{value:.4g}"  # 4 significant digits: 1077, 12.35, 0.7123, 0.001234
    return str(value)


def ci_text(ci) -> str:
    """``[lo, hi]`` as text, or "" when there is no interval."""
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]" if isinstance(ci, (list, tuple)) and len(ci) == 2 else ""


def direction_text(metric: Any) -> str:
    if metric.higher_is_better is None:
        return "read against its baseline"
    return "higher is better" if metric.higher_is_better else "lower is better"


def mean_std_rows(name: str, what: str, count_key: str) -> Callable[[Mapping[str, Any]], List[Row]]:
    """Rows for a ``{"mean", "std", <count_key>, "extractor"}`` result (IS, KID, ...)."""
    def rows(r: Mapping[str, Any]) -> List[Row]:
        return [Row(name, fmt(r.get("mean")), f"± {fmt(r.get('std'))} (s.d. over {fmt(r.get(count_key))} {what})",
                    str(r.get("extractor", "")))]
    return rows


TABLE_START = "<!-- metric table: generated by `python -m gandiag.metrics`; do not edit by hand -->"
TABLE_END = "<!-- end of metric table -->"


def _bound(value) -> str:
    return "–" if value is None else f"{value:g}"


def metric_table_markdown() -> str:
    """docs/metrics.md's metric table, one row per record (and per part), from the registry."""
    def better(m) -> str:
        return {True: "higher", False: "lower", None: "read against a baseline"}[m.higher_is_better]

    lines = [TABLE_START, "",
             "| name (`--metrics`, JSON key) | title | better | range | features | default on | options | paper |",
             "|---|---|---|---|---|---|---|---|"]
    for m in ordered_metrics():
        options = ", ".join(f"`--{o.name.replace('_', '-')}` ({o.default!r})" if not isinstance(o.default, tuple)
                            else f"`--{o.name.replace('_', '-')}`" for o in m.options) or "–"
        aliases = f" (formerly {', '.join(f'`{a}`' for a in m.aliases)})" if m.aliases else ""
        lines.append(f"| `{m.name}`{aliases} | {m.title} | {better(m)} | {_bound(m.lower_bound)} .. "
                     f"{_bound(m.upper_bound)} | {m.feature_space} | {', '.join(m.default_for) or '–'} | {options} | "
                     f"{m.paper.split('.')[0]} {_year(m.paper)} |")
        for p in m.parts:
            lines.append(f"| ↳ `{p.name}` | {p.title} | {better(p)} | {_bound(p.lower_bound)} .. "
                         f"{_bound(p.upper_bound)} | | | | |")
    lines += ["", TABLE_END]
    return "\n".join(lines)


def _year(paper: str) -> str:
    import re

    years = re.findall(r"(?:19|20)\d\d", paper)
    return years[0] if years else ""


__all__ = ["Metric", "Part", "Row", "Context", "METRICS", "DOMAINS", "register_metric", "get_metric",
           "get_metric_info", "canonical_name", "canonical_results", "list_metrics", "default_metrics",
           "ordered_metrics", "discover", "freeze_options", "fmt", "ci_text", "direction_text", "mean_std_rows",
           "metric_table_markdown"]

