"""Reports: one self-contained, offline HTML file per evaluation or diagnosis.

* :func:`render_evaluation_report` - samples, metric table, mode histogram,
  nearest-neighbour grids with the data-copying score, Parzen and FID-vs-N curves,
  provenance.
* :func:`render_diagnosis_report` - verdict with its evidence, coverage / class share /
  FID over training, per-checkpoint table, final samples.
* :mod:`gandiag.report.figures` - the matplotlib figures as PNG bytes.

See docs/reports.md.
"""
from .html import diagnosis_html, evaluation_html, render_diagnosis_report, render_evaluation_report

__all__ = ["render_evaluation_report", "render_diagnosis_report", "evaluation_html", "diagnosis_html"]
