"""Fuzz targets, the seeded mutator and the corpus (see docs/fuzzing.md)."""
