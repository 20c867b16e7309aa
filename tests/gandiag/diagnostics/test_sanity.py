"""gandiag sanity: disturbances, the monotonicity check, and FID/KID curves on real digits."""
import json
from pathlib import Path

import numpy as np
import pytest

from gandiag.cli import main
from gandiag.data import FASHION_MNIST_DEFAULT_ROOT, load_images
from gandiag.diagnostics import sanity as S
from gandiag.errors import GandiagError


@pytest.fixture(scope="module")
def digits():
    return load_images("mnist-subset:train").images


def test_disturbances_keep_canonical_images_and_level_zero_is_identity(digits):
    x = digits[:20]
    other = np.zeros_like(x)
    for name in S.DISTURBANCES.names():
        d = S.DISTURBANCES.get(name)
        assert d.levels[0] == 0 and all(b > a for a, b in zip(d.levels, d.levels[1:]))
        assert d.apply(x, 0, np.random.default_rng(0), other) is x
        y = d.apply(x, d.levels[-1], np.random.default_rng(0), other)
        assert y.shape == x.shape and y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1
        assert not np.array_equal(y, x), name


def test_disturbance_details():
    rng = np.random.default_rng(0)
    ones = np.ones((50, 1, 28, 28), np.float32)
    rect = S.black_rectangles(ones, 0.25, rng)
    # five 7x7 rectangles (possibly overlapping): between 49 and 245 black pixels per image
    black = (rect == 0).sum(axis=(1, 2, 3))
    assert black.min() >= 49 and black.max() <= 5 * 49
    grey = np.full((200, 1, 28, 28), 0.5, np.float32)
    sp = S.salt_and_pepper(grey, 0.2, rng)
    assert abs((sp == 0).mean() - 0.1) < 0.01 and abs((sp == 1).mean() - 0.1) < 0.01
    mixed = S.contamination(grey, 0.25, rng, other=np.zeros_like(grey))
    assert (mixed.reshape(200, -1).max(axis=1) == 0).sum() == 50
    # swirl: the centre stays, a ring of radius r turns by strength * exp(-r / (R / 5 ln 2))
    rows, cols = S.swirl_coordinates(29, 29, 2.0, 29.0)
    assert rows[14, 14] == pytest.approx(14) and cols[14, 14] == pytest.approx(14)
    angle = np.arctan2(rows[14, 24] - 14, cols[14, 24] - 14)
    assert angle == pytest.approx(2.0 * np.exp(-10 / (29 / 5 * np.log(2))))
    blurred = S.gaussian_blur(np.pad(np.ones((1, 1, 1, 1), np.float32), ((0, 0), (0, 0), (10, 10), (10, 10))), 1, rng)
    assert blurred.sum() == pytest.approx(1.0, rel=1e-3)  # mass kept, spread over neighbours


def test_monotone_violations():
    assert S.monotone_violations([0, 1, 2, 2], increasing=True) == []
    assert S.monotone_violations([0, 2, 1, 3], increasing=True) == [1]
    assert S.monotone_violations([0, 2, 1.9, 3], increasing=True, tolerance=0.2) == []
    assert S.monotone_violations([1, 0.5, 0.7], increasing=False) == [1]


