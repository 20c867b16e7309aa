"""Read participants' answers and check them against the kit design.

Three file kinds are accepted (detected from the content, not the name):

* **page JSON** - what ``index.html`` downloads (``"format": "gandiag-human-responses"``,
  one trial per line);
* **page CSV** - the page's CSV download (columns :data:`PAGE_COLUMNS`);
* **server database** - the SQLite file of ``gandiag human-serve``, or the database URL it was
  given (``sqlite:///...``, ``postgresql://...``): every session of the study;
* **paper CSV** - answers transcribed from printed sheets, columns
  ``participant,item,response`` (+ optional ``kit_id``, ``study_id`` and ``notes``);
  ``response`` is ``real``/``fake`` or ``R``/``F`` (any case); an empty
  response means "not answered" and is skipped.

Every mismatch with the design (another kit, unknown participant or item, an
image or exposure that is not what the design showed at that trial, duplicate
answers) raises :class:`~gandiag.errors.GandiagError` naming the file and line.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..errors import GandiagError
from .store import is_database, is_url

PAGE_COLUMNS = ("kit_id", "study_id", "participant", "trial", "phase", "image", "attention", "exposure_ms",
                "exposure_frames", "measured_ms", "frames", "mask_measured_ms", "fixation_measured_ms",
                "late_frames", "max_frame_gap_ms", "timing_ok", "frame_ms", "response", "rt_ms", "input",
                "staircase_level", "page_hidden", "answered_at", "key_map")
RESPONSES_FORMAT_VERSION = 2  # 2: frame counts, late frames and timing_ok per trial
PAPER_REQUIRED = ("participant", "item", "response")
PAPER_OPTIONAL = ("kit_id", "study_id", "notes")
_RESPONSES = {"real": "real", "r": "real", "fake": "fake", "f": "fake", "generated": "fake"}


@dataclass(frozen=True)
class Answer:
    """One answered trial, joined with the design's truth.

    ``number`` is the trial (page) or item (paper) number; ``exposure_ms`` is the
    exposure the design asked for (``None`` = untimed paper item); ``timing_ok`` is
    the page's verdict that fixation, image and mask each lasted their whole number
    of frames with no late frame (``None`` for paper); ``late_frames`` counts the
    animation frames that came more than 1.5 frames after the previous one.
    """

    number: int
    line: int
    image: str
    truth: str
    response: str
    phase: str
    attention: Optional[str]
    exposure_ms: Optional[float]
    model: Optional[str] = None
    measured_ms: Optional[float] = None
    rt_ms: Optional[float] = None
    staircase_level: Optional[int] = None
    page_hidden: bool = False
    timing_ok: Optional[bool] = None
    late_frames: Optional[int] = None

    @property
    def correct(self) -> bool:
        return self.response == self.truth


@dataclass
class Session:
    """All answers of one participant from one file."""

    participant: str
    mode: str  # "page" or "paper"
    file: str
    answers: List[Answer] = field(default_factory=list)
    expected: int = 0
    frame_ms: Optional[float] = None
    skipped: int = 0  # paper items left blank

    @property
    def complete(self) -> bool:
        return len(self.answers) + self.skipped >= self.expected


def _where(path, line) -> str:
    return f"{path}:{line}" if line else str(path)


def _fail(path, line, message) -> GandiagError:
    return GandiagError(f"{_where(path, line)}: {message}")


def _response(value, path, line) -> Optional[str]:
    text = str(value).strip().lower()
    if text == "":
        return None
    if text not in _RESPONSES:
        raise _fail(path, line, f"response {value!r} is not one of real, fake, R, F")
    return _RESPONSES[text]


def _number(value, what, path, line, *, integer=False, optional=True):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if optional:
            return None
        raise _fail(path, line, f"{what} is missing")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _fail(path, line, f"{what} {value!r} is not a number") from None
    if not math.isfinite(x) or (integer and x != int(x)):
        raise _fail(path, line, f"{what} {value!r} is not a{'n integer' if integer else ' finite number'}")
    return int(x) if integer else x


def _check_kit(kit_id, design, path, line, study_id=None):
    # Another kit of the same study (the same kit grown with more participants) pools.
    if study_id not in (None, "") and study_id == design.get("study_id"):
        return
    if kit_id not in (None, "") and kit_id != design["kit_id"]:
        raise _fail(path, line, f"responses belong to kit {kit_id!r} but --design is kit {design['kit_id']!r}; "
                                "pass the design.json of the kit these answers came from")


def page_answer(row: Dict, trials: Dict[int, Dict], participant: str, path, line,
                design_staircase: Optional[Dict]) -> Answer:
    """One page trial record checked against the participant's designed ``trials`` (also used by the server)."""
    number = _number(row.get("trial"), "trial", path, line, integer=True, optional=False)
    if number not in trials:
        raise _fail(path, line, f"participant {participant} has no trial {number} in the design "
                                f"(trials 1..{len(trials)})")
    t = trials[number]
    image = row.get("image")
    if image != t["image"]:
        raise _fail(path, line, f"trial {number} shows image {image!r} but the design has {t['image']!r} for "
                                f"participant {participant} (answers from another kit or participant?)")
    if row.get("phase") not in (None, "", t["phase"]):
        raise _fail(path, line, f"trial {number} is a {t['phase']} trial in the design, not {row.get('phase')!r}")
    exposure = _number(row.get("exposure_ms"), "exposure_ms", path, line)
    if t["exposure_ms"] is not None and exposure != t["exposure_ms"]:
        raise _fail(path, line, f"trial {number} has exposure_ms {exposure} but the design shows it for "
                                f"{t['exposure_ms']} ms")
    if t["exposure_ms"] is None and design_staircase is None:
        if exposure is not None:  # untimed (HYPE_inf) kit: the image stayed until the answer
            raise _fail(path, line, f"trial {number} is untimed in the design but has exposure_ms {exposure}")
    elif t["exposure_ms"] is None:
        ladder = (design_staircase or {}).get("ladder_ms") or []
        if exposure is None or exposure not in ladder:
            raise _fail(path, line, f"trial {number} is a staircase trial; its exposure_ms {exposure} is not on "
                                    f"the design's ladder {ladder}")
    response = _response(row.get("response", ""), path, line)
    if response is None:
        raise _fail(path, line, f"trial {number} has no response")
    hidden = row.get("page_hidden")
    level = _number(row.get("staircase_level"), "staircase_level", path, line, integer=True)
    ok = row.get("timing_ok")
    if ok not in (True, False, "true", "false", "True", "False"):
        raise _fail(path, line, f"trial {number}: timing_ok {ok!r} is not true/false (results from an older "
                                "page without frame checks cannot be scored for timing; rebuild the kit)")
    late = _number(row.get("late_frames"), "late_frames", path, line, integer=True, optional=False)
    return Answer(number=number, line=line, image=t["image"], truth=t["truth"], response=response,
                  phase=t["phase"], attention=t["attention"], exposure_ms=exposure, model=t.get("model"),
                  measured_ms=_number(row.get("measured_ms"), "measured_ms", path, line),
                  rt_ms=_number(row.get("rt_ms"), "rt_ms", path, line), staircase_level=level,
                  page_hidden=hidden in (True, "true", "True", "1"), timing_ok=ok in (True, "true", "True"),
                  late_frames=late)


