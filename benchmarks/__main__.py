"""``python -m benchmarks``: run the suite, print the table, write the figures as JSON.

    python -m benchmarks                 # agreement, city, province, national 5M (< 10 min)
    python -m benchmarks --quick         # agreement and city only (seconds)
    python -m benchmarks --full          # national import at 20M readings instead of 5M
    python -m benchmarks --sizes city,province --out results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.suite import DEFAULT, FULL, QUICK, SIZES, format_table, run_suite


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the suite, print the table; the JSON goes to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="small sizes only")
    group.add_argument("--full", action="store_true", help="national import at 20M readings")
    group.add_argument("--sizes", help=f"comma-separated, from {', '.join(SIZES)}")
    parser.add_argument("--ledger", type=int, default=None,
                        help="ledger transactions (default 100000, 10000 with --quick, 0 = skip)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="fresh runs of each import and settle measurement; the table "
                             "shows the median run and the min (default 3)")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results.json"),
                        help="JSON file for the figures (default benchmark-results.json)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for generated projects and databases (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.sizes:
        sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
        unknown = [s for s in sizes if s not in SIZES]
        if unknown:
            parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    else:
        sizes = list(QUICK if args.quick else FULL if args.full else DEFAULT)
    ledger_n = args.ledger if args.ledger is not None else (10_000 if args.quick else 100_000)
    print(f"ecocomp benchmark suite: {', '.join(sizes)}; every measurement in a fresh process")
    with tempfile.TemporaryDirectory(prefix="ecocomp-bench-") as tmp:
        results = run_suite(sizes, args.work or Path(tmp), ledger_n=ledger_n,
                            repeat=args.repeat)
    print()
    print(format_table(results))
    print(f"\nsuite ran in {results['seconds']:.0f} s; figures written to {args.out}")
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
