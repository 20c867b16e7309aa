"""Self-contained HTML reports for an evaluation and for a collapse diagnosis.

Each report is ONE ``.html`` file: figures are PNG ``data:`` URIs, the CSS is inline,
there is no JavaScript and no external URL of any kind (a Content-Security-Policy
meta tag forbids fetching anything), so the file can be mailed, archived or opened
offline and always looks the same. Files are written atomically.

What the pages show is driven by the data: a section appears only when its metric
is in the results; the metric table's rows, titles and "better" directions come from
each metric's record in :data:`gandiag.metrics.METRICS` (whose name is also its
metrics.json key), so a new metric appears here without editing this module. So do the
metric sections: a record with a ``section`` gets one, titled so, in the records' order,
drawn by the body registered for it (:mod:`gandiag.report.sections`) or a generic one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import GandiagError
from ..fileio import PathLike, atomic_write_text
from . import figures
from .page import document, esc, fmt, highlights, img, json_block, kv_table, section, table, toc
from .sections import SECTION_BODIES, metric_sections, register_section_body

Row = Tuple[str, str, str, str]  # metric name, value html, spread html, extractor html


# --------------------------------------------------------------------------------------- metadata
def _metric_names(key: str) -> List[str]:
    """metrics.json key -> metadata names (``prdc`` -> its four parts)."""
    from ..metrics import METRICS

    if key not in METRICS:
        return []
    metric = METRICS.get(key)
    return [p.name for p in metric.parts] or [key]


def _info(name: str):
    from ..metrics import get_metric_info

    try:
        return get_metric_info(name)
    except GandiagError:
        return None


def _arrow(name: str) -> str:
    info = _info(name)
    if info is None or info.higher_is_better is None:
        return '<span class="arrow" title="no better direction: read against the baseline">–</span>'
    if info.higher_is_better:
        return '<span class="arrow" title="higher is better">↑ higher</span>'
    return '<span class="arrow" title="lower is better">↓ lower</span>'


def _short(name: str) -> str:
    """Registry name as a compact label: mnist-fid -> MNIST-FID."""
    return name.upper() if len(name) <= 9 else name


def _classes(classes: Sequence, limit: int = 20) -> str:
    """``3, 7`` or, for long lists (1000-mode data), ``0, 1, ... (+592 more)``."""
    shown = ", ".join(str(c) for c in list(classes)[:limit])
    return shown + (f" … (+{len(classes) - limit} more)" if len(classes) > limit else "")


def _ci(ci) -> str:
    """``[lo, hi]`` as escaped HTML, or "" when there is no interval."""
    return esc(f"[{fmt(ci[0])}, {fmt(ci[1])}]") if isinstance(ci, (list, tuple)) and len(ci) == 2 else ""


# ---------------------------------------------------------------------------------- metric table rows
def _lines(text: str) -> str:
    """Plain text from a record's Row: the first line as is, further lines muted."""
    first, *rest = str(text).split("\n")
    return "<br>".join([esc(first)] + [f'<span class="muted">{esc(line)}</span>' for line in rest])


def _metric_table(metrics: Mapping) -> str:
    from ..metrics import METRICS

    rows, classes = [], []
    for key, result in metrics.items():
        if key not in METRICS or not isinstance(result, Mapping) or METRICS.get(key).rows is None:
            continue
        for row in METRICS.get(key).rows(result):
            info = _info(row.name)
            title = f"<strong>{esc(info.title if info else row.name)}</strong><br><code>{esc(row.name)}</code>"
            desc = esc(info.description) if info else ""
            features = row.features + "".join(f"\n{tag}" for tag in (
                f"protocol {result['protocol']}" if result.get("protocol") else "", result.get("weights_marker", ""))
                if tag)  # which published tables the row may stand next to
            rows.append((title, _lines(row.value), _lines(row.detail), _arrow(row.name), _lines(features), desc))
            classes.append("missing" if row.flag else "")
    return table(("Metric", "Value", "Uncertainty / detail", "Better", "Features", "What it measures"), rows,
                 numeric=(1,), row_classes=classes)


