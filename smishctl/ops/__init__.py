"""The operations the CLI and the Python API run: evaluate, optimize, compare, promote, classify,
review, merge, must-pass checks, project set-up."""
