"""The participant page: one self-contained, offline ``index.html``.

The page is built from three static assets (``assets/app.html``, ``app.css``,
``app.js``) and one JSON block holding the participant-facing part of the
design, with every image embedded as a ``data:image/png;base64`` URI. A
Content-Security-Policy meta tag forbids every fetch, so the page cannot make a
network request even by mistake.

What the page knows about the truth: only what the procedure needs. Practice
trials carry their answer (for feedback); with the HYPE_time staircase the main
trials carry it too (the staircase adapts on correctness). Otherwise the truth
of main trials is *not* in the page; it stays in ``design.json`` and
``answer_key.csv`` for the experimenter.
"""
from __future__ import annotations

import base64
import json
from importlib import resources
from typing import Dict, List

DEFAULT_CONSENT = (
    "This study asks you to judge whether briefly shown images are real or computer-generated. "
    "It takes only a few minutes. Taking part is voluntary: you may stop at any time without giving a "
    "reason, and you may skip the study by closing this page. No personal information is collected; your "
    "answers are linked only to the participant ID you enter. Some images may be unpleasant noise "
    "patterns; they are harmless.\n\n"
    "Replace this text with your institution's approved consent text: "
    "gandiag human-kit --consent-file consent.txt"
)


def _asset(name: str) -> str:
    return resources.files("gandiag.human").joinpath("assets", name).read_text(encoding="utf-8")


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def page_kit(design: Dict, pngs: Dict[str, bytes], masks: List[bytes], *, consent: str, version: str) -> Dict:
    """The participant-facing kit object embedded in the page (see module doc on truth)."""
    config = design["config"]
    staircase = design["staircase"]
    participants = {}
    for p in design["participants"]:
        rows = []
        for t in p["trials"]:
            row = {"t": t["trial"], "ph": t["phase"], "img": t["image"], "ex": t["exposure_ms"],
                   "att": t["attention"]}
            if t["attention"] == "probe":
                row["probe"] = t["truth"]  # the probe says which answer to give
            if t["phase"] == "practice" or (staircase is not None and t["exposure_ms"] is None):
                row["truth"] = t["truth"]
            rows.append(row)
        participants[p["id"]] = rows
    return {
        "kit_id": design["kit_id"],
        "study_id": design.get("study_id") or design["kit_id"],
        "version": version,
        "consent": consent,
        "fixation_ms": config["fixation_ms"],
        "mask_ms": config["mask_ms"],
        "display_px": config["display_px"],
        "exposures_ms": config["exposures_ms"],
        "staircase": None if staircase is None else {
            "ladder_ms": staircase["ladder_ms"], "start_ms": staircase["start_ms"],
            "down": staircase["down_after_correct"], "up": staircase["up_after_errors"],
        },
        "participants": participants,
        "images": {image_id: data_uri(png) for image_id, png in sorted(pngs.items())},
        "masks": [data_uri(m) for m in masks],
    }


def _script_json(obj) -> str:
    # Inside <script>, "</" could close the element early; \u escapes are still valid JSON.
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_page(design: Dict, pngs: Dict[str, bytes], masks: List[bytes], *, title: str,
                consent: str = DEFAULT_CONSENT, version: str = "") -> str:
    """The complete ``index.html`` text.

    Args:
        design: the kit design (with ``kit_id``), as stored in ``design.json``.
        pngs: PNG bytes of every image id used by the participants' trials.
        masks: PNG bytes of the backward masks.
        title: page title shown to participants.
        consent: consent text (plain text; shown verbatim).
        version: gandiag version written into the page and its exports.
    """
    kit = page_kit(design, pngs, masks, consent=consent, version=version)
    html = _asset("app.html")
    # Large parts are spliced in with partition, once each, so their own text is never searched for
    # placeholders (app.js could legitimately contain a string like __TITLE__).
    parts = {
        "/*__CSS__*/": _asset("app.css"),
        "/*__JS__*/": _asset("app.js"),
        "__KIT_JSON__": _script_json(kit),
        "__TITLE__": _html_text(title),
        "__VERSION__": _html_text(version),
    }
    for key in ("__TITLE__", "__VERSION__"):
        html = html.replace(key, parts[key])
    for key in ("/*__CSS__*/", "/*__JS__*/", "__KIT_JSON__"):
        before, sep, after = html.partition(key)
        assert sep, f"placeholder {key} missing from app.html"
        html = before + parts[key] + after
    return html