# ------------------------------------------------------------------------------------- highlights
def _noun(modes: Mapping) -> str:
    return "digit" if modes.get("num_classes") == 10 and "mnist" in str(modes.get("classifier", "")) else "class"


def _nouns(noun: str) -> str:
    return noun + "es" if noun.endswith("s") else noun + "s"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun if n == 1 else _nouns(noun)}"


def _evaluation_highlights(m: Mapping) -> List[Tuple[str, str]]:
    out: List[Tuple[str, str]] = []
    modes = m.get("modes")
    domain = m.get("domain_check")
    if isinstance(domain, Mapping) and domain.get("out_of_domain"):
        # First line of the report; coverage verdicts of a classifier that cannot read the samples stay out
        # of the headline (they remain in their section, under this warning).
        out.append(("bad", f"Out of domain: {domain.get('message', '')}"))
        modes = None
    if isinstance(modes, Mapping):
        noun, k, missing = _noun(modes), modes.get("num_classes"), list(modes.get("missing") or [])
        if missing:
            out.append(("bad", f"{_plural(len(missing), noun)} missing: {_classes(missing)}"))
        else:
            out.append(("good", f"all {k} {_nouns(noun)} covered"))
        fr = modes.get("fractions") or []
        if fr and max(fr) >= 0.5:
            out.append(("bad", f"{noun} {int(np.argmax(fr))} holds {max(fr):.0%} of the samples"))
        if modes.get("conditioning_accuracy") is not None:
            acc = float(modes["conditioning_accuracy"])
            out.append(("good" if acc >= 0.9 else "warn", f"conditioning accuracy {acc:.1%}"))
    nn = m.get("neighbours")
    if isinstance(nn, Mapping) and nn.get("copy_fraction") is not None:
        q = float(nn.get("expected_fraction") or 0.05)
        if nn.get("copying"):
            out.append(("bad", f"copying flagged: {nn['copy_fraction']:.1%} of samples are closer to a training "
                               f"image than {1 - q:.0%} of held-out real images ({q:.0%} expected)"))
        else:
            out.append(("good", f"no data copying detected ({nn['copy_fraction']:.1%} of samples unusually close "
                                f"to training images; {q:.0%} expected)"))
    for key in ("fid", "mnist-fid"):
        r = m.get(key)
        if isinstance(r, Mapping) and r.get("value") is not None:
            ci = r.get("ci95")
            extra = f" (95% CI {fmt(ci[0])}–{fmt(ci[1])})" if isinstance(ci, list) and len(ci) == 2 else ""
            out.append(("info", f"{_short(_metric_names(key)[0])} {fmt(r['value'])}{extra}"))
    for key in ("is", "mnist-is"):
        r = m.get(key)
        if isinstance(r, Mapping) and r.get("mean") is not None:
            out.append(("info", f"{_short(_metric_names(key)[0])} {fmt(r['mean'])} ± {fmt(r.get('std'))}"))
    parzen = m.get("parzen")
    if isinstance(parzen, Mapping) and _sigma_at_edge(parzen):
        out.append(("warn", "Parzen σ at the edge of its search grid: the log-likelihood may be off"))
    return out


def _sigma_at_edge(parzen: Mapping) -> bool:
    sigmas = [s for s in parzen.get("sigmas") or [] if s is not None]
    return len(sigmas) > 1 and parzen.get("sigma") in (min(sigmas), max(sigmas))


# --------------------------------------------------------------------------------------- sections
def _samples_section(samples: np.ndarray, total: object, source: str, anchor: str, heading: str) -> str:
    n = len(samples)
    caption = f"{n} of {fmt(total)} generated images" + (f" ({source})" if source else "") + "."
    return section(anchor, heading, img(figures.sample_grid(samples, nrow=8), f"grid of {n} generated images",
                                        caption=caption, pixels=True))


