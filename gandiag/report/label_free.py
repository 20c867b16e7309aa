"""The label-free diagnosis report (``diagnose`` on data no shipped classifier fits).

Same page conventions as :mod:`gandiag.report.html`: one self-contained HTML file;
the verdict with the evidence it used, NDB/K, PRDC recall/coverage and the birthday
support over training, the real images nearest the final checkpoint's under-populated
bins, the per-checkpoint table and the final samples.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

from ..fileio import atomic_write_text
from . import collapse_figures, figures
from .page import document, esc, fmt, img, section, table, toc

_KIND = {"healthy": "good", "partial collapse": "warn", "collapse": "bad"}


def label_free_diagnosis_html(diagnosis: Mapping, arrays: Optional[Mapping] = None, *,
                              title: Optional[str] = None) -> str:
    arrays = arrays or {}
    rows, verdict, base = diagnosis["checkpoints"], diagnosis["verdict"], diagnosis["baseline"]
    name = str(verdict["verdict"])
    evidence = "".join(f"<li>{esc(e)}</li>" for e in verdict["evidence"])
    box = (f'<div class="verdict {_KIND.get(name, "warn")}"><div class="name">{esc(name)}</div>'
           f"<div>Verdict for the final checkpoint, {esc(verdict['final'])}, from label-free evidence: "
           f"{esc('; '.join(verdict['evidence_used']))}.</div><ul>{evidence}</ul></div>")
    sections = [("over-training", section("over-training", "Label-free evidence over training", img(
        collapse_figures.label_free_over_steps(rows, base), "NDB/K, recall/coverage and birthday support per checkpoint",
        caption="Dashed lines: held-out real images scored the same way (the real-vs-real baseline).")))]
    under = arrays.get("ndb_under_images")
    if under is not None and len(under):
        tiles = under.reshape((-1,) + tuple(under.shape[2:]))
        sections.append(("missing", section("missing", "What the final checkpoint no longer draws", img(
            figures.sample_grid(tiles, nrow=under.shape[1]), "real images nearest the under-populated bins",
            caption="One row per significantly under-populated NDB bin (most significant first): the real "
                    "images nearest its centre.", pixels=True))))
    header = ("Checkpoint", "Step", "NDB/K", "JS", "Recall", "Coverage", "Precision", "Birthday support")
    sign = {"estimate": "≈", "at_least": ">", "at_most": "≤"}
    body = [(esc(r["label"]), esc(fmt(r["step"])), esc(fmt(r["ndb_k"])), esc(fmt(r["js"])), esc(fmt(r["recall"])),
             esc(fmt(r["coverage"])), esc(fmt(r["precision"])),
             esc(f"{sign[r['support_status']]} {r['support_estimate']:,.0f}")) for r in [base] + list(rows)]
    sections.append(("checkpoints", section("checkpoints", "Checkpoints (first row: held-out real images)",
                                            table(header, body, numeric=(1, 2, 3, 4, 5, 6)))))
    final = arrays.get("final_samples")
    if final is not None and len(final):
        sections.append(("final-samples", section("final-samples", "Final checkpoint samples", img(
            figures.sample_grid(final[:64], nrow=8), "final checkpoint samples", pixels=True))))
    titles = {"over-training": "Evidence", "missing": "Missing bins", "checkpoints": "Checkpoints",
              "final-samples": "Final samples"}
    n = diagnosis.get("num_samples_per_checkpoint")
    sub = f"{len(rows)} checkpoints, {fmt(n)} samples each, label-free diagnosis"
    head = f'<p class="subtitle">{esc(sub)}</p>{box}' + toc([(a, titles[a]) for a, _ in sections])
    return document(title or "gandiag diagnosis (label-free)", head, [h for _, h in sections])


def render_label_free_report(diagnosis: Mapping, arrays: Optional[Mapping], path, *,
                             title: Optional[str] = None) -> Path:
    """Write :func:`label_free_diagnosis_html` atomically to ``path``."""
    return atomic_write_text(path, label_free_diagnosis_html(diagnosis, arrays, title=title))
