"""Inception numbers carry their protocol and the unpublished-weights marker in report rows and the summary."""
from gandiag.commands._summary import metric_lines
from gandiag.report.html import _metric_table

RESULT = {"fid": {"value": 12.5, "extractor": "inception-v3-fid", "num_fake": 100, "num_real": 100,
                  "protocol": "clean", "weights_marker": "unpublished weights"},
          "is": {"mean": 3.2, "std": 0.1, "splits": 10, "extractor": "inception-v3-fid", "protocol": "clean"}}


def test_report_rows_show_protocol_and_marker():
    html = _metric_table(RESULT)
    fid_row = html[html.index("<code>fid</code>"):html.index("<code>is</code>")]
    assert "protocol clean" in fid_row and "unpublished weights" in fid_row
    assert "protocol clean" in html[html.index("<code>is</code>"):]


def test_summary_lines_show_protocol_and_marker():
    lines = metric_lines(RESULT)
    fid = next(line for line in lines if line.startswith("FID"))
    assert "[protocol clean]" in fid and "[unpublished weights]" in fid
    assert "[protocol clean]" in next(line for line in lines if "Inception Score" in line)
