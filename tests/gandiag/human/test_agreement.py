"""Inter-rater agreement against published worked examples; agreement and RT summaries in scores.json."""
import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.human.agreement import fleiss_kappa, krippendorff_alpha_nominal
from gandiag.human.analysis import score_sessions
from gandiag.human.responses import read_responses

N = None


def test_krippendorff_alpha_matches_krippendorff_2011_example():
    # "Computing Krippendorff's Alpha-Reliability" (2011), 4 observers x 12 units with missing values: 0.743.
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
            [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]]
    assert krippendorff_alpha_nominal(data) == pytest.approx(0.743, abs=5e-4)
    # Missing as NaN, labels as strings: same value.
    as_text = [[np.nan if v is None else f"c{v}" for v in row] for row in data]
    assert krippendorff_alpha_nominal(as_text) == pytest.approx(krippendorff_alpha_nominal(data))


def test_fleiss_kappa_matches_fleiss_1971_worked_example():
    # The 10 subjects x 14 raters x 5 categories example (e.g. Wikipedia "Fleiss' kappa"): 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    assert fleiss_kappa(counts) == pytest.approx(0.210, abs=5e-4)


def test_agreement_edge_cases():
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0
    assert krippendorff_alpha_nominal([["a", "b"], ["a", "b"]]) == 1.0
    assert fleiss_kappa([[3, 0], [3, 0]]) is None  # one category only: undefined
    assert krippendorff_alpha_nominal([["a", N], [N, "a"]]) is None  # no unit rated twice
    assert fleiss_kappa([[1, 0], [0, 1]]) is None
    with pytest.raises(GandiagError, match="2-D array"):
        fleiss_kappa([1, 2])
    rng = np.random.default_rng(0)
    coin = rng.integers(0, 2, size=(20, 400))
    assert abs(krippendorff_alpha_nominal(coin.tolist())) < 0.02
    assert abs(fleiss_kappa(np.stack([(coin == 0).sum(0), (coin == 1).sum(0)], 1))) < 0.02


def test_scores_carry_agreement_rt_and_per_image_rates(small_kit, page_json_writer, tmp_path):
    d = small_kit.design
    files = [page_json_writer(d, p["id"], lambda t: t["truth"], tmp_path / f"{p['id']}.json",
                              rt=lambda t: 300.0 + 10 * t["trial"]) for p in d["participants"]]
    scores = score_sessions(read_responses(files, d), d, n_boot=0)
    ag = scores["agreement"]
    assert ag["fleiss_kappa"] == 1.0 and ag["krippendorff_alpha"] == 1.0 and ag["raters"] == 3
    rt = scores["reaction_times_ms"]
    assert rt["all"]["n"] == 24 and rt["wrong"] is None and 300 < rt["all"]["median"] < 450
    assert [e["exposure_ms"] for e in rt["by_exposure"]] == [50.0, 100.0]
    images = scores["by_image"]
    assert sum(e["n"] for e in images) == 24 and all(e["judged_real_rate"] == (e["truth"] == "real")
                                                      for e in images)
