"""Maintainer tools for the course repository (not part of the grading pipeline)."""
