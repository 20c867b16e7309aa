"""human-export --jspsych: the kit's trials as a jsPsych experiment, run in real headless Chromium offline."""
import json

import pytest

from gandiag.cli import main
from gandiag.errors import GandiagError
from gandiag.human.jspsych import FILES, export_jspsych
from gandiag.human.responses import read_responses


def test_export_files_and_refusals(small_kit, tmp_path, fake_npz, kit_builder, capsys):
    out = export_jspsych(small_kit.out, tmp_path / "x")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(FILES)
    kit_js = (out / "kit.js").read_text()
    kit = json.loads(kit_js.removeprefix("window.GANDIAG_KIT = ").rstrip().removesuffix(";"))
    assert kit["kit_id"] == small_kit.kit_id
    for rows in kit["participants"].values():  # no answer key beyond what the kit's page carries
        assert all("truth" not in r for r in rows if r["ph"] == "main" and r["att"] != "probe")
    assert "MIT" in (out / "jspsych" / "LICENSE").read_text()
    assert main(["human-export", str(small_kit.out), "--jspsych", "--out", str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err
    stair = kit_builder(tmp_path / "stair", fake_npz, staircase=True, exposures_ms=(100, 200, 300), trials=6)
    with pytest.raises(GandiagError, match="staircase"):
        export_jspsych(stair.out, tmp_path / "y")


@pytest.mark.browser
def test_jspsych_session_offline_in_chromium_scored_by_human_score(browser, small_kit, tmp_path, capsys):
    out = export_jspsych(small_kit.out, tmp_path / "exp")
    requests, errors, downloads = [], [], []
    context = browser.new_context(accept_downloads=True, viewport={"width": 900, "height": 700})
    context.on("request", lambda r: requests.append(r.url))
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(out.as_uri())
                  else route.abort())
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("download", lambda d: downloads.append(d))
    page.goto((out / "index.html").as_uri() + "?participant=P02")
    page.click("#g-continue")  # consent not ticked: refused
    assert "tick the consent box" in page.inner_text(".g-msg")
    page.check("#g-consent")
    page.click("#g-continue")
    page.wait_for_selector("text=Answer with F")
    page.keyboard.press("Space")
    design_p = small_kit.design["participants"][1]
    keys = design_p["keys"]
    trials = design_p["trials"]
    for t in trials:
        page.wait_for_selector('#g-prompt[data-ready="1"]', timeout=15000)
        response = t["truth"] if t["trial"] % 3 or t["attention"] else ("fake" if t["truth"] == "real" else "real")
        page.keyboard.press("f" if keys["left"] == response else "j")
        page.wait_for_function(f"() => !document.getElementById('g-prompt') || "
                               f"document.getElementById('g-prompt').dataset.ready === '0'")
    page.wait_for_function("() => document.body.dataset.done === '1'", timeout=15000)
    for _ in range(50):
        if downloads:
            break
        page.wait_for_timeout(100)
    assert [d.suggested_filename for d in downloads] == [f"gandiag-human-{small_kit.kit_id}-P02.json"]
    path = tmp_path / downloads[0].suggested_filename
    downloads[0].save_as(path)
    context.close()
    assert errors == [] and all(u.startswith(out.as_uri()) or u.startswith("blob:") for u in requests), requests
    doc = json.loads(path.read_text())
    assert doc["participant"] == "P02" and doc["complete"] and len(doc["trials"]) == len(trials)
    assert doc["runner"].startswith("jspsych 8")
    frame = doc["frame_ms"]
    for rec, t in zip(doc["trials"], trials):
        assert rec["trial"] == t["trial"] and rec["image"] == t["image"]
        assert rec["exposure_frames"] == round(t["exposure_ms"] / frame)
        assert rec["key_map"] == f"F={keys['left']},J={keys['right']}"
        if rec["timing_ok"]:  # each duration a whole number of frames, as measured
            assert rec["frames"] == rec["exposure_frames"]
            assert abs(rec["measured_ms"] - rec["exposure_frames"] * frame) < 0.5 * frame
    sessions = read_responses([path], small_kit.design)
    assert len(sessions) == 1 and len(sessions[0].answers) == len(trials)
    wrong = {t["trial"] for t in trials if t["trial"] % 3 == 0 and not t["attention"]}
    assert {a.number for a in sessions[0].answers if not a.correct} == wrong
    assert main(["human-score", str(path), "--design", str(small_kit.out), "--bootstrap", "0"]) == 0, capsys.readouterr().err
    assert "1 of 1 participants included" in capsys.readouterr().out


# A stand-in for JATOS's jatos.js: the calls the export makes, recorded on window.
FAKE_JATOS = """
window.jatos = {
  urlQueryParameters: {participant: 'P03'},
  onLoad: function (f) { setTimeout(f, 0); },
  submitResultData: function (text) { window.__submitted = text; return Promise.resolve(); },
  endStudy: function () { window.__ended = true; }
};
"""


@pytest.mark.browser
def test_served_by_jatos_submits_the_export_to_jatos(browser, small_kit, tmp_path):
    """Under a /publix/ URL the loader loads jatos.js, takes the id from the study link and submits the export."""
    out = export_jspsych(small_kit.out, tmp_path / "exp")
    base = "http://jatos.test/publix/abc123/"
    context = browser.new_context(viewport={"width": 900, "height": 700})
    served = []

    def route(r):
        name = r.request.url.split("?")[0][len(base):]
        served.append(name)
        if name == "jatos.js":
            return r.fulfill(body=FAKE_JATOS, content_type="text/javascript")
        if name in ("index.html", "kit.js", "gandiag-jspsych.js", "jspsych/jspsych.js"):
            return r.fulfill(path=str(out / name))
        return r.abort()

    context.route(base + "**", route)
    context.route(lambda url: not url.startswith(base), lambda r: r.abort())
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "index.html")
    page.check("#g-consent")
    assert page.locator("#g-pid").count() == 0  # the id came from jatos.urlQueryParameters
    page.click("#g-continue")
    page.wait_for_selector("text=Answer with F")
    page.keyboard.press("Space")
    trials = small_kit.design["participants"][2]["trials"]
    keys = small_kit.design["participants"][2]["keys"]
    for t in trials:
        page.wait_for_selector('#g-prompt[data-ready="1"]', timeout=15000)
        page.keyboard.press("f" if keys["left"] == t["truth"] else "j")
        page.wait_for_function("() => !document.getElementById('g-prompt') || "
                               "document.getElementById('g-prompt').dataset.ready === '0'")
    page.wait_for_function("() => window.__ended === true", timeout=15000)
    submitted = page.evaluate("window.__submitted")
    context.close()
    assert errors == [] and "jatos.js" in served
    path = tmp_path / "jatos-result.json"
    path.write_text(submitted)
    sessions = read_responses([path], small_kit.design)
    assert sessions[0].participant == "P03" and len(sessions[0].answers) == len(trials)
    assert all(a.correct for a in sessions[0].answers)
