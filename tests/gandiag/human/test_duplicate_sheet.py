"""Birthday-test confirmation sheets: PDF pages, key without leaking answers onto the sheet, scoring."""
import csv
import io
import re

import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.human.duplicate_sheet import (PER_PAGE, duplicate_key_csv, render_duplicate_sheet,
                                           score_duplicate_answers)


def _images(n=30):
    return np.random.default_rng(0).random((n, 1, 28, 28)).astype(np.float32)


def test_sheet_pages_and_determinism():
    pairs = [[i, i + 1] for i in range(0, 2 * (PER_PAGE + 3), 2)]
    pdf = render_duplicate_sheet(_images(), pairs, title="Same image?", kit_id="k1")
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 2  # 15 pairs, 12 a page
    assert pdf == render_duplicate_sheet(_images(), pairs, title="Same image?", kit_id="k1")
    assert b"automatic" not in pdf


def test_key_and_scoring():
    key = duplicate_key_csv([[0, 1], [2, 3], [4, 5]], [0.0, 2.5, 3.0], [True, False, False])
    rows = list(csv.DictReader(io.StringIO(key)))
    assert [r["automatic"] for r in rows] == ["same", "different", "different"] and rows[0]["distance"] == "0"
    answers = "participant,item,response\na,1,same\nb,1,same\na,2,same\nb,2,different\na,3,different\n"
    out = score_duplicate_answers(key, answers)
    assert out["answers"] == 5 and out["agreement"] == pytest.approx(4 / 5)
    assert out["confirmed"] == [1] and out["same_votes"] == {1: 2, 2: 1, 3: 0}


def test_bad_inputs():
    with pytest.raises(GandiagError, match=r"pair indices must lie in \[0, 29\], got \[0, 40\]"):
        render_duplicate_sheet(_images(), [[0, 40]], title="t", kit_id="k")
    with pytest.raises(GandiagError, match="no pairs to print"):
        render_duplicate_sheet(_images(), [], title="t", kit_id="k")
    with pytest.raises(GandiagError, match=r"canonical \(N, 1\|3, H, W\)"):
        render_duplicate_sheet(np.zeros((3, 28, 28)), [[0, 1]], title="t", kit_id="k")
    key = duplicate_key_csv([[0, 1]], [0.0], [True])
    with pytest.raises(GandiagError, match="response must be one of"):
        score_duplicate_answers(key, "participant,item,response\na,1,maybe\n")
    with pytest.raises(GandiagError, match="item 7 is not on the sheet"):
        score_duplicate_answers(key, "participant,item,response\na,7,same\n")
