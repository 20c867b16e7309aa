"""``python -m gandiag.metrics``: print docs/metrics.md's metric table, generated from the registry."""
from .record import metric_table_markdown

print(metric_table_markdown())
