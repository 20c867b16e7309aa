"""Build a human-study kit folder: images, design, page, sheets, answer key.

Layout of ``OUT/``::

    design.json       full design: sources, seed, config, every trial, truth, hashes, version, kit id
    index.html        the participant page (self-contained, offline)
    sheets.pdf        printable sheets (examples, numbered grids, answer forms)
    answer_key.csv    truth of every paper item -- keep it away from participants
    images/IMG.png    every stimulus as PNG (ids are opaque: img-001, ...)

The kit id is a hash of everything that decides what participants see (config,
sources, image bytes, gandiag version). Re-running the same command on an
existing kit *resumes* it (images already written with the right hash are kept,
missing files are written); a folder holding anything else is refused unless
``force=True``. Every file is written atomically.
"""
from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from .. import __version__
from ..errors import GandiagError
from ..fileio import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from .app import DEFAULT_CONSENT, render_page
from .design import StudyConfig, build_design, image_counts
from .sheets import answer_key_csv, render_sheets
from .stimuli import match_formats, noise_images, png_bytes, scramble_masks

FORMAT = "gandiag-human-kit"
FORMAT_VERSION = 2  # 2: probe/mixed attention checks, frame-based timing records
N_MASKS = 8
KIT_FILES = ("design.json", "index.html", "sheets.pdf", "answer_key.csv")


@dataclass
class KitResult:
    """What :func:`build_kit` did."""

    out: Path
    kit_id: str
    design: Dict
    written: List[str]
    kept: List[str]
    resumed: bool
    grown_from: Optional[str] = None  # kit id this kit replaced with more participants (same study)


def _load(spec: str, n: int, seed: int, role: str, options: Optional[Dict] = None):
    from ..sources import load_source

    data = load_source(spec, num_samples=n, seed=seed, **(options or {}))
    if len(data) != n:
        raise GandiagError(f"--{role} {spec}: needed {n} images, the source gave {len(data)}")
    return data


def _source_record(spec: str, data, seed: int) -> Dict:
    return {"spec": str(spec), "description": data.source, "num_samples": len(data), "seed": seed,
            "shape": list(data.images.shape[1:]), "content_sha256": data.content_hash()}


def kit_id_of(doc: Dict) -> str:
    """12 hex digits of sha256 over the design minus ``kit_id`` and ``created``."""
    core = {k: v for k, v in doc.items() if k not in ("kit_id", "created")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:12]


def study_id_of(doc: Dict) -> str:
    """12 hex digits of sha256 over the design minus the participant count and what follows from it.

    Kits that differ only in ``participants`` share it: P01..PN have the same
    trials in all of them (see :mod:`gandiag.human.design`), so their answers pool.
    """
    core = {k: v for k, v in doc.items() if k not in ("kit_id", "study_id", "created", "participants")}
    core["config"] = {k: v for k, v in core["config"].items() if k != "participants"}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:12]


def _fake_specs(fake_spec, config: StudyConfig) -> Dict[str, str]:
    specs = {config.models[0]: fake_spec} if isinstance(fake_spec, (str, Path)) else dict(fake_spec)
    if list(specs) != list(config.models):
        raise GandiagError(f"--fake: sources for models {list(specs)} do not match the design's models "
                           f"{list(config.models)}")
    return specs


