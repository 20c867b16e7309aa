"""From participants' sessions to the ``scores.json`` document.

Orchestration only: attention checks and exclusions, timing checks, then the
pure statistics of :mod:`gandiag.human.scoring` (overall, per exposure, per
participant) with two-way bootstrap confidence intervals.

Quality rules (each reported in ``scores.json``, the summary and the printed result):

* **Timing.** A page trial whose fixation, image or mask was off by half a frame
  or more from its whole number of frames, or during which an animation frame
  came late (> 1.5 frames after the previous one), is *flagged*
  (``timing_ok: false`` in the page export); ``exclude_late=True`` drops flagged
  trials from every score.
* **Too fast.** A trial answered less than ``min_rt_ms`` after the answer became
  possible (the mask onset) is flagged as an anticipation (default 100 ms, the
  usual lower bound of choice reaction times); ``exclude_fast=True`` drops them.
* **Attention.** Catch trials have a known answer (noise image: "fake"; probe:
  the answer it names); participants below ``min_attention`` are excluded.
* **Same answer.** A participant who gives one answer on more than
  ``max_same_answer`` of the scored trials (the design shows half real, half
  fake) is excluded.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

from .. import __version__
from ..errors import GandiagError
from .agreement import fleiss_kappa, krippendorff_alpha_nominal
from .responses import Answer, Session
from .scoring import (STATS, AnswerTable, bootstrap_stats, bootstrap_weights, check_bootstrap, mean_with_ci,
                      modal_exposure, percentile_ci, stats_from_counts)

UNTIMED = "untimed"
CORRECTION = "log-linear (Hautus 1995): H=(hits+0.5)/(n_fake+1), F=(false_alarms+0.5)/(n_real+1)"


DEFAULT_MIN_RT_MS = 100.0
DEFAULT_MAX_SAME_ANSWER = 0.9


@dataclass(frozen=True)
class Rules:
    """Which trials and participants count (see module doc)."""

    min_attention: float = 0.75
    max_same_answer: float = DEFAULT_MAX_SAME_ANSWER
    min_rt_ms: float = DEFAULT_MIN_RT_MS
    exclude_late: bool = False
    exclude_fast: bool = False

    def validate(self) -> None:
        for name in ("min_attention", "max_same_answer"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise GandiagError(f"--{name.replace('_', '-')} must be in [0, 1], got {v}")
        if not 0.0 <= self.min_rt_ms < 10000:
            raise GandiagError(f"--min-rt-ms must be in [0, 10000) ms, got {self.min_rt_ms}")

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)


def attention_result(session: Session) -> Dict:
    """Catch trials of one session: pass = the known answer (noise: "fake"; probe: the one it names)."""
    checks = [a for a in session.answers if a.attention is not None]
    passed = sum(a.response == a.truth for a in checks)
    return {"checks": len(checks), "passed": passed, "pass_rate": passed / len(checks) if checks else None}


def is_fast(a: Answer, rules: Rules) -> bool:
    return a.rt_ms is not None and a.rt_ms < rules.min_rt_ms


def timing_result(session: Session) -> Optional[Dict]:
    """How closely page trials met their design (None for paper sessions)."""
    if session.mode != "page":
        return None
    errors = [a.measured_ms - a.exposure_ms for a in session.answers
              if a.measured_ms is not None and a.exposure_ms is not None]
    flagged = [a.number for a in session.answers if a.timing_ok is False]
    return {"frame_ms": session.frame_ms, "trials_measured": len(errors),
            "max_abs_error_ms": float(max((abs(e) for e in errors), default=0.0)),
            "mean_error_ms": float(np.mean(errors)) if errors else None,
            "flagged_trials": flagged,
            "late_frames": int(sum(a.late_frames or 0 for a in session.answers)),
            "trials_with_hidden_page": int(sum(a.page_hidden for a in session.answers))}


def _scored(session: Session, rules: Optional[Rules] = None):
    out = [a for a in session.answers if a.phase == "main" and a.attention is None]
    if rules is not None and rules.exclude_late:
        out = [a for a in out if a.timing_ok is not False]
    if rules is not None and rules.exclude_fast:
        out = [a for a in out if not is_fast(a, rules)]
    return out


def _exposure_key(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNTIMED
    return f"{value:g}"


def build_table(sessions: Sequence[Session], rules: Optional[Rules] = None,
                models: Sequence[str] = ("fake",)) -> AnswerTable:
    """:class:`AnswerTable` of the scored trials of ``sessions`` (in that participant order)."""
    image_index: Dict[str, int] = {}
    rows = []
    models = list(models)
    for p, s in enumerate(sessions):
        for a in _scored(s, rules):
            i = image_index.setdefault(a.image, len(image_index))
            m = -1 if a.truth != "fake" else (models.index(a.model) if a.model in models else 0)
            rows.append((p, i, a.truth == "fake", a.response == "fake",
                         np.nan if a.exposure_ms is None else float(a.exposure_ms), m))
    if not rows:
        raise GandiagError("no scored trials: the response files hold only practice trials or attention "
                           "checks, or every participant was excluded")
    cols = list(zip(*rows))
    return AnswerTable(participant=np.array(cols[0], np.int64), image=np.array(cols[1], np.int64),
                       truth_fake=np.array(cols[2], bool), said_fake=np.array(cols[3], bool),
                       exposure=np.array(cols[4], np.float64), n_participants=len(sessions),
                       n_images=len(image_index), model=np.array(cols[5], np.int64))


def _with_ci(point: Dict[str, np.ndarray], reps: Optional[Dict[str, np.ndarray]]) -> Dict:
    out = {}
    for k in STATS:
        v = float(point[k])
        out[k] = {"value": v if math.isfinite(v) else None,
                  "ci95": percentile_ci(reps[k]) if reps is not None else None}
    return out


def participant_row(session: Session, rules: Rules) -> Dict:
    everything = _scored(session)
    scored = _scored(session, rules)
    counts = np.zeros((1, 4))
    for a in scored:
        fake, said = a.truth == "fake", a.response == "fake"
        counts[0] += [fake, fake and said, not fake, (not fake) and said]
    st = stats_from_counts(counts)
    attention = attention_result(session)
    reasons = []
    if attention["checks"] > 0 and attention["pass_rate"] < rules.min_attention:
        reasons.append(f"attention pass rate {attention['pass_rate']:.2f} < {rules.min_attention:g}")
    said_fake = sum(a.response == "fake" for a in everything)
    same = max(said_fake, len(everything) - said_fake) / len(everything) if everything else None
    if same is not None and same > rules.max_same_answer:
        answer = "fake" if 2 * said_fake > len(everything) else "real"
        reasons.append(f"answered {answer!r} on {100 * same:.0f}% of trials > {100 * rules.max_same_answer:g}%")
    fast = [a.number for a in everything if is_fast(a, rules)]
    excluded = bool(reasons)
    stair = [a.exposure_ms for a in scored if a.staircase_level is not None]
    row = {
        "participant": session.participant, "mode": session.mode, "file": session.file,
        "answered": len(session.answers), "expected": session.expected, "complete": session.complete,
        "scored_trials": len(scored),
        **{k: (float(st[k]) if math.isfinite(float(st[k])) else None) for k in STATS},
        "attention": attention, "same_answer_share": same, "fast_trials": fast,
        "rt_median_ms": _median([a.rt_ms for a in everything if a.rt_ms is not None]),
        "excluded": excluded, "exclusion_reason": "; ".join(reasons) if reasons else None,
        "staircase_threshold_ms": modal_exposure(stair) if stair else None,
        "timing": timing_result(session),
    }
    if session.mode == "paper":
        row["blank_items"] = session.skipped
    return row


def _median(values):
    return float(np.median(values)) if len(values) else None


def model_scores(table: AnswerTable, models: Sequence[str], sources: Dict, wp, wi, n_boot: int):
    """Per generator: the statistics over its fakes and all real images (reals are shared), and the
    paired differences between generators (the same bootstrap replicates for both, so the
    comparison is within participants and images)."""
    entries, kept = [], {}
    for k, m in enumerate(models):
        mask = ((~table.truth_fake) | (table.model == k)).astype(np.float64)
        point = stats_from_counts(table.counts(mask))
        reps = bootstrap_stats(table, wp, wi, mask) if n_boot else None
        entries.append({"model": m, "spec": (sources.get(m) or {}).get("spec"),
                        "fake_trials": int((table.model == k).sum()), **_with_ci(point, reps)})
        kept[m] = (point, reps)
    comparisons = []
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            (pa, ra), (pb, rb) = kept[a], kept[b]
            for stat in ("fool_rate", "hype_infinity", "d_prime"):
                diff = float(pa[stat] - pb[stat])
                ci = percentile_ci(ra[stat] - rb[stat]) if n_boot else None
                comparisons.append({"a": a, "b": b, "stat": stat,
                                    "difference": diff if math.isfinite(diff) else None, "ci95": ci,
                                    "ci_excludes_zero": None if ci is None else bool(ci[0] > 0 or ci[1] < 0)})
    return entries, comparisons


def image_scores(sessions: Sequence[Session], rules: Rules) -> list:
    """Per image (scored trials of the included participants): how often it was judged real."""
    by: Dict[str, Dict] = {}
    for s in sessions:
        for a in _scored(s, rules):
            e = by.setdefault(a.image, {"image": a.image, "truth": a.truth, "model": a.model, "n": 0,
                                        "judged_real": 0})
            e["n"] += 1
            e["judged_real"] += a.response == "real"
    out = []
    for e in sorted(by.values(), key=lambda e: e["image"]):
        e["judged_real_rate"] = e["judged_real"] / e["n"]
        out.append(e)
    return out


def agreement_scores(sessions: Sequence[Session], rules: Rules) -> Dict:
    """Fleiss' kappa and nominal Krippendorff's alpha of the answers (images = items, participants = raters)."""
    images = sorted({a.image for s in sessions for a in _scored(s, rules)})
    col = {im: k for k, im in enumerate(images)}
    labels = [[None] * len(images) for _ in sessions]
    counts = np.zeros((len(images), 2))
    for r, s in enumerate(sessions):
        for a in _scored(s, rules):
            labels[r][col[a.image]] = a.response
            counts[col[a.image], int(a.response == "fake")] += 1
    rated = int((counts.sum(axis=1) >= 2).sum())
    return {"fleiss_kappa": fleiss_kappa(counts), "krippendorff_alpha": krippendorff_alpha_nominal(labels),
            "images_rated_twice_or_more": rated, "raters": len(sessions),
            "note": "images are the items, participants the raters; images seen by one person are left out"}


def rt_summary(sessions: Sequence[Session], rules: Rules) -> Optional[Dict]:
    """Reaction times (ms from mask onset) of the scored page trials: quartiles overall, by correctness and exposure."""
    answers = [a for s in sessions for a in _scored(s, rules) if a.rt_ms is not None]
    if not answers:
        return None

    def q(values):
        v = np.asarray(values, np.float64)
        return None if v.size == 0 else {"n": int(v.size), "median": float(np.median(v)),
                                         "q25": float(np.quantile(v, 0.25)), "q75": float(np.quantile(v, 0.75))}

    exposures = sorted({a.exposure_ms for a in answers if a.exposure_ms is not None})
    return {"all": q([a.rt_ms for a in answers]),
            "correct": q([a.rt_ms for a in answers if a.correct]),
            "wrong": q([a.rt_ms for a in answers if not a.correct]),
            "by_exposure": [{"exposure_ms": float(e), **q([a.rt_ms for a in answers if a.exposure_ms == e])}
                            for e in exposures]}


def score_sessions(sessions: Sequence[Session], design: Dict, *, n_boot: int = 2000, seed: int = 0,
                   min_attention: float = 0.75, files: Sequence[str] = (), rules: Optional[Rules] = None) -> Dict:
    """The complete scores document (see docs/human-study.md for every field).

    ``rules`` (default: :class:`Rules` with ``min_attention``) decides which trials
    and participants count.
    """
    check_bootstrap(n_boot)
    rules = rules if rules is not None else Rules(min_attention=min_attention)
    rules.validate()
    rows = [participant_row(s, rules) for s in sessions]
    kept = [s for s, r in zip(sessions, rows) if not r["excluded"]]
    if not kept:
        raise GandiagError(f"all {len(sessions)} participants were excluded (attention checks below "
                           f"--min-attention {rules.min_attention:g} or one answer on more than "
                           f"--max-same-answer {rules.max_same_answer:g} of trials); relax them to look at their "
                           "answers anyway")
    models = list(design["config"].get("models") or ["fake"])
    table = build_table(kept, rules, models)
    kept_rows = [r for r in rows if not r["excluded"]]
    flagged = sum(len(r["timing"]["flagged_trials"]) for r in kept_rows if r["timing"])
    timed = [a for s in kept for a in _scored(s) if a.timing_ok is not None]
    quality = {
        "rules": rules.to_dict(),
        "timing_flagged_trials": int(flagged),
        "timing_flagged_scored_trials": int(sum(a.timing_ok is False for a in timed)),
        "timed_scored_trials": len(timed),
        "timing_flagged_excluded": rules.exclude_late,
        "fast_trials": int(sum(len(r["fast_trials"]) for r in kept_rows)),
        "fast_excluded": rules.exclude_fast,
    }
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
    by_model, comparisons = model_scores(table, models, (design.get("sources") or {}).get("models") or {},
                                         wp, wi, n_boot)
    thresholds = [r["staircase_threshold_ms"] for r in rows
                  if not r["excluded"] and r["staircase_threshold_ms"] is not None]
    hype_time = mean_with_ci(thresholds, n_boot, seed) if thresholds else None
    if hype_time is not None and n_boot == 0:
        hype_time["ci95"] = None
    return {
        "format": "gandiag-human-scores",
        "format_version": 1,
        "kit_id": design["kit_id"],
        "study_id": design.get("study_id"),
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
        "min_attention": rules.min_attention,
        "quality": quality,
        "participants_total": len(sessions),
        "participants_included": len(kept),
        "participants_excluded": [r["participant"] for r in rows if r["excluded"]],
        "overall": overall,
        "hype_time_ms": hype_time,
        "by_exposure": by_exposure,
        "models": models,
        "by_model": by_model,
        "model_comparisons": comparisons,
        "by_image": image_scores(kept, rules),
        "agreement": agreement_scores(kept, rules),
        "reaction_times_ms": rt_summary(kept, rules),
        "participants": rows,
    }