def _participant_trials(design, participant, path, line) -> Dict[int, Dict]:
    for p in design["participants"]:
        if p["id"] == participant:
            return {t["trial"]: t for t in p["trials"]}
    raise _fail(path, line, f"participant {participant!r} is not in the design (ids "
                            f"{design['participants'][0]['id']}..{design['participants'][-1]['id']})")


def _add(session: Session, answer: Answer, path, seen: Dict[int, int]) -> None:
    if answer.number in seen:
        raise _fail(path, answer.line, f"participant {session.participant} answered "
                                       f"{'item' if session.mode == 'paper' else 'trial'} {answer.number} twice "
                                       f"(first on line {seen[answer.number]})")
    seen[answer.number] = answer.line
    session.answers.append(answer)


def _trial_lines(text: str, path) -> List[tuple]:
    """Decode the ``trials`` array element by element, keeping each element's line number."""
    key = text.find('"trials"')
    start = text.find("[", key) if key >= 0 else -1
    if start < 0:
        raise _fail(path, 0, 'no "trials" array; is this a gandiag human-kit results file?')
    decoder = json.JSONDecoder()
    out, pos = [], start + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return out
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise _fail(path, exc.lineno, f"invalid JSON ({exc.msg})") from None
        out.append((line, obj))


def read_page_json(path, text: str, design: Dict) -> Session:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, exc.lineno, f"invalid JSON ({exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("format") != "gandiag-human-responses":
        raise _fail(path, 1, "not a gandiag human-kit results file (expected \"format\": "
                             "\"gandiag-human-responses\")")
    if doc.get("format_version") != RESPONSES_FORMAT_VERSION:
        raise _fail(path, 1, f"format_version {doc.get('format_version')!r} is not supported (expected "
                             f"{RESPONSES_FORMAT_VERSION})")
    _check_kit(doc.get("kit_id"), design, path, 1, doc.get("study_id"))
    participant = str(doc.get("participant", ""))
    trials = _participant_trials(design, participant, path, 1)
    entries = _trial_lines(text, path)
    if len(entries) != len(doc.get("trials") or []):
        raise _fail(path, 0, "could not locate every trial in the file")
    session = Session(participant, "page", str(path), expected=len(trials),
                      frame_ms=_number(doc.get("frame_ms"), "frame_ms", path, 1))
    seen: Dict[int, int] = {}
    for line, row in entries:
        if not isinstance(row, dict):
            raise _fail(path, line, "each trial must be a JSON object")
        _add(session, page_answer(row, trials, participant, path, line, design.get("staircase")), path, seen)
    return session


