"""Rapid-categorization human studies: "real or fake?" kits and their scoring.

* :mod:`~gandiag.human.design` - seeded trial design (balance, counterbalanced exposures,
  practice, attention checks, HYPE_time staircase).
* :mod:`~gandiag.human.kit` - builds a kit folder: PNGs, ``design.json``, the offline
  ``index.html`` (:mod:`~gandiag.human.app`), ``sheets.pdf`` + ``answer_key.csv``
  (:mod:`~gandiag.human.sheets`).
* :mod:`~gandiag.human.responses` - reads the page's JSON/CSV exports and transcribed paper CSVs.
* :mod:`~gandiag.human.scoring` - accuracy, fool rate, HYPE scores, d'/criterion, bootstrap CIs.
* :mod:`~gandiag.human.analysis` - sessions -> the ``scores.json`` document.
* :mod:`~gandiag.human.summary` - text, PNG and HTML views of the scores.

See docs/human-study.md.
"""
from .analysis import score_sessions
from .design import StudyConfig, build_design
from .kit import build_kit, read_design
from .responses import read_responses
from .scoring import dprime_criterion

__all__ = ["StudyConfig", "build_design", "build_kit", "read_design", "read_responses", "score_sessions",
           "dprime_criterion"]
