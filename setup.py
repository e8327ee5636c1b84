"""The one compiled part: ledger verify's fast path (ecocomp/ledger/_scanc.c).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built
(no C compiler, no OpenSSL headers), the install goes on and `ledger verify` runs its
Python scan, which gives the same verdicts, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecocomp.ledger._scanc",
            ["ecocomp/ledger/_scanc.c"],
            libraries=["crypto"],
            optional=True,
        )
    ]
)
