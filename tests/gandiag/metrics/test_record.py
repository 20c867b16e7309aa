"""The metric record: one registration per metric (name, metadata, step, options, rows, summary)."""
import dataclasses
import importlib
import textwrap
import warnings

import numpy as np
import pytest

from gandiag.errors import GandiagError
from gandiag.metrics import (METRICS, Metric, Row, canonical_name, canonical_results, default_metrics, get_metric,
                             get_metric_info, register_metric)
from gandiag.options import Option

EXPECTED = {"fid", "fid-inf", "is", "kid", "prdc", "parzen", "modes", "neighbours", "mnist-is", "mnist-fid"}
FORMER = {"inception_score": "is", "mnist_fid": "mnist-fid", "fid_inf": "fid-inf", "mnist_inception_score": "mnist-is"}


def test_registry_contents_and_directions():
    assert EXPECTED <= set(METRICS.names())
    assert get_metric_info("fid").higher_is_better is False
    assert get_metric_info("is").higher_is_better is True and get_metric_info("is").lower_bound == 1.0
    assert [p.name for p in get_metric("prdc").parts] == ["precision", "recall", "density", "coverage"]
    assert get_metric_info("recall").upper_bound == 1.0 and get_metric_info("density").upper_bound is None
    for name in METRICS.names():
        m = get_metric(name)
        assert m.name == name and m.title and m.description and m.paper and m.feature_space
        assert callable(m.run) and m.rows is not None and m.summary is not None
        # Every record points at a real public function.
        module, _, attr = m.function.rpartition(".")
        assert module.startswith("gandiag.metrics") and callable(getattr(importlib.import_module(module), attr))


def test_default_metrics_per_domain_keep_their_order():
    assert default_metrics("mnist") == ["mnist-fid", "mnist-is", "modes", "kid", "prdc", "parzen", "neighbours"]
    assert default_metrics("natural") == ["fid", "is", "kid", "prdc"]


def test_former_names_are_aliases_that_warn():
    for old, new in FORMER.items():
        with pytest.warns(FutureWarning, match=f"'{old}' is deprecated; use '{new}'"):
            assert canonical_name(old) == new
    with pytest.warns(FutureWarning, match="keys renamed: .mnist_fid. is the former name of .mnist-fid."):
        assert canonical_results({"mnist_fid": {"value": 1.0}, "kid": {}}) == {"mnist-fid": {"value": 1.0}, "kid": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert canonical_name("mnist-is") == "mnist-is"  # the one name never warns


def test_frozen_duplicates_and_bad_records_refused():
    kid = get_metric("kid")
    with pytest.raises(dataclasses.FrozenInstanceError):
        kid.name = "x"
    with pytest.raises(GandiagError, match="metric 'kid' is already registered"):
        register_metric(kid)
    with pytest.raises(GandiagError, match="unknown metric 'fidd'; valid values are: .*fid, fid-inf, .*kid"):
        get_metric("fidd")
    with pytest.raises(GandiagError, match="invalid metric name"):
        register_metric(dataclasses.replace(kid, name="Bad Name", aliases=(), options=()))
    with pytest.raises(GandiagError, match="alias 'mnist_fid' is already taken by 'mnist-fid'"):
        register_metric(dataclasses.replace(kid, name="kid2", aliases=("mnist_fid",), options=()))
    with pytest.raises(GandiagError, match="unknown default_for"):
        register_metric(dataclasses.replace(kid, name="kid3", default_for=("cifar",), options=()))
    with pytest.raises(GandiagError, match="registered after EvaluateOptions was assembled"):
        import gandiag.evaluation  # noqa: F401  (assembles EvaluateOptions)
        register_metric(dataclasses.replace(kid, name="kid4", options=(Option("kid4_x", int, 1, "x"),)))
    assert not {"kid2", "kid3", "kid4", "Bad Name"} & set(METRICS.names())


def test_every_metric_option_is_an_evaluate_option():
    from gandiag.evaluation import EvaluateOptions

    fields = {f.name: f for f in dataclasses.fields(EvaluateOptions)}
    for name in METRICS.names():
        for opt in get_metric(name).options:
            assert fields[opt.name].default == opt.default and fields[opt.name].metadata["help"] == opt.help
    with pytest.raises(TypeError, match="unexpected keyword argument 'kid_subset'"):
        EvaluateOptions(kid_subset=3)


def test_a_plug_in_metric_runs_without_touching_gandiag(tmp_path):
    """A record registered from outside the package is evaluated, reported and summarised."""
    from gandiag.commands._summary import metric_lines
    from gandiag.data import ImageSet
    from gandiag.evaluation import EvaluateOptions, evaluate
    from gandiag.report.html import evaluation_html

    def run(ctx):
        return {"value": float(ctx.fake.images.mean() - ctx.ref.images.mean()), "seed": ctx.options.seed}

    metric = Metric("test-mean-gap", "Mean brightness gap", None, None, "difference of mean pixel values",
                    "none", run=run, feature_space="pixels",
                    rows=lambda r: [Row("test-mean-gap", f"{r['value']:.4f}", "", "pixels")],
                    summary=lambda r: f"mean gap {r['value']:.4f}")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "ref.npz", images=rng.random((20, 1, 8, 8), dtype=np.float32))
    fake = ImageSet(np.full((10, 1, 8, 8), 0.75, np.float32), None, "constant")
    register_metric(metric)
    try:
        ev = evaluate(fake, EvaluateOptions(metrics=("test-mean-gap",), ref=str(tmp_path / "ref.npz"), seed=3))
        expected = 0.75 - float(np.load(tmp_path / "ref.npz")["images"].mean())
        assert ev.metrics["test-mean-gap"] == {"value": pytest.approx(expected), "seed": 3}
        assert metric_lines(ev.metrics) == [f"mean gap {expected:.4f}"]
        page = evaluation_html(ev)
        assert "Mean brightness gap" in page and "Other results" not in page
    finally:
        METRICS._entries.pop("test-mean-gap", None)


def test_docs_metric_table_is_generated_from_the_registry():
    from pathlib import Path

    from gandiag.metrics.record import metric_table_markdown

    docs = (Path(__file__).resolve().parents[3] / "docs" / "metrics.md").read_text()
    table = metric_table_markdown()
    assert table in docs, "regenerate the table in docs/metrics.md: python -m gandiag.metrics"
    for name in METRICS.names():
        assert f"| `{name}`" in table


def test_docs_plugins_example_metric_runs(tmp_path):
    """docs/plugins.md's example record, registered before EvaluateOptions is assembled, works end to end."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[3] / "docs" / "plugins.md").read_text()
    example = re.search(r"```python\n(.*?)```", docs, re.S).group(1)
    example = example.replace("from ..options", "from gandiag.options").replace("from .record", "from gandiag.metrics.record")
    script = example + textwrap.dedent(f'''
        import numpy as np
        from gandiag.data import ImageSet
        from gandiag.evaluation import EvaluateOptions, evaluate
        np.savez({str(tmp_path / "ref.npz")!r}, images=np.full((8, 1, 8, 8), 0.25, np.float32))
        fake = ImageSet(np.full((6, 1, 8, 8), 0.75, np.float32), None, "bright")
        ev = evaluate(fake, EvaluateOptions(metrics=("brightness-gap",), ref={str(tmp_path / "ref.npz")!r},
                                            gap_max_images=4))
        assert abs(ev.metrics["brightness-gap"]["value"] - 0.5) < 1e-6 and ev.metrics["brightness-gap"]["num_fake"] == 4
        print("ok")
    ''')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
