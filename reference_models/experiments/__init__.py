"""Scripted multi-seed comparisons whose outputs are the tables and pictures of docs/trainer.md."""
