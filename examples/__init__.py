"""Bundled example settlement projects (installed as ``ecocomp.examples``)."""