@pytest.mark.slow  # ~10 s idle, 30 s at load 12
def test_fid_and_kid_are_monotone_on_real_digits(digits):
    """Done-when of issue 14: monotone FID/KID curves on real data (embedded MNIST, MNIST classifier)."""
    from gandiag.features import get_extractor

    have_fashion = (Path(FASHION_MNIST_DEFAULT_ROOT) / "t10k-images-idx3-ubyte.gz").exists()
    other = load_images("fashion-mnist:test").images if have_fashion else None
    ext = get_extractor("mnist-classifier")
    result = S.run_sanity(digits, ext, metrics=("fid", "kid", "precision"), other=other, num=300, seed=0)
    expected = set(S.DISTURBANCES.names()) - (set() if have_fashion else {"contamination"})
    assert set(result["curves"]) == expected
    for d, curves in result["curves"].items():
        for m in ("fid", "kid"):
            values = curves[m]["values"]
            assert curves[m]["monotone"], (d, m, values)
            assert values[-1] > 3 * values[0], (d, m, values)  # a clear response, not flat noise
    # every non-monotone curve is flagged, and only those
    flagged = {(f.split(":")[0], f.split()[1]) for f in result["flags"]}
    assert flagged == {(d, m) for d, c in result["curves"].items() for m, v in c.items() if not v["monotone"]}
    png = S.sanity_figure(result, "test")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_writes_json_and_png_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sanity", "--ref", "mnist-subset", "--disturbances", "blur", "--num-images", "60",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "blur" in printed and "fid" in printed and "wrote" in printed
    data = json.loads((out / "sanity.json").read_text())
    assert data["curves"]["blur"]["fid"]["levels"] == [0, 1, 2, 4]
    assert data["provenance"]["extractor"]["name"] == "mnist-classifier" and data["seed"] == 0
    assert (out / "sanity.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["sanity", "--ref", "mnist-subset", "--disturbances", "blur", "--num-images", "60",
                 "--out", str(out), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["sanity", "--ref", "mnist-subset", "--protocol", "clean", "--out", str(tmp_path / "p")]) == 2
    assert "applies to the inception-v3-fid extractor only" in capsys.readouterr().err
    assert main(["sanity", "--ref", "mnist-subset", "--disturbances", "contamination", "--out",
                 str(tmp_path / "c")]) == 2
    assert "pass --contaminate DATA" in capsys.readouterr().err


def test_run_sanity_input_errors(digits):
    class NoLogits:
        name, num_classes = "x", None

    with pytest.raises(GandiagError, match="needs 2 x --num-images = 20000"):
        S.run_sanity(digits, NoLogits(), num=10000)
    with pytest.raises(GandiagError, match="unknown sanity metric 'fdi'; valid values are"):
        S.run_sanity(digits, NoLogits(), metrics=("fdi",), num=100)
    with pytest.raises(GandiagError, match="'is' needs class logits"):
        S.run_sanity(digits, NoLogits(), metrics=("is",), num=100)
    with pytest.raises(GandiagError, match="same shape"):
        S.run_sanity(digits, NoLogits(), other=np.zeros((5, 3, 28, 28), np.float32), num=100)


@pytest.mark.slow  # ~15 s idle: 1000 vs 1000 digits, the docs' configuration
@pytest.mark.skipif(not (Path(FASHION_MNIST_DEFAULT_ROOT) / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST (Debian dataset-fashion-mnist) not installed")
def test_docs_numbers(digits):
    """docs/sanity.md's table (noise and contamination rows), to 0.5 %."""
    from gandiag.features import get_extractor

    result = S.run_sanity(digits, get_extractor("mnist-classifier"), metrics=("fid", "kid", "precision", "recall"),
                          disturbances=("noise", "contamination"), other=load_images("fashion-mnist:test").images,
                          num=1000, seed=0)
    table = {
        "noise": {"fid": [19.4, 153, 945, 1700], "kid": [4.54, 228, 647, 711],
                  "precision": [0.963, 0.989, 0.998, 1.0], "recall": [0.938, 0.424, 0.002, 0.0]},
        "contamination": {"fid": [19.4, 87.3, 234, 503], "kid": [4.54, 41.9, 159, 379],
                          "precision": [0.963, 0.875, 0.802, 0.719], "recall": [0.938, 0.935, 0.936, 0.925]},
    }
    for d, rows in table.items():
        for m, expected in rows.items():
            got = result["curves"][d][m]["values"]
            assert got == pytest.approx(expected, rel=5e-3, abs=1.5e-3), (d, m, got)
    assert not result["curves"]["noise"]["precision"]["monotone"]
    assert not result["curves"]["contamination"]["recall"]["monotone"]
    assert result["curves"]["contamination"]["fid"]["monotone"] and result["curves"]["noise"]["kid"]["monotone"]
