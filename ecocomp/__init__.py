"""ecocomp: exact, explainable, auditable settlement of watershed ecological compensation."""

__version__ = "0.1.0.dev0"