def _modes_body(r: Mapping, arrays: Mapping) -> str:
    noun = _noun(r)
    missing = list(r.get("missing") or [])
    share = (float(r["threshold"]) / float(r["num_samples"])) if r.get("threshold") and r.get("num_samples") else None
    lead = (f'<p class="note bad"><strong>{esc(_plural(len(missing), noun))} missing: '
            f'{esc(_classes(missing))}.</strong> A generator that covers the data should produce every '
            f"class about as often as the real data has it (grey bars).</p>" if missing else
            f'<p class="note">Every {esc(noun)} appears among the generated samples.</p>')
    caption = (f"Each sample is labelled by the classifier {r.get('classifier', '')}; a {noun} counts as covered "
               f"when it holds at least {fmt(r.get('threshold'))} of {fmt(r.get('num_samples'))} samples"
               + (f" ({share:.1%})" if share else "") + ". Red bars: missing.")
    details = [("covered", f"{r.get('covered')} / {r.get('num_classes')}"),
               ("missing", _classes(missing, limit=200) or "none"),
               ("KL(generated ‖ data class histogram)", f"{fmt(r.get('kl_to_reference'))} nats"),
               ("KL to uniform", f"{fmt(r.get('kl_to_uniform'))} nats"),
               ("normalized entropy", fmt(r.get("normalized_entropy"))),
               ("largest class share", fmt(r.get("max_fraction"), percent=True)),
               ("low-confidence samples (max p < 0.5)", fmt(r.get("low_confidence_fraction"), percent=True))]
    if r.get("conditioning_accuracy") is not None:
        details.append(("conditioning accuracy (label asked = label seen)",
                        fmt(r["conditioning_accuracy"], percent=True)))
    body = lead + img(figures.class_histogram(r), "per-class share of generated samples", caption=caption)
    return body + kv_table(details)


def _neighbour_grids(r: Mapping, arrays: Mapping) -> str:
    queries = arrays.get("nn_queries")
    if queries is None:
        return '<p class="note">Neighbour images are not stored in metrics.json; re-run the evaluation to see them.</p>'
    out = []
    pixel = arrays.get("nn_pixel")
    if pixel is not None:
        caption = ("Left: a generated sample; right: its nearest training images in pixel space (L2), nearest first. "
                   f"Red frames: closer than τ = {fmt(r.get('threshold'))}.")
        out.append(img(figures.neighbour_grid(queries, pixel, "Pixel space (L2)",
                                              distances=r.get("pixel_distances"), threshold=r.get("threshold")),
                       "generated samples and their nearest training images in pixel space", caption=caption))
    feature = arrays.get("nn_feature")
    if feature is not None:
        name = r.get("feature_extractor", "features")
        out.append(img(figures.neighbour_grid(queries, feature, f"Feature space ({name})",
                                              distances=r.get("feature_distances")),
                       "generated samples and their nearest training images in feature space",
                       caption=f"The same samples' nearest training images in {name} feature space: "
                               "similar content rather than similar pixels."))
    grids = f'<div class="pair">{"".join(out)}</div>' if out else ""
    if r.get("feature_neighbours_unavailable"):
        grids += (f'<p class="note">Feature-space neighbours unavailable: '
                  f'{esc(r["feature_neighbours_unavailable"])}</p>')
    return grids


def _flag_factor(r: Mapping) -> float:
    """The copy_score flag factor: from the result when recorded, else copy_score's default."""
    if r.get("flag_factor") is not None:
        return float(r["flag_factor"])
    from ..metrics.copying import DEFAULT_FLAG_FACTOR

    return DEFAULT_FLAG_FACTOR


