"""``gandiag human-export``: a kit as a jsPsych 8 experiment (JATOS, Pavlovia, any static web host).

The export folder holds::

    index.html            loader page (loads jatos.js itself when served by JATOS)
    kit.js                the kit's participant-facing data, exactly what the kit's own page embeds
    gandiag-jspsych.js    two jsPsych plugins: text screens and the frame-counted trial
    jspsych/jspsych.js    jsPsych 8.3.0 from npm (MIT), unchanged, with its LICENSE

Same trials per participant id (P01, ... from ``?participant=P01`` or typed), the same
frame-counted fixation / image / mask and late-frame checks as the kit's page, and
at the end the page's JSON export (read by ``gandiag human-score``): submitted with
``jatos.submitResultData`` on JATOS, downloaded anywhere else. Staircase and untimed
kits are refused (their procedures are only in the kit's own page).
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Dict

from ..errors import GandiagError
from ..fileio import atomic_write_bytes, atomic_write_text, check_output_dir
from .app import _html_text, _script_json

FILES = ("index.html", "kit.js", "gandiag-jspsych.js", "jspsych/jspsych.js", "jspsych/LICENSE")
JSPSYCH_VERSION = "8.3.0"


def _asset(name: str) -> bytes:
    return resources.files("gandiag.human").joinpath("assets", "jspsych", name).read_bytes()


def page_kit_from(kit_dir: Path, design: Dict) -> Dict:
    """The participant-facing kit object embedded in the kit's ``index.html`` (no answer key)."""
    page = kit_dir / design["files"]["page"]
    if not page.is_file():
        raise GandiagError(f"{page}: the kit's page is missing; rebuild the kit with gandiag human-kit")
    text = page.read_text(encoding="utf-8")
    marker = '<script type="application/json" id="kit-data">'
    if text.count(marker) != 1:
        raise GandiagError(f"{page} is not a gandiag kit page; rebuild the kit with gandiag human-kit")
    kit = json.loads(text.split(marker, 1)[1].split("</script>", 1)[0])
    if kit.get("kit_id") != design["kit_id"]:
        raise GandiagError(f"{page} is not the page of kit {design['kit_id']} (rebuilt separately?); rebuild the kit")
    return kit


def export_jspsych(kit_dir, out, *, force: bool = False) -> Path:
    """Write the jsPsych experiment of the kit in ``kit_dir`` to the folder ``out``."""
    from .kit import read_design

    kit_dir = Path(kit_dir)
    design = read_design(kit_dir)
    kit = page_kit_from(kit_dir, design)
    if kit.get("staircase"):
        raise GandiagError("human-export --jspsych: staircase (HYPE_time) kits are not supported; run them with the "
                           "kit's own page or gandiag human-serve")
    if kit.get("untimed"):
        raise GandiagError("human-export --jspsych: untimed (--untimed) kits are not supported; run them with the "
                           "kit's own page or gandiag human-serve")
    out = check_output_dir(out, FILES, inputs=[kit_dir], force=force)
    if out.resolve() == kit_dir.resolve():
        raise GandiagError(f"--out {out} is the kit folder; choose another folder")
    title = str(design.get("title") or "Real or fake?")
    html = _asset("index.html").decode("utf-8")
    html = html.replace("__TITLE__", _html_text(title)).replace("__VERSION__", _html_text(kit.get("version", "")))
    atomic_write_text(out / "index.html", html)
    atomic_write_text(out / "kit.js", "window.GANDIAG_KIT = " + _script_json(kit) + ";\n")
    atomic_write_bytes(out / "gandiag-jspsych.js", _asset("gandiag-jspsych.js"))
    (out / "jspsych").mkdir(exist_ok=True)
    atomic_write_bytes(out / "jspsych" / "jspsych.js", _asset("jspsych.js"))
    atomic_write_bytes(out / "jspsych" / "LICENSE", _asset("LICENSE"))
    return out
