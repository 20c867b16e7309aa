"""Memorization / data-copying score: :func:`gandiag.metrics.copying.copy_score` (re-exported here).

The math is pure and lives with the other metrics; this name stays for existing imports.
"""
from ..metrics.copying import copy_score

__all__ = ["copy_score"]