def _neighbours_body(r: Mapping, arrays: Mapping) -> str:
    q = float(r.get("expected_fraction") or 0.05)
    factor = _flag_factor(r)
    cf = r.get("copy_fraction")
    verdict = ('<strong class="bad">Copying flagged.</strong>' if r.get("copying") else
               '<strong class="good">No data copying detected.</strong>')
    explain = (
        f'<p class="note{" bad" if r.get("copying") else ""}">{verdict} For every generated sample we measure the '
        f"distance to its nearest training image; held-out real images, never seen in training, give the "
        f"baseline. τ = {esc(fmt(r.get('threshold')))} is the {q:.0%} quantile of their distances, so about "
        f"{q:.0%} of novel images fall below it. Here <strong>{esc(fmt(cf, percent=True))}</strong> of "
        f"{esc(fmt(r.get('num_samples')))} generated samples do; copying is flagged above "
        f"{factor * q:.0%} ({factor:g}× the expected share). A model that copies its "
        f"training set shows many samples below τ and near-duplicate first neighbours.</p>")
    stats = kv_table([
        ("copy fraction (below τ)", f"{fmt(cf, percent=True)} ({fmt(q, percent=True)} expected)"),
        ("median distance: generated → train", fmt(r.get("median_distance"))),
        ("median distance: held-out real → train", fmt(r.get("test_median_distance"))),
        ("ratio (generated / real; < 1 = closer than real data)", fmt(r.get("median_ratio"))),
        ("mean distance: generated / held-out", f"{fmt(r.get('mean_distance'))} / {fmt(r.get('test_mean_distance'))}"),
        ("training / held-out / generated images",
         f"{fmt(r.get('num_train'))} / {fmt(r.get('num_heldout'))} / {fmt(r.get('num_samples'))}"),
        ("space", r.get("space", "")),
    ])
    return explain + stats + _neighbour_grids(r, arrays)


def _parzen_body(r: Mapping, arrays: Mapping) -> str:
    from ..metrics import METRICS

    text = (f"<p>Test log-likelihood <strong>{esc(fmt(r.get('mean')))} nats</strong> "
            f"(95% CI {_ci(r.get('ci95'))}, s.e. {esc(fmt(r.get('stderr')))}) with σ = "
            f"{esc(fmt(r.get('sigma')))}, from {esc(fmt(r.get('num_samples')))} samples; σ chosen on "
            f"{esc(fmt(r.get('num_validation')))} validation and scored on {esc(fmt(r.get('num_test')))} test "
            f"images of {esc(r.get('heldout', 'held-out data'))}.</p>"
            f'<p class="note">{esc(METRICS.get("parzen").description)}</p>')
    figure = ""
    if r.get("sigmas") and r.get("validation_log_likelihoods"):
        figure = img(figures.parzen_curve(r), "Parzen validation log-likelihood against sigma",
                     caption="Mean validation log-likelihood for each window width σ; the star marks the chosen σ.")
    return text + figure


def _fid_inf_body(r: Mapping, arrays: Mapping) -> str:
    from ..metrics import METRICS

    text = (f"<p>FID∞ = <strong>{esc(fmt(r.get('fid_inf')))}</strong> (slope {esc(fmt(r.get('slope')))}, "
            f"features: {esc(r.get('extractor', ''))}).</p>"
            f'<p class="note">{esc(METRICS.get("fid-inf").description)}</p>')
    return (text + img(figures.fid_curve(r), "FID against one over the number of samples",
                       caption="FID of random subsets of N generated samples against 1/N; the line's "
                               "intercept at 1/N = 0 is FID∞."))


