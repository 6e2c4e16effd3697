"""Cells as graphs: the op registry, the rules a cell obeys, its file format and hash, the zoo,
mutations and diagrams."""
