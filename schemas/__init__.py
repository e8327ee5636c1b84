"""JSON Schemas for ecocomp input files (installed as package data ``ecocomp.schemas``)."""