def _provenance_section(p: Mapping) -> str:
    if not isinstance(p, Mapping):
        return ""
    shape = p.get("image_shape")
    rows = [
        ("created (UTC)", p.get("created")),
        ("versions", {"gandiag": p.get("gandiag_version"), "torch": p.get("torch_version"),
                      "numpy": p.get("numpy_version"), "python": p.get("python")}),
        ("seed", p.get("seed")),
        ("generated images", f"{fmt(p.get('num_generated'))} × {'×'.join(map(str, shape))}" if shape
         else p.get("num_generated")),
        ("source", p.get("source")),
        ("reference (training) data", p.get("reference")),
        ("held-out data", p.get("heldout") if p.get("heldout") is not None else "not used"),
        ("feature extractors", p.get("extractors") or "none (pixel-space metrics only)"),
        ("metrics", p.get("metrics")),
        ("time per metric (s)", p.get("timings_s")),
    ]
    known = {"created", "gandiag_version", "torch_version", "numpy_version", "python", "seed", "num_generated",
             "image_shape", "source", "reference", "heldout", "extractors", "metrics", "timings_s", "options"}
    rows += [(k, v) for k, v in p.items() if k not in known]
    body = kv_table((k, v) for k, v in rows if v is not None)
    if p.get("options"):
        body += f"<details><summary>all options</summary>{json_block(p['options'])}</details>"
    return section("provenance", "Provenance", body)


# ------------------------------------------------------------------------------------ evaluation
def _ndb_body(r: Mapping, arrays: Mapping) -> str:
    from .collapse_sections import ndb_body

    return ndb_body(r, arrays)


def _birthday_body(r: Mapping, arrays: Mapping) -> str:
    from .collapse_sections import birthday_body

    return birthday_body(r, arrays)


# The built-in metrics' figures; each section's anchor, title and place come from the metric's record
# (its name, ``section`` and ``order``), see gandiag.report.sections.
for _name, _body in (("modes", _modes_body), ("neighbours", _neighbours_body), ("parzen", _parzen_body),
                     ("fid-inf", _fid_inf_body), ("ndb", _ndb_body), ("birthday", _birthday_body)):
    if _name not in SECTION_BODIES:
        register_section_body(_name, _body)


def _unpack_evaluation(evaluation) -> Tuple[Mapping, Mapping]:
    if isinstance(evaluation, Mapping):  # a loaded metrics.json
        return evaluation, {}
    metrics, arrays = getattr(evaluation, "metrics", None), getattr(evaluation, "arrays", None)
    if not isinstance(metrics, Mapping):
        raise GandiagError(f"render_evaluation_report(evaluation): expected a gandiag Evaluation or a metrics.json "
                           f"dict, got {type(evaluation).__name__}")
    return metrics, arrays or {}


def evaluation_html(evaluation, *, title: Optional[str] = None) -> str:
    """The evaluation report as an HTML string (see :func:`render_evaluation_report`)."""
    from ..metrics import METRICS, canonical_results

    m, arrays = _unpack_evaluation(evaluation)
    m = canonical_results(m)  # metrics.json files written before the one-name rule
    prov = m.get("provenance") if isinstance(m.get("provenance"), Mapping) else {}
    source = prov.get("source") or {}
    source_text = str(source.get("description") or source.get("spec") or "") if isinstance(source, Mapping) else ""
    title = title or (f"gandiag evaluation: {source_text}" if source_text else "gandiag evaluation")
    ref = prov.get("reference") or {}
    sub = [f"{fmt(prov.get('num_generated'))} generated images" if prov.get("num_generated") else "",
           f"reference: {ref.get('description') or ref.get('spec')}" if isinstance(ref, Mapping) and ref else "",
           f"seed {prov.get('seed')}" if prov.get("seed") is not None else "",
           str(prov.get("created") or "")]
    sections: List[Tuple[str, str, str]] = []  # (anchor, table-of-contents label, html)
    samples = arrays.get("samples")
    if samples is not None and len(samples):
        sections.append(("samples", "Samples", _samples_section(samples, prov.get("num_generated", len(samples)),
                                                                 source_text, "samples", "Generated samples")))
    if any(k in METRICS for k in m):
        sections.append(("metrics", "Metrics", section("metrics", "Metrics", _metric_table(m))))
    for anchor, heading, body in metric_sections(m, arrays):  # records with a `section`, in registry order
        sections.append((anchor, heading, section(anchor, heading, body)))
    # domain_check is the out-of-domain guard, not a metric: it speaks in the headline (and in metrics.json)
    other = {k: v for k, v in m.items() if k not in METRICS and k not in ("provenance", "domain_check")}
    if other:
        sections.append(("other", "Other results", section("other", "Other results", json_block(other))))
    if prov:
        sections.append(("provenance", "Provenance", _provenance_section(prov)))
    from ..weights_notice import unpublished_notices

    notices = unpublished_notices(prov.get("extractors", {}))  # first lines: never only a provenance row
    header = (f'<p class="subtitle">{esc(" · ".join(s for s in sub if s))}</p>'
              + highlights([("bad", f"Warning: {n}") for n in notices])
              + highlights(_evaluation_highlights(m))
              + toc([(a, label) for a, label, _ in sections]))
    return document(title, header, [html for _, _, html in sections])


