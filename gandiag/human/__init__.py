"""Rapid-categorization human studies: "real or fake?" kits and their scoring.

* :mod:`~gandiag.human.design` - seeded trial design (balance over exposures and generators,
  counterbalanced exposures and keys, practice, known-answer catch trials, HYPE_time staircase,
  HYPE_inf untimed).
* :mod:`~gandiag.human.kit` - builds a kit folder: PNGs, ``design.json``, the offline
  ``index.html`` (:mod:`~gandiag.human.app`), ``sheets.pdf`` + ``answer_key.csv``
  (:mod:`~gandiag.human.sheets`).
* :mod:`~gandiag.human.responses` - reads the page's JSON/CSV exports, transcribed paper CSVs and the
  server database.
* :mod:`~gandiag.human.store` / :mod:`~gandiag.human.server` - ``gandiag human-serve``: answer store
  (SQLite, or a server database by SQLAlchemy URL) and the stdlib HTTP server (crowd ids, one person
  once, completion code, status page).
* :mod:`~gandiag.human.jspsych` - ``gandiag human-export --jspsych``: the kit as a jsPsych experiment
  (JATOS, Pavlovia, static hosts).
* :mod:`~gandiag.human.scoring` - accuracy, fool rate, HYPE scores, d'/criterion, bootstrap CIs.
* :mod:`~gandiag.human.agreement` - Fleiss' kappa, Krippendorff's alpha.
* :mod:`~gandiag.human.analysis` - sessions -> the ``scores.json`` document (exclusion and timing
  rules, per model, per image, agreement, reaction times).
* :mod:`~gandiag.human.summary` - text, PNG and HTML views of the scores, the per-image grid.

See docs/human-study.md.
"""
from .analysis import score_sessions
from .design import StudyConfig, build_design
from .kit import build_kit, read_design
from .responses import read_responses
from .scoring import dprime_criterion

__all__ = ["StudyConfig", "build_design", "build_kit", "read_design", "read_responses", "score_sessions",
           "dprime_criterion"]