def prepare_kit(real_spec: str, fake_spec, config: StudyConfig, *, title: str,
                consent: str = DEFAULT_CONSENT, fake_options: Optional[Dict] = None,
                texts: Optional[Dict[str, str]] = None) -> tuple:
    """Load sources, lay out trials and encode images (no files written).

    Real images are drawn with ``seed``, model k's fakes with ``seed + 1 + k``, so
    the same spec on both sides (a real-vs-real control) gives different images.
    ``fake_spec`` is one source (one model) or ``{model name: source}`` in the
    order of ``config.models``. ``fake_options`` (``value_range``, ``layout``,
    ``npz_key``) resolve ambiguous fake arrays.

    Returns:
        ``(doc, pngs, pixels, masks)``: the design document (with ``kit_id``), PNG
        bytes and canonical pixels per image id, and the mask PNGs.
    """
    counts = image_counts(config)
    specs = _fake_specs(fake_spec, config)
    real = _load(real_spec, counts["real"], config.seed, "real")
    fakes = {m: _load(spec, counts["models"][m], config.seed + 1 + k, "fake", fake_options)
             for k, (m, spec) in enumerate(specs.items())}
    real_px = real.images
    fake_px = {}
    for m, data in fakes.items():
        real_px, fake_px[m] = match_formats(real_px, data.images)
    if any(px.shape[1] != real_px.shape[1] for px in fake_px.values()):  # one model was RGB: all RGB
        fake_px = {m: match_formats(real_px, px)[1] for m, px in fake_px.items()}
    noise_px = noise_images(counts["noise"], real_px.shape[1:], config.seed)
    design = build_design(config)
    pools = {"real": real_px, "noise": noise_px, **{("fake", m): px for m, px in fake_px.items()}}
    pixels, pngs = {}, {}
    for entry in design["images"]:
        if entry["source"] == "probe":
            continue  # text on screen / on paper, no pixels
        pool = pools[("fake", entry["model"])] if entry["source"] == "fake" else pools[entry["source"]]
        image = pool[entry["source_index"]]
        pixels[entry["id"]] = image
        pngs[entry["id"]] = png_bytes(image)
        entry["file"] = f"images/{entry['id']}.png"
        entry["sha256"] = sha256_bytes(pngs[entry["id"]])
    pool = np.concatenate([real_px, *fake_px.values()])
    masks = [png_bytes(m) for m in scramble_masks(pool, N_MASKS, config.seed)]
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kit_id": "",
        "study_id": "",
        "gandiag_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "title": title,
        "consent": consent,
        # Instructions / debrief replacing the page's defaults (None = default text).
        "texts": {"instructions": (texts or {}).get("instructions"), "debrief": (texts or {}).get("debrief")},
        "seed": config.seed,
        "sources": {"real": _source_record(real_spec, real, config.seed),
                    **({"fake": _source_record(specs[config.models[0]], fakes[config.models[0]], config.seed + 1)}
                       if len(specs) == 1 else {}),
                    "models": {m: _source_record(spec, fakes[m], config.seed + 1 + k)
                               for k, (m, spec) in enumerate(specs.items())}},
        "mask_sha256": [sha256_bytes(m) for m in masks],
        **design,
        "files": {"page": "index.html", "sheets": "sheets.pdf", "answer_key": "answer_key.csv",
                  "images": "images/"},
    }
    doc["study_id"] = study_id_of(doc)
    doc["kit_id"] = kit_id_of(doc)
    return doc, pngs, pixels, masks


