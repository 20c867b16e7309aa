"""Kit folder: files, PNGs, design record, resume / refuse-to-clobber, page contents, sheets, stimuli."""
import csv
import io
import json
import re

import numpy as np
import pytest

from gandiag import __version__
from gandiag.cli import main
from gandiag.errors import GandiagError
from gandiag.fileio import sha256_file
from gandiag.human.kit import kit_id_of, read_design
from gandiag.human.stimuli import match_formats, noise_images, png_bytes, scramble_masks


def test_kit_files_and_design_record(small_kit, fake_npz):
    out, d = small_kit.out, small_kit.design
    for name in ("design.json", "index.html", "sheets.pdf", "answer_key.csv"):
        assert (out / name).is_file()
    stored = json.loads((out / "design.json").read_text())
    assert stored == d and stored["kit_id"] == kit_id_of(stored) == small_kit.kit_id
    assert stored["gandiag_version"] == __version__ and stored["seed"] == 3
    assert stored["sources"]["real"]["spec"] == "mnist-subset:test"
    assert stored["sources"]["fake"]["spec"] == str(fake_npz)
    assert stored["sources"]["real"]["num_samples"] == 5  # 4 main + 1 practice
    pictures = [e for e in stored["images"] if e["source"] != "probe"]
    for e in pictures:
        assert sha256_file(out / e["file"]) == e["sha256"]
    assert len(list((out / "images").glob("*.png"))) == len(pictures) == 11  # + the "answer REAL" probe
    assert [e["id"] for e in stored["images"] if e["source"] == "probe"] == ["probe-real"]
    # Every trial records image, truth, exposure and attention flag.
    t = stored["participants"][0]["trials"][3]
    assert set(t) == {"trial", "phase", "image", "truth", "model", "exposure_ms", "attention"}
    assert read_design(out / "design.json") == stored


def test_png_pixels_match_the_source(small_kit):
    from PIL import Image

    from gandiag.sources import load_source

    real = load_source("mnist-subset:test", num_samples=5, seed=3).images
    entry = next(e for e in small_kit.design["images"] if e["source"] == "real" and e["source_index"] == 2)
    with Image.open(small_kit.out / entry["file"]) as im:
        pixels = np.asarray(im)
    assert np.array_equal(pixels, np.rint(real[2, 0] * 255).astype(np.uint8))


def test_answer_key_matches_paper_items(small_kit):
    rows = list(csv.DictReader(io.StringIO((small_kit.out / "answer_key.csv").read_text())))
    items = small_kit.design["paper"]["items"]
    assert [int(r["item"]) for r in rows] == [it["item"] for it in items]
    assert [r["truth"] for r in rows] == [it["truth"] for it in items]
    assert rows[0]["page"] == "2"  # page 1 holds the practice examples