def render_evaluation_report(evaluation, path: PathLike, *, title: Optional[str] = None) -> Path:
    """Write the evaluation report: one self-contained HTML file.

    Args:
        evaluation: a :class:`gandiag.evaluation.Evaluation` (``metrics`` + ``arrays``) or a
            loaded metrics.json dict (then without sample and neighbour images).
        path: the ``.html`` file to write (atomically; parent folders are created).
        title: page title; default ``"gandiag evaluation: <source>"``.

    Returns:
        ``Path(path)``.
    """
    return atomic_write_text(path, evaluation_html(evaluation, title=title))


# ------------------------------------------------------------------------------------- diagnosis
_VERDICT_KIND = {"healthy": "good", "partial collapse": "warn", "collapse": "bad", "memorization": "bad"}


def _check_diagnosis(diagnosis) -> Tuple[List[Mapping], Mapping]:
    if not isinstance(diagnosis, Mapping):
        raise GandiagError(f"render_diagnosis_report(diagnosis): expected the dict from gandiag.diagnostics.run."
                           f"diagnose (or diagnosis.json), got {type(diagnosis).__name__}")
    checkpoints, verdict = diagnosis.get("checkpoints"), diagnosis.get("verdict")
    if not isinstance(checkpoints, Sequence) or not checkpoints or not isinstance(verdict, Mapping):
        raise GandiagError("render_diagnosis_report(diagnosis): needs a non-empty 'checkpoints' list and a "
                           "'verdict' dict; pass diagnose()'s result as is")
    return list(checkpoints), verdict


def _checkpoint_table(checkpoints: Sequence[Mapping]) -> str:
    rows, classes = [], []
    for c in checkpoints:
        missing = list(c.get("missing") or [])
        copying = c.get("copying")
        rows.append((
            esc(c.get("label", "")), esc(fmt(c.get("step"))),
            f"{esc(c.get('covered'))} / {esc(c.get('num_classes'))}",
            f'<span class="bad">{esc(_classes(missing))}</span>' if missing else "–",
            esc(fmt(c.get("kl_to_reference"))), esc(fmt(c.get("fid"))),
            esc(fmt(c.get("copy_fraction"), percent=True)),
            '<span class="bad">yes</span>' if copying else ("no" if copying is not None else "n/a"),
        ))
        classes.append("missing" if missing or copying else "")
    return table(("Checkpoint", "Step", "Covered", "Missing", "KL to data", "FID", "Copy fraction", "Copying"),
                 rows, numeric=(1, 4, 5, 6), row_classes=classes)


