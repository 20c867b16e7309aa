"""Printable "same image or not?" sheets for the birthday-paradox test's candidate pairs.

Arora & Zhang (2017) decided by eye which of the closest pairs in a batch were
duplicates. :func:`render_duplicate_sheet` prints those pairs in the human-kit's
paper format (A4, the same header/footer and answer boxes as
:mod:`gandiag.human.sheets`): each numbered pair side by side with two boxes,
``Same`` / ``Different``. The automatic decision and the distances are *not*
printed; they go to :func:`duplicate_key_csv` (experimenter only). Transcribe
the ticks into a CSV ``participant,item,response`` (response ``same`` or
``different``) and compare with the key's ``automatic`` column with
:func:`score_duplicate_answers`.
"""
from __future__ import annotations

import csv
import io
from typing import Dict, List, Sequence

import numpy as np

from ..errors import GandiagError
from .sheets import A4_IN, _box, _header, _show

PAIR_COLS, PAIR_ROWS = 2, 6
PER_PAGE = PAIR_COLS * PAIR_ROWS
KEY_COLUMNS = ("item", "page", "left", "right", "distance", "automatic")
RESPONSES = ("same", "different")


def _check_pairs(images: np.ndarray, pairs: Sequence[Sequence[int]]) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise GandiagError(f"duplicate sheet: images must be canonical (N, 1|3, H, W) in [0, 1], got {images.shape}")
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if arr.size == 0:
        raise GandiagError("duplicate sheet: no pairs to print; run the birthday test first (it returns 'pairs')")
    if arr.min() < 0 or arr.max() >= len(images):
        raise GandiagError(f"duplicate sheet: pair indices must lie in [0, {len(images) - 1}], got "
                           f"[{arr.min()}, {arr.max()}]")
    return arr


def duplicate_key_csv(pairs: Sequence[Sequence[int]], distances: Sequence[float],
                      automatic: Sequence[bool]) -> str:
    """CSV text of the key: item, page, sample indices, distance, the automatic same/different decision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=KEY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for k, ((i, j), d, a) in enumerate(zip(pairs, distances, automatic)):
        writer.writerow({"item": k + 1, "page": k // PER_PAGE + 1, "left": int(i), "right": int(j),
                         "distance": f"{float(d):.6g}", "automatic": "same" if a else "different"})
    return buffer.getvalue()


def render_duplicate_sheet(images, pairs: Sequence[Sequence[int]], *, title: str, kit_id: str) -> bytes:
    """PDF bytes: numbered pairs with ``Same`` / ``Different`` boxes, 12 pairs per A4 page.

    Args:
        images: canonical ``(N, C, H, W)`` float images the pair indices refer to.
        pairs: ``(P, 2)`` indices into ``images`` (e.g. the birthday test's ``pairs``).
        title: printed on every page.
        kit_id: printed in the footer, to match sheets with their key.
    """
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    arr = _check_pairs(images, pairs)
    images = np.asarray(images)
    pages = -(-len(arr) // PER_PAGE)
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": title, "Creator": "gandiag birthday sheet", "CreationDate": None,
                                    "ModDate": None, "Producer": None}) as pdf:
        for page in range(pages):
            fig = Figure(figsize=A4_IN)
            _header(fig, title, "For each numbered pair, tick ONE box: are the two pictures the SAME image "
                    "(a duplicate, maybe with tiny differences) or DIFFERENT images?\nWork on your own; if unsure, "
                    "guess.", kit_id, page + 1, pages, participant_line=True)
            _pairs_page(fig, arr[page * PER_PAGE:(page + 1) * PER_PAGE], images, first=page * PER_PAGE + 1)
            pdf.savefig(fig)
    return buffer.getvalue()


def _pairs_page(fig, pairs: np.ndarray, images: np.ndarray, first: int) -> None:
    left, right, top, bottom = 0.06, 0.94, 0.88, 0.05
    cw, ch = (right - left) / PAIR_COLS, (top - bottom) / PAIR_ROWS
    aspect = A4_IN[0] / A4_IN[1]
    img_w = cw * 0.26
    img_h = img_w * aspect
    pad = (cw - 2 * img_w - 0.02) / 2  # centre the pair in its column
    for k, (i, j) in enumerate(pairs):
        r, c = divmod(k, PAIR_COLS)
        x0, y_top = left + c * cw, top - r * ch
        iy = y_top - 0.022 - img_h
        for side, idx in enumerate((i, j)):
            ax = fig.add_axes([x0 + pad + side * (img_w + 0.02), iy, img_w, img_h])
            _show(ax, images[idx])
        fig.text(x0 + pad, y_top - 0.004, f"Pair {first + k}", fontsize=11, weight="bold", va="top")
        by, size = iy - 0.026, 0.022
        _box(fig, x0 + pad, by, size)
        fig.text(x0 + pad + size + 0.006, by + 0.004, "Same", fontsize=9)
        _box(fig, x0 + pad + img_w + 0.02, by, size)
        fig.text(x0 + pad + img_w + 0.02 + size + 0.006, by + 0.004, "Different", fontsize=9)


def score_duplicate_answers(key_csv: str, answers_csv: str) -> Dict[str, object]:
    """Agreement of transcribed answers with the automatic decision.

    Args:
        key_csv: text of :func:`duplicate_key_csv`.
        answers_csv: text with columns ``participant,item,response`` (``same`` / ``different``).

    Returns:
        dict with ``items``, ``answers``, ``agreement`` (share of answers equal to the automatic
        decision), ``same_votes`` per item and ``confirmed`` (items most participants called same).
    """
    key = {int(row["item"]): row["automatic"] for row in csv.DictReader(io.StringIO(key_csv))}
    votes: Dict[int, List[str]] = {k: [] for k in key}
    agree = total = 0
    for n, row in enumerate(csv.DictReader(io.StringIO(answers_csv)), start=2):
        try:
            item, response = int(row["item"]), row["response"].strip().lower()
        except (KeyError, TypeError, ValueError, AttributeError):
            raise GandiagError(f"answers line {n}: expected columns participant,item,response with an integer item")
        if item not in key:
            raise GandiagError(f"answers line {n}: item {item} is not on the sheet (items 1..{len(key)})")
        if response not in RESPONSES:
            raise GandiagError(f"answers line {n}: response must be one of {RESPONSES}, got {response!r}")
        votes[item].append(response)
        agree += response == key[item]
        total += 1
    if total == 0:
        raise GandiagError("answers: no rows; transcribe the sheets as participant,item,response")
    same = {k: sum(v == "same" for v in vs) for k, vs in votes.items()}
    return {"items": len(key), "answers": total, "agreement": agree / total, "same_votes": same,
            "confirmed": [k for k, vs in votes.items() if vs and same[k] * 2 > len(vs)]}