def test_sheets_pdf_pages(small_kit):
    pdf = (small_kit.out / "sheets.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    # examples + 1 stimulus page (10 items) + 1 answer form
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 3


def test_page_is_self_contained_and_hides_main_truth(small_kit):
    page = (small_kit.out / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    kit = json.loads(re.search(r'<script type="application/json" id="kit-data">(.*?)</script>', page, re.S).group(1))
    assert kit["kit_id"] == small_kit.kit_id
    assert set(kit["images"]) == {e["id"] for e in small_kit.design["images"] if e["source"] != "probe"}
    assert all(uri.startswith("data:image/png;base64,") for uri in kit["images"].values())
    for rows in kit["participants"].values():
        assert all(("truth" in r) == (r["ph"] == "practice") for r in rows)
        assert all(r.get("probe") == ("real" if r["att"] == "probe" else None) for r in rows)


def test_resume_keeps_files_and_rewrites_missing(tmp_path, fake_npz, kit_builder):
    build_small_kit = kit_builder
    first = build_small_kit(tmp_path / "k", fake_npz)
    victim = tmp_path / "k" / first.design["images"][0]["file"]
    victim.unlink()
    (tmp_path / "k" / "index.html").unlink()
    again = build_small_kit(tmp_path / "k", fake_npz)
    assert again.resumed and again.kit_id == first.kit_id
    assert sorted(again.written) == sorted([first.design["images"][0]["file"], "index.html"])
    assert victim.is_file() and sha256_file(victim) == first.design["images"][0]["sha256"]
    assert again.design["created"] == first.design["created"]


def test_refuses_to_clobber_a_different_kit_unless_forced(tmp_path, fake_npz, kit_builder):
    build_small_kit = kit_builder
    build_small_kit(tmp_path / "k", fake_npz)
    with pytest.raises(GandiagError, match="already holds a different kit .* --force"):
        build_small_kit(tmp_path / "k", fake_npz, seed=4)
    forced = build_small_kit(tmp_path / "k", fake_npz, seed=4, trials=4, exposures_ms=(50,), force=True)
    assert not forced.resumed
    assert len(list((tmp_path / "k" / "images").glob("*.png"))) == \
        sum(e["source"] != "probe" for e in forced.design["images"])


def test_refuses_non_empty_folder_without_kit(tmp_path, fake_npz, kit_builder):
    build_small_kit = kit_builder
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "notes.txt").write_text("mine")
    with pytest.raises(GandiagError, match="not empty and holds no kit"):
        build_small_kit(tmp_path / "k", fake_npz)
    assert (tmp_path / "k" / "notes.txt").read_text() == "mine"


def test_cli_builds_and_reports_errors(tmp_path, fake_npz, capsys):
    out = tmp_path / "cli"
    argv = ["human-kit", "--real", "mnist-subset:test", "--fake", str(fake_npz), "--out", str(out),
            "--trials", "4", "--exposures", "100", "--participants", "2", "--practice", "0", "--attention", "1"]
    assert main(argv) == 0
    assert "built kit" in capsys.readouterr().out
    assert main(argv) == 0
    assert "resumed kit" in capsys.readouterr().out
    assert main(argv + ["--trials", "5"]) == 2
    assert "--trials 5 cannot be split evenly" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # a usage mistake: argparse's one line, exit status 2
        main(argv + ["--exposures", "1,x"])
    assert usage.value.code == 2
    assert "argument --exposures: expected comma-separated int values, got '1,x'" in capsys.readouterr().err


def test_design_tampering_is_detected(tmp_path, small_kit):
    doc = json.loads((small_kit.out / "design.json").read_text())
    doc["participants"][0]["trials"][2]["truth"] = "real" if doc["participants"][0]["trials"][2]["truth"] == "fake" else "fake"
    (tmp_path / "design.json").write_text(json.dumps(doc))
    with pytest.raises(GandiagError, match="do not match its kit_id"):
        read_design(tmp_path / "design.json")
    with pytest.raises(GandiagError, match="file not found"):
        read_design(tmp_path / "nope.json")


def test_match_formats():
    gray = np.zeros((2, 1, 8, 8), np.float32)
    rgb = np.ones((3, 3, 8, 8), np.float32)
    a, b = match_formats(gray, rgb)
    assert a.shape == (2, 3, 8, 8) and b.shape == (3, 3, 8, 8)
    with pytest.raises(GandiagError, match="real images are 8x8 but fake images are 16x16"):
        match_formats(gray, np.zeros((2, 1, 16, 16), np.float32))


def test_png_roundtrip_and_determinism():
    from PIL import Image

    x = noise_images(2, (3, 5, 7), seed=1)
    assert np.array_equal(x, noise_images(2, (3, 5, 7), seed=1))
    data = png_bytes(x[0])
    assert data == png_bytes(x[0])
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "RGB" and im.size == (7, 5)
        assert np.array_equal(np.asarray(im).transpose(2, 0, 1), np.rint(x[0] * 255).astype(np.uint8))


def test_masks_are_built_from_the_pool():
    pool = np.stack([np.full((1, 14, 14), v, np.float32) for v in (0.2, 0.8)])
    masks = scramble_masks(pool, 3, seed=0, grid=7)
    assert masks.shape == (3, 1, 14, 14)
    assert set(np.unique(masks)) <= {np.float32(0.2), np.float32(0.8)}
    assert len(np.unique(masks)) == 2  # tiles from both images


def test_mnist_masks_are_not_mostly_black():
    from gandiag.data import load_mnist_subset

    digits = load_mnist_subset("test").images[:60]
    masks = scramble_masks(digits, 8, seed=0)
    assert (digits < 0.05).mean() > 0.75  # digits are mostly background ...
    assert (masks < 0.05).mean() < 0.5  # ... their masks are not (random cuts gave ~80 % black)
    assert np.array_equal(masks, scramble_masks(digits, 8, seed=0))