def diagnosis_html(diagnosis: Mapping, arrays: Optional[Mapping] = None, *, title: Optional[str] = None) -> str:
    """The diagnosis report as an HTML string (see :func:`render_diagnosis_report`)."""
    checkpoints, verdict = _check_diagnosis(diagnosis)
    arrays = arrays or {}
    name = str(verdict.get("verdict", "unknown"))
    kind = _VERDICT_KIND.get(name, "warn")
    evidence = "".join(f"<li>{esc(e)}</li>" for e in verdict.get("evidence") or [])
    box = (f'<div class="verdict {kind}"><div class="name">{esc(name)}</div>'
           f'<div>Verdict for the final checkpoint, {esc(verdict.get("final", checkpoints[-1].get("label", "")))}.'
           f"</div><ul>{evidence}</ul></div>")
    n = diagnosis.get("num_samples_per_checkpoint")
    sub = f"{len(checkpoints)} checkpoints" + (f", {fmt(n)} samples each" if n else "") + \
          f", steps {fmt(checkpoints[0].get('step'))}–{fmt(checkpoints[-1].get('step'))}"
    vanished = list(verdict.get("vanished") or [])
    sections: List[Tuple[str, str]] = []

    body = img(figures.coverage_over_steps(checkpoints), "classes covered and KL to the data over training",
               caption="Top: classes covered at each checkpoint (red: some class missing). Bottom: KL divergence "
                       "between the generated and the real class histogram.")
    sections.append(("coverage", section("coverage", "Mode coverage over training", body)))

    body = img(figures.class_share_over_steps(checkpoints, vanished=vanished,
                                              reference_fractions=diagnosis.get("reference_fractions")),
               "share of samples per class at each checkpoint",
               caption="Each cell: the share of a checkpoint's samples the classifier assigns to a class. "
                       "× marks classes below the coverage threshold; red boxes mark where a class vanished.")
    if vanished:
        body += table(("Class", "Last covered at step", "Vanished at", "Peak share"),
                      [(esc(v.get("class")), esc(fmt(v.get("last_covered_step"))), esc(v.get("vanished_at", "")),
                        esc(fmt(v.get("peak_fraction"), percent=True))) for v in vanished], numeric=(1, 3))
    if verdict.get("never_covered"):
        body += (f'<p class="note bad">Never covered at any checkpoint: '
                 f'{esc(_classes(verdict["never_covered"]))}</p>')
    sections.append(("classes", section("classes", "Class shares over training", body)))

    try:
        body = img(figures.fid_over_steps(checkpoints), "FID and copy fraction over training",
                   caption="Fréchet distance in the MNIST classifier's feature space (lower is better); below, "
                           "the share of samples unusually close to a training image.")
    except GandiagError:
        body = '<p class="note">No checkpoint has an FID value.</p>'
    sections.append(("quality", section("quality", "Sample quality and copying over training", body)))
    sections.append(("checkpoints", section("checkpoints", "Checkpoints", _checkpoint_table(checkpoints))))

    final = arrays.get("final_samples")
    if final is not None and len(final):
        sections.append(("final-samples", _samples_section(final, n or len(final), str(verdict.get("final", "")),
                                                            "final-samples", "Final checkpoint samples")))
    prov = diagnosis.get("provenance")
    if isinstance(prov, Mapping) and prov:
        sections.append(("provenance", _provenance_section(prov)))
    titles = {"coverage": "Coverage", "classes": "Class shares", "quality": "Quality", "checkpoints": "Checkpoints",
              "final-samples": "Final samples", "provenance": "Provenance"}
    header = f'<p class="subtitle">{esc(sub)}</p>{box}' + toc([(a, titles[a]) for a, _ in sections])
    return document(title or "gandiag diagnosis", header, [html for _, html in sections])


def render_diagnosis_report(diagnosis: Mapping, arrays: Optional[Mapping], path: PathLike, *,
                            title: Optional[str] = None) -> Path:
    """Write the collapse-diagnosis report: one self-contained HTML file.

    Args:
        diagnosis: the dict from :func:`gandiag.diagnostics.run.diagnose` (``checkpoints``,
            ``verdict``, ``reference_fractions``, ``provenance``) or a loaded diagnosis.json.
        arrays: ``{"final_samples": (N, C, H, W)}`` or ``None``.
        path: the ``.html`` file to write (atomically).
        title: page title; default ``"gandiag diagnosis"``.

    Returns:
        ``Path(path)``.
    """
    return atomic_write_text(path, diagnosis_html(diagnosis, arrays, title=title))


__all__ = ["render_evaluation_report", "render_diagnosis_report", "evaluation_html", "diagnosis_html"]
