"""The compiled parts: ledger verify's fast path (ecocomp/ledger/_scanc.c) and the readings
import's insert (ecocomp/_bulkc.c).

Everything else is in pyproject.toml. Both extensions are optional: where one cannot be
built (no C compiler, no OpenSSL headers), the install goes on and that part runs in
Python, with the same results, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecocomp.ledger._scanc",
            ["ecocomp/ledger/_scanc.c"],
            libraries=["crypto"],
            depends=["ecocomp/_sqlite_dl.h"],
            optional=True,
        ),
        Extension(
            "ecocomp._bulkc",
            ["ecocomp/_bulkc.c"],
            depends=["ecocomp/_sqlite_dl.h"],
            optional=True,
        ),
    ]
)
