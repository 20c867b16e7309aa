"""From participants' sessions to the ``scores.json`` document.

Orchestration only: attention checks and exclusions, timing checks, then the
pure statistics of :mod:`gandiag.human.scoring` (overall, per exposure, per
participant) with two-way bootstrap confidence intervals.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import numpy as np

from .. import __version__
from ..errors import GandiagError
from .responses import Session
from .scoring import (STATS, AnswerTable, bootstrap_stats, bootstrap_weights, check_bootstrap, mean_with_ci,
                      modal_exposure, percentile_ci, stats_from_counts)

UNTIMED = "untimed"
CORRECTION = "log-linear (Hautus 1995): H=(hits+0.5)/(n_fake+1), F=(false_alarms+0.5)/(n_real+1)"


def attention_result(session: Session) -> Dict:
    """Attention checks of one session: noise = answered "fake"; repeat = same answer as the original."""
    by_number = {a.number: a for a in session.answers}
    n = passed = 0
    for a in session.answers:
        if a.attention == "noise":
            n += 1
            passed += a.response == "fake"
        elif a.attention == "repeat":
            original = by_number.get(a.repeat_of)
            if original is None:
                continue  # original unanswered (blank paper item): nothing to compare
            n += 1
            passed += a.response == original.response
    return {"checks": n, "passed": passed, "pass_rate": passed / n if n else None}


def timing_result(session: Session) -> Optional[Dict]:
    """How closely page trials met their exposure (None for paper sessions)."""
    if session.mode != "page":
        return None
    errors = [a.measured_ms - a.exposure_ms for a in session.answers
              if a.measured_ms is not None and a.exposure_ms is not None]
    frame = session.frame_ms
    far = None
    if frame:
        # More than 1.5 frames off: the browser dropped frames (busy machine, hidden tab).
        far = int(sum(abs(e) > 1.5 * frame for e in errors))
    return {"frame_ms": frame, "trials_measured": len(errors),
            "max_abs_error_ms": float(max((abs(e) for e in errors), default=0.0)),
            "mean_error_ms": float(np.mean(errors)) if errors else None,
            "trials_off_by_more_than_1_5_frames": far,
            "trials_with_hidden_page": int(sum(a.page_hidden for a in session.answers))}


def _scored(session: Session):
    return [a for a in session.answers if a.phase == "main" and a.attention is None]


def _exposure_key(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNTIMED
    return f"{value:g}"


def build_table(sessions: Sequence[Session]) -> AnswerTable:
    """:class:`AnswerTable` of the scored trials of ``sessions`` (in that participant order)."""
    image_index: Dict[str, int] = {}
    rows = []
    for p, s in enumerate(sessions):
        for a in _scored(s):
            i = image_index.setdefault(a.image, len(image_index))
            rows.append((p, i, a.truth == "fake", a.response == "fake",
                         np.nan if a.exposure_ms is None else float(a.exposure_ms)))
    if not rows:
        raise GandiagError("no scored trials: the response files hold only practice trials or attention "
                           "checks, or every participant was excluded")
    cols = list(zip(*rows))
    return AnswerTable(participant=np.array(cols[0], np.int64), image=np.array(cols[1], np.int64),
                       truth_fake=np.array(cols[2], bool), said_fake=np.array(cols[3], bool),
                       exposure=np.array(cols[4], np.float64), n_participants=len(sessions),
                       n_images=len(image_index))


def _with_ci(point: Dict[str, np.ndarray], reps: Optional[Dict[str, np.ndarray]]) -> Dict:
    out = {}
    for k in STATS:
        v = float(point[k])
        out[k] = {"value": v if math.isfinite(v) else None,
                  "ci95": percentile_ci(reps[k]) if reps is not None else None}
    return out


def participant_row(session: Session, min_attention: float) -> Dict:
    scored = _scored(session)
    counts = np.zeros((1, 4))
    for a in scored:
        fake, said = a.truth == "fake", a.response == "fake"
        counts[0] += [fake, fake and said, not fake, (not fake) and said]
    st = stats_from_counts(counts)
    attention = attention_result(session)
    excluded = attention["checks"] > 0 and attention["pass_rate"] < min_attention
    stair = [a.exposure_ms for a in scored if a.staircase_level is not None]
    row = {
        "participant": session.participant, "mode": session.mode, "file": session.file,
        "answered": len(session.answers), "expected": session.expected, "complete": session.complete,
        "scored_trials": len(scored),
        **{k: (float(st[k]) if math.isfinite(float(st[k])) else None) for k in STATS},
        "attention": attention, "excluded": bool(excluded),
        "exclusion_reason": (f"attention pass rate {attention['pass_rate']:.2f} < {min_attention:g}"
                             if excluded else None),
        "staircase_threshold_ms": modal_exposure(stair) if stair else None,
        "timing": timing_result(session),
    }
    if session.mode == "paper":
        row["blank_items"] = session.skipped
    return row


def score_sessions(sessions: Sequence[Session], design: Dict, *, n_boot: int = 2000, seed: int = 0,
                   min_attention: float = 0.75, files: Sequence[str] = ()) -> Dict:
    """The complete scores document (see docs/human-study.md for every field)."""
    check_bootstrap(n_boot)
    if not 0.0 <= min_attention <= 1.0:
        raise GandiagError(f"--min-attention must be in [0, 1], got {min_attention}")
    rows = [participant_row(s, min_attention) for s in sessions]
    kept = [s for s, r in zip(sessions, rows) if not r["excluded"]]
    if not kept:
        raise GandiagError(f"all {len(sessions)} participants were excluded by attention checks "
                           f"(--min-attention {min_attention:g}); lower it to look at their answers anyway")
    table = build_table(kept)
    wp = wi = None
    if n_boot > 0:
        wp, wi = bootstrap_weights(table.n_participants, table.n_images, n_boot, seed)
    overall = _with_ci(stats_from_counts(table.counts()),
                       bootstrap_stats(table, wp, wi) if n_boot else None)
    overall["scored_trials"] = int(len(table.participant))
    overall["images"] = table.n_images
    by_exposure = []
    keys = sorted({_exposure_key(e) for e in table.exposure}, key=lambda k: (k == UNTIMED, float(k) if k != UNTIMED else 0))
    for key in keys:
        mask = (np.isnan(table.exposure) if key == UNTIMED else table.exposure == float(key)).astype(np.float64)
        entry = {"exposure_ms": None if key == UNTIMED else float(key), "label": key,
                 "scored_trials": int(mask.sum())}
        # Participants who never saw this exposure drop out of d' (no fake/real trials there).
        entry.update(_with_ci(stats_from_counts(table.counts(mask)),
                              bootstrap_stats(table, wp, wi, mask) if n_boot else None))
        by_exposure.append(entry)
    thresholds = [r["staircase_threshold_ms"] for r in rows
                  if not r["excluded"] and r["staircase_threshold_ms"] is not None]
    hype_time = mean_with_ci(thresholds, n_boot, seed) if thresholds else None
    if hype_time is not None and n_boot == 0:
        hype_time["ci95"] = None
    return {
        "format": "gandiag-human-scores",
        "format_version": 1,
        "kit_id": design["kit_id"],
        "title": design.get("title"),
        "gandiag_version": __version__,
        "design_gandiag_version": design.get("gandiag_version"),
        "sources": design.get("sources"),
        "response_files": list(files),
        "seed": seed,
        "bootstrap": {"replicates": n_boot, "resampled": "participants and images (two-way)",
                      "interval": "percentile 95%"},
        "dprime_correction": CORRECTION,
        "signal": "fake (hit = fake answered fake; false alarm = real answered fake)",
        "min_attention": min_attention,
        "participants_total": len(sessions),
        "participants_included": len(kept),
        "participants_excluded": [r["participant"] for r in rows if r["excluded"]],
        "overall": overall,
        "hype_time_ms": hype_time,
        "by_exposure": by_exposure,
        "participants": rows,
    }