def _csv_rows(path, text: str):
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise _fail(path, 1, "empty CSV (no header line)")
    reader.fieldnames = header
    rows = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise _fail(path, line, f"{len(header) + len(row[None])} fields but the header has {len(header)}")
        if all((v or "").strip() == "" for v in row.values()):
            continue
        rows.append((line, {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}))
    return header, rows


def read_page_csv(path, header, rows, design: Dict) -> List[Session]:
    missing = [c for c in ("kit_id", "participant", "trial", "image", "exposure_ms", "response") if c not in header]
    unknown = [c for c in header if c not in PAGE_COLUMNS]
    if missing or unknown:
        raise _fail(path, 1, f"page CSV header: missing {missing}, unknown {unknown}; expected the columns "
                             f"the page writes: {','.join(PAGE_COLUMNS)}")
    sessions: Dict[str, Session] = {}
    seen: Dict[str, Dict[int, int]] = {}
    frames: Dict[str, List[float]] = {}
    for line, row in rows:
        _check_kit(row["kit_id"], design, path, line, row.get("study_id"))
        pid = row["participant"]
        trials = _participant_trials(design, pid, path, line)
        if pid not in sessions:
            sessions[pid] = Session(pid, "page", str(path), expected=len(trials))
            seen[pid], frames[pid] = {}, []
        _add(sessions[pid], page_answer(row, trials, pid, path, line, design.get("staircase")),
             path, seen[pid])
        f = _number(row.get("frame_ms"), "frame_ms", path, line)
        if f is not None:
            frames[pid].append(f)
    for pid, s in sessions.items():
        s.frame_ms = frames[pid][0] if frames[pid] else None
    return list(sessions.values())


