"""What is kept on disk: runs, prompt artifacts (and what serves them), the production folder."""
