"""Printable sheets for a paper or projector session, and the separate answer key.

``sheets.pdf`` (A4 portrait, drawn with matplotlib, no pyplot state):

1. an *examples* page with the practice images labelled REAL / FAKE (the paper
   version of practice feedback), when the kit has practice images;
2. *stimulus* pages: numbered image grids, each image with two answer boxes
   (``Real`` / ``Fake``) and a participant line in the header;
3. an *answer form* (numbers and boxes only) for projector sessions, where the
   stimulus pages are shown on a screen and every participant fills in a form.

The truth never appears on stimulus pages or forms; it is in ``answer_key.csv``
(one row per item), which stays with the experimenter. Transcribe paper answers
into a CSV with columns ``participant,item,response`` (see docs/human-study.md)
and score it with ``gandiag human-score``.
"""
from __future__ import annotations

import csv
import io
from typing import Dict, List, Sequence

import numpy as np

A4_IN = (8.27, 11.69)
COLS, ROWS = 4, 5
PER_PAGE = COLS * ROWS
FORM_ROWS, FORM_COLS = 25, 4
KEY_COLUMNS = ("item", "page", "row", "column", "image", "truth", "attention")


def layout(items: Sequence[Dict], has_examples: bool) -> List[Dict]:
    """Page / row / column of every paper item (1-based; page counts the examples page)."""
    first = 2 if has_examples else 1
    out = []
    for k, it in enumerate(items):
        page, slot = divmod(k, PER_PAGE)
        out.append(dict(it, page=first + page, row=slot // COLS + 1, column=slot % COLS + 1))
    return out


def answer_key_csv(items: Sequence[Dict], has_examples: bool) -> str:
    """CSV text of the answer key (experimenter only)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=KEY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for it in layout(items, has_examples):
        writer.writerow({k: ("" if it.get(k) is None else it[k]) for k in KEY_COLUMNS})
    return buffer.getvalue()


def _box(fig, x, y, size):
    from matplotlib.patches import Rectangle

    fig.add_artist(Rectangle((x, y), size, size * A4_IN[0] / A4_IN[1], transform=fig.transFigure,
                             fill=False, linewidth=1.0, edgecolor="black"))


def _show(ax, image: np.ndarray) -> None:
    """Draw one canonical image ``(C, H, W)`` with square, unsmoothed pixels."""
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.6)


def _probe(ax, truth: str) -> None:
    """An attention probe on paper: the answer to tick, written where an image would be."""
    ax.text(0.5, 0.5, f"Attention check:\ntick {truth.upper()}\nfor this item", ha="center", va="center",
            fontsize=10, weight="bold", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.6)


def _header(fig, title: str, subtitle: str, kit_id: str, page: int, pages: int, participant_line: bool):
    fig.text(0.06, 0.965, title, fontsize=15, weight="bold", va="top")
    fig.text(0.06, 0.937, subtitle, fontsize=9, va="top", wrap=True)
    if participant_line:
        fig.text(0.60, 0.965, "Participant: ____________________", fontsize=10, va="top")
    fig.text(0.06, 0.018, f"gandiag human-kit {kit_id}", fontsize=7, color="0.35")
    fig.text(0.94, 0.018, f"page {page} of {pages}", fontsize=7, color="0.35", ha="right")


def _grid_page(fig, cells: List[Dict], images: Dict[str, np.ndarray], label_truth: bool) -> None:
    left, right, top, bottom = 0.06, 0.94, 0.90, 0.05
    cw, ch = (right - left) / COLS, (top - bottom) / ROWS
    aspect = A4_IN[0] / A4_IN[1]
    img_w = cw * 0.70
    img_h = img_w * aspect
    for k, cell in enumerate(cells):
        r, c = divmod(k, COLS)
        x0, y_top = left + c * cw, top - r * ch
        ix = x0 + (cw - img_w) / 2
        iy = y_top - 0.022 - img_h
        ax = fig.add_axes([ix, iy, img_w, img_h])
        if cell["image"] in images:
            _show(ax, images[cell["image"]])
        else:  # an attention probe: the instruction instead of an image
            _probe(ax, cell["truth"])
        fig.text(ix, y_top - 0.006, str(cell["label"]), fontsize=11, weight="bold", va="top")
        by = iy - 0.026
        if label_truth:
            word = "REAL" if cell["truth"] == "real" else "FAKE (generated)"
            fig.text(x0 + cw / 2, by + 0.006, word, fontsize=10, weight="bold", ha="center")
        else:
            size = 0.022
            _box(fig, ix, by, size)
            fig.text(ix + size + 0.006, by + 0.004, "Real", fontsize=9)
            _box(fig, ix + img_w / 2 + 0.01, by, size)
            fig.text(ix + img_w / 2 + 0.01 + size + 0.006, by + 0.004, "Fake", fontsize=9)


def _form_page(fig, numbers: List[int]) -> None:
    left, top, bottom = 0.07, 0.88, 0.06
    cw = (0.94 - left) / FORM_COLS
    rh = (top - bottom) / FORM_ROWS
    size = 0.018
    for k, n in enumerate(numbers):
        c, r = divmod(k, FORM_ROWS)
        x, y = left + c * cw, top - (r + 1) * rh + rh * 0.25
        fig.text(x, y + 0.002, f"{n:>3d}", fontsize=9, family="monospace")
        _box(fig, x + 0.045, y, size)
        fig.text(x + 0.045 + size + 0.008, y + 0.002, "Real", fontsize=8)
        _box(fig, x + 0.12, y, size)
        fig.text(x + 0.12 + size + 0.008, y + 0.002, "Fake", fontsize=8)


def render_sheets(items: Sequence[Dict], images: Dict[str, np.ndarray], practice: Sequence[Dict], *,
                  title: str, kit_id: str) -> bytes:
    """The PDF bytes of the sheets (see module doc).

    Args:
        items: paper items from :func:`gandiag.human.design.paper_items`.
        images: canonical image ``(C, H, W)`` of every image id used.
        practice: practice image entries (``id``, ``truth``) for the examples page.
        title: title printed on every page.
        kit_id: printed in the footer so sheets are matched to the right kit.
    """
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    n_stim_pages = -(-len(items) // PER_PAGE)
    n_form_pages = -(-len(items) // (FORM_ROWS * FORM_COLS))
    pages = (1 if practice else 0) + n_stim_pages + n_form_pages
    buffer = io.BytesIO()
    page = 0
    # Fixed metadata: the same kit gives the same PDF bytes.
    with PdfPages(buffer, metadata={"Title": title, "Creator": "gandiag human-kit", "CreationDate": None,
                                    "ModDate": None, "Producer": None}) as pdf:
        if practice:
            page += 1
            fig = Figure(figsize=A4_IN)
            _header(fig, title, "Examples: these images show what real and fake (generated) images look like.\n"
                    "Look at them before you start; you do not need to mark anything on this page.",
                    kit_id, page, pages, participant_line=False)
            cells = [{"image": e["id"], "truth": e["truth"], "label": f"Example {k + 1}"}
                     for k, e in enumerate(practice)]
            _grid_page(fig, cells, images, label_truth=True)
            pdf.savefig(fig)
        for start in range(0, len(items), PER_PAGE):
            page += 1
            fig = Figure(figsize=A4_IN)
            _header(fig, title, "For each numbered image, tick ONE box: is it a real image or a fake "
                    "(computer-generated) one?\nWork on your own and do not go back to change answers. "
                    "If unsure, guess.", kit_id, page, pages, participant_line=True)
            cells = [{"image": it["image"], "truth": it["truth"], "label": it["item"]}
                     for it in items[start:start + PER_PAGE]]
            _grid_page(fig, cells, images, label_truth=False)
            pdf.savefig(fig)
        numbers = [it["item"] for it in items]
        per_form = FORM_ROWS * FORM_COLS
        for start in range(0, len(numbers), per_form):
            page += 1
            fig = Figure(figsize=A4_IN)
            _header(fig, title + " (answer form)", "Projector session: for each image number shown on the "
                    "screen, tick ONE box.", kit_id, page, pages, participant_line=True)
            _form_page(fig, numbers[start:start + per_form])
            pdf.savefig(fig)
    assert page == pages
    return buffer.getvalue()