def read_paper_csv(path, header, rows, design: Dict) -> List[Session]:
    missing = [c for c in PAPER_REQUIRED if c not in header]
    unknown = [c for c in header if c not in PAPER_REQUIRED + PAPER_OPTIONAL]
    if missing or unknown:
        raise _fail(path, 1, f"paper CSV header: missing {missing}, unknown {unknown}; columns are "
                             "participant,item,response (+ optional kit_id, study_id, notes)")
    items = {it["item"]: it for it in design["paper"]["items"]}
    sessions: Dict[str, Session] = {}
    seen: Dict[str, Dict[int, int]] = {}
    for line, row in rows:
        if "kit_id" in row or "study_id" in row:
            _check_kit(row.get("kit_id"), design, path, line, row.get("study_id"))
        pid = row["participant"]
        if not pid:
            raise _fail(path, line, "participant is empty")
        number = _number(row["item"], "item", path, line, integer=True, optional=False)
        if number not in items:
            raise _fail(path, line, f"item {number} is not on the sheets (items 1..{len(items)})")
        if pid not in sessions:
            sessions[pid] = Session(pid, "paper", str(path), expected=len(items))
            seen[pid] = {}
        response = _response(row["response"], path, line)
        if response is None:
            if number in seen[pid]:
                raise _fail(path, line, f"participant {pid} answered item {number} twice "
                                        f"(first on line {seen[pid][number]})")
            seen[pid][number] = line
            sessions[pid].skipped += 1
            continue
        it = items[number]
        answer = Answer(number=number, line=line, image=it["image"], truth=it["truth"], response=response,
                        phase="main", attention=it["attention"], exposure_ms=None, model=it.get("model"))
        _add(sessions[pid], answer, path, seen[pid])
    return list(sessions.values())


def read_database(path, design: Dict) -> List[Session]:
    """Sessions of ``design``'s kit from a ``gandiag human-serve`` database: an SQLite file (opened read-only)
    or a database URL."""
    from .store import open_store

    store = open_store(str(path), create=False, flag="database")
    if is_url(str(path)):
        path = store.label  # never print a password
    study = design.get("study_id") or design["kit_id"]
    try:
        heads = store.sessions(study)
        studies = store.studies()
    except Exception as exc:  # sqlite3.DatabaseError: not our schema, corrupt file
        raise GandiagError(f"{path}: cannot read as a human-serve database ({exc})") from None
    if not heads:
        others = [k for k in studies if k != study]
        raise GandiagError(f"{path}: no answers for study {study!r} (kit {design['kit_id']})"
                           + (f"; the database holds studies {others}: pass the design.json of that study"
                              if others else " (the database is empty)"))
    sessions = []
    for head in heads:
        pid = head["participant"]
        trials = _participant_trials(design, pid, path, 0)
        session = Session(pid, "page", f"{path}#{pid}", expected=len(trials))
        seen: Dict[int, int] = {}
        for number, row in head["answers"]:
            where = f"{path}#{pid}/trial {number}"
            _add(session, page_answer(row, trials, pid, where, 0, design.get("staircase")), where, seen)
        frames = [r.get("frame_ms") for _, r in head["answers"] if r.get("frame_ms") is not None]
        session.frame_ms = _number(frames[0], "frame_ms", path, 0) if frames else None
        sessions.append(session)
    return sessions


def _read_file(path: Path, design: Dict) -> List[Session]:
    """Sessions in one page JSON / page CSV / paper CSV file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GandiagError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    if text.lstrip().startswith("{"):
        return [read_page_json(path, text, design)]
    else:
        header, rows = _csv_rows(path, text)
        if "trial" in header:
            return read_page_csv(path, header, rows, design)
        elif "item" in header:
            return read_paper_csv(path, header, rows, design)
        else:
            raise _fail(path, 1, "CSV header has neither 'trial' (page export) nor 'item' (paper "
                                 "transcription) column")


def read_responses(paths: Sequence, design: Dict) -> List[Session]:
    """Read every response file and return one :class:`Session` per participant.

    Raises:
        GandiagError: unreadable or malformed files, answers that do not match the
            design, or the same participant in two files.
    """
    if not paths:
        raise GandiagError("no response files given; pass the JSON/CSV files the page downloaded "
                           "or a CSV transcribed from paper sheets")
    sessions: List[Session] = []
    owner: Dict[str, str] = {}
    for p in paths:
        if is_url(str(p)):
            found = read_database(str(p), design)
            path = found[0].file.split("#")[0]  # the URL without its password
        else:
            path = Path(p)
            if not path.is_file():
                raise GandiagError(f"response file not found: {path}")
            found = read_database(path, design) if is_database(path) else _read_file(path, design)
        for s in found:
            if s.participant in owner:
                raise GandiagError(f"{path}: participant {s.participant} also appears in {owner[s.participant]}; "
                                   "pass one results file per session (the page's JSON or its CSV, not both)")
            owner[s.participant] = str(path)
            sessions.append(s)
    return sessions
