"""Plumbing with no knowledge of the task: atomic files and locks, hashes, safe paths, secret
redaction, Ctrl-C handling."""
