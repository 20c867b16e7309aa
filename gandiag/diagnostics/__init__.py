"""Diagnostics built on the metric core: data copying and mode collapse over training."""
from .collapse import CheckpointSummary, vanished_classes, verdict
from .memorization import copy_score

__all__ = ["copy_score", "CheckpointSummary", "verdict", "vanished_classes"]
