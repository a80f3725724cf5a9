"""Renderings of a comparison: terminal (rich), Markdown, JUnit XML, JSON and one self-contained HTML page."""