def _existing_state(out: Path, kit_id: str, force: bool, study_id: str = "", participants: int = 0) -> Optional[Dict]:
    """``None`` for a fresh folder; the old design when resuming or growing; error when clobbering."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise GandiagError(f"--out {out} exists and is not a folder; choose another --out")
    design_path = out / "design.json"
    if design_path.is_file() and not force:
        try:
            old = json.loads(design_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GandiagError(f"{design_path} is unreadable ({exc}); pass --force to rebuild the kit") from None
        if old.get("kit_id") == kit_id:
            return old
        if study_id and old.get("study_id") == study_id:
            n_old = len(old.get("participants") or [])
            if participants >= n_old:
                return old  # the same study with more participants: grow it
            raise GandiagError(f"--participants {participants}: the kit in {out} already has {n_old} trial orders "
                               "(some may be in use); a study can grow, not shrink")
        raise GandiagError(
            f"--out {out} already holds a different kit ({old.get('kit_id')}, this one would be {kit_id}: "
            "sources, seed, options or gandiag version differ); pass --force to overwrite it or choose "
            "another --out"
        )
    if any(out.iterdir()) and not force:
        raise GandiagError(f"--out {out} is not empty and holds no kit; pass --force to write into it anyway "
                           "or choose an empty folder")
    return None


def build_kit(real_spec: str, fake_spec, out, config: StudyConfig, *, title: str = "Real or fake?",
              consent: str = DEFAULT_CONSENT, force: bool = False, fake_options: Optional[Dict] = None,
              texts: Optional[Dict[str, str]] = None) -> KitResult:
    """Create (or resume) a kit in ``out``; see the module doc for the layout."""
    out = Path(out)
    doc, pngs, pixels, masks = prepare_kit(real_spec, fake_spec, config, title=title, consent=consent,
                                           fake_options=fake_options, texts=texts)
    old = _existing_state(out, doc["kit_id"], force, doc["study_id"], config.participants)
    resumed = old is not None and old.get("kit_id") == doc["kit_id"]
    grown = old is not None and not resumed
    if resumed:
        doc["created"] = old.get("created", doc["created"])
    # Grown (new kit id, same study): design, page and sheets are rewritten below (atomically, over the old
    # ones: they name the kit id); the images are the same and kept.
    if force and out.is_dir():
        # Remove only what a kit writes, so stale images of an older kit cannot linger.
        for name in KIT_FILES:
            (out / name).unlink(missing_ok=True)
        images_dir = out / "images"
        if images_dir.is_dir():
            for png in images_dir.glob("img-*.png"):
                png.unlink()
    written, kept = [], []
    # design.json first: an interrupted run can then be recognized and resumed.
    if not resumed:
        atomic_write_json(out / "design.json", doc)
        written.append("design.json")
    else:
        kept.append("design.json")
    for entry in doc["images"]:
        if entry["source"] == "probe":
            continue
        path = out / entry["file"]
        if (resumed or grown) and path.is_file() and sha256_file(path) == entry["sha256"]:
            kept.append(entry["file"])
            continue
        atomic_write_bytes(path, pngs[entry["id"]])
        written.append(entry["file"])
    practice = [e for e in doc["images"] if e["role"] == "practice"]
    makers = {
        "answer_key.csv": lambda: answer_key_csv(doc["paper"]["items"], bool(practice)).encode(),
        "sheets.pdf": lambda: render_sheets(doc["paper"]["items"], pixels, practice, title=title,
                                            kit_id=doc["kit_id"]),
        "index.html": lambda: render_page(doc, pngs, masks, title=title, consent=consent,
                                          version=__version__).encode("utf-8"),
    }
    for name, make in makers.items():
        path = out / name
        if resumed and path.is_file():
            kept.append(name)
            continue
        atomic_write_bytes(path, make())
        written.append(name)
    return KitResult(out=out, kit_id=doc["kit_id"], design=doc, written=written, kept=kept, resumed=resumed,
                     grown_from=old["kit_id"] if grown else None)


def read_design(path) -> Dict:
    """Load and sanity-check a ``design.json`` written by :func:`build_kit`."""
    path = Path(path)
    if path.is_dir():
        path = path / "design.json"
    if not path.is_file():
        raise GandiagError(f"--design {path}: file not found; pass the design.json of the kit "
                           "(gandiag human-kit writes it)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GandiagError(f"--design {path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GandiagError(f"--design {path}: not a gandiag human-kit design (format {doc.get('format')!r})"
                           if isinstance(doc, dict) else f"--design {path}: not a gandiag human-kit design")
    if doc.get("format_version") != FORMAT_VERSION:
        raise GandiagError(f"--design {path}: format_version {doc.get('format_version')} is not supported "
                           f"(this gandiag reads {FORMAT_VERSION})")
    if kit_id_of(doc) != doc.get("kit_id"):
        raise GandiagError(f"--design {path}: contents do not match its kit_id {doc.get('kit_id')} (edited by "
                           "hand?); use the design.json the kit was built with")
    return doc

