"""Evaluation-report section bodies for the label-free collapse metrics (NDB, birthday test).

Titles, anchors and order come from the metric records (see :mod:`gandiag.report.sections`).
"""
from __future__ import annotations

from typing import Mapping

from . import collapse_figures, figures
from .page import esc, fmt, img


def ndb_body(r: Mapping, arrays: Mapping) -> str:
    body = img(collapse_figures.ndb_bins_figure(r), "reference and generated share of every NDB bin",
               caption=f"k-means bins of the reference in {r.get('space', '')} space (seed {r.get('seed')}); a dot "
                       f"is red when the generator puts significantly too few samples in the bin, orange too many "
                       f"(two-proportion z-test, alpha {r['alpha']:g}).")
    under = arrays.get("ndb_under_images")
    if under is not None and len(under):
        tiles = under.reshape((-1,) + tuple(under.shape[2:]))
        body += img(figures.sample_grid(tiles, nrow=under.shape[1]), "real images nearest the under-populated bins",
                    caption="What the generator no longer draws: one row per significantly under-populated bin "
                            "(most significant first), the real images nearest its centre.", pixels=True)
    elif not r.get("under"):
        body += '<p class="note">No bin is significantly under-populated.</p>'
    text = (f"<p>{esc(fmt(r['ndb']))} of {esc(fmt(r['num_bins']))} bins differ (NDB/K {esc(fmt(r['ndb_k']))}, "
            f"JS {esc(fmt(r['js']))}); {len(r.get('under', []))} under-populated, {len(r.get('over', []))} "
            f"over-populated. Real data against its own bins gives about alpha × K.</p>")
    return text + body


def birthday_body(r: Mapping, arrays: Mapping) -> str:
    body = img(collapse_figures.birthday_curve(r), "share of batches with a duplicate against batch size",
               caption=f"A batch has a duplicate when its closest pair is closer than the closest pair of every "
                       f"one of {2 * r['num_batches']} real batches of the same size ({r.get('space', '')} space).")
    pairs = arrays.get("birthday_pairs")
    if pairs is not None and len(pairs):
        import numpy as np

        flat = pairs.reshape((-1,) + tuple(pairs.shape[2:]))
        index = np.arange(len(flat)).reshape(-1, 2)
        body += img(collapse_figures.pair_grid(flat, index, r["pair_distances"], r["pair_is_duplicate"],
                                               title=f"Closest pairs in a batch of {r['pairs_batch_size']}"),
                    "closest pairs of generated images", caption="Red: below the real-data threshold. Print them "
                    "for people to confirm with gandiag.human.duplicate_sheet.")
    return body
