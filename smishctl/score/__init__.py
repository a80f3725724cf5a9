"""Scoring predictions: metrics, robustness, must-pass sets, paired statistics, gates and the rows
every comparison shows."""
