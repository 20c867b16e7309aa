"""diagnose without labels: the pure verdict rules, and a run judged by NDB/PRDC/birthday end to end."""
import textwrap

import pytest

from gandiag.diagnostics.label_free import label_free_verdict, needs_label_free
from gandiag.errors import GandiagError

BASE = {"ndb_k": 0.05, "recall": 0.7, "coverage": 0.95}


def _row(**kw):
    row = {"label": "step 1", "step": 1, "ndb_k": 0.05, "recall": 0.7, "coverage": 0.95, "num_bins": 100,
           "under": [], "support_estimate": 250000.0, "support_status": "at_least", "s_half": 500.0,
           "num_samples": 2000}
    row.update(kw)
    return row


def test_verdict_rules():
    assert label_free_verdict([_row()], BASE)["verdict"] == "healthy"
    assert label_free_verdict([_row(ndb_k=0.6)], BASE)["verdict"] == "collapse"
    assert label_free_verdict([_row(coverage=0.4)], BASE)["verdict"] == "collapse"
    dup = label_free_verdict([_row(support_estimate=400.0, support_status="estimate", s_half=20.0)], BASE)
    assert dup["verdict"] == "collapse" and any("support ≈ 400" in e for e in dup["evidence"])
    part = label_free_verdict([_row(ndb_k=0.25, under=[3, 4])], BASE)
    assert part["verdict"] == "partial collapse" and any("2 of 100 bins under-populated" in e for e in part["evidence"])
    assert label_free_verdict([_row(recall=0.5)], BASE)["verdict"] == "partial collapse"
    assert label_free_verdict([_row(ndb_k=0.6), _row(label="step 2", step=2)], BASE)["final"] == "step 2"
    out = label_free_verdict([_row()], BASE)
    assert len(out["evidence_used"]) == 3 and out["evidence"][-1].startswith("evidence used: NDB/K")
    assert needs_label_free("natural") and needs_label_free("stacked-mnist") and not needs_label_free("fashion")
    stacked = label_free_verdict([_row(stacked_covered=120, stacked_kl_to_uniform=2.1)],
                                 dict(BASE, stacked_covered=790))
    assert any("Stacked MNIST: 120 of 1000 modes covered (held-out real: 790)" in e for e in stacked["evidence"])
    with pytest.raises(GandiagError, match="no checkpoints"):
        label_free_verdict([], BASE)


def test_diagnose_label_free_end_to_end(tmp_path, monkeypatch, capsys):
    (tmp_path / "lfgen.py").write_text(textwrap.dedent("""
        import numpy as np
        import torch
        from gandiag.data import load_mnist_subset

        _DATA = load_mnist_subset("train")
        _ALL = torch.from_numpy(np.array(_DATA.images))
        _FEW = torch.from_numpy(np.array(_DATA.images[np.isin(_DATA.labels, [0, 1])]))

        def _pick(bank, z):
            return bank[(z[:, 0].abs() * 1e6).long() % len(bank)]

        def healthy(z):
            return _pick(_ALL, z)

        def collapsed(z):
            return _pick(_FEW, z)

        healthy.gandiag_meta = collapsed.gandiag_meta = {"z_dim": 4, "output_range": [0, 1]}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    from gandiag.commands.diagnose import print_diagnosis
    from gandiag.diagnostics.run import diagnose
    from gandiag.evaluation import EvaluateOptions
    from gandiag.report.label_free import label_free_diagnosis_html

    opts = EvaluateOptions(extractor="mnist-classifier", ndb_bins=20, birthday_batches=10)
    result, arrays = diagnose(["lfgen:healthy", "lfgen:collapsed"], num_samples=600, options=opts, label_free=True)
    assert result["mode"] == "label-free" and result["verdict"]["verdict"] == "collapse"
    assert result["checkpoints"][-1]["ndb_k"] > 0.5 and result["baseline"]["ndb_k"] < 0.2
    assert result["checkpoints"][0]["coverage"] > 0.8 * result["baseline"]["coverage"]
    assert arrays["ndb_under_images"].shape[1:] == (8, 1, 28, 28)
    print_diagnosis(result)
    assert "verdict: COLLAPSE (label-free evidence)" in capsys.readouterr().out
    html = label_free_diagnosis_html(result, arrays)
    assert "What the final checkpoint no longer draws" in html and "held-out real" in html
    first = result["checkpoints"][0]  # the healthy checkpoint scores like real data
    assert label_free_verdict([first], result["baseline"])["verdict"] == "healthy"
