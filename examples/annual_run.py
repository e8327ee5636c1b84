"""A scripted annual settlement run with the Python API (import-first).

Run it from anywhere:  python examples/annual_run.py [PROJECT] [--db FILE] [--year 2021]

It validates the bundled example project (or yours), settles the year into a SQLite file,
prints each agreement's net and why, verifies the ledger, publishes a Merkle checkpoint,
checks one party's first obligation against that root with a standalone proof (what a county
does with the province's published root), and writes the HTML report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import ecocomp
from ecocomp.ledger import verify_inclusion

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", default=str(HERE / "hunan-2021"))
    parser.add_argument("--db", default="annual-run.db")
    parser.add_argument("--year", type=int, default=2021)
    parser.add_argument("--report", default="annual-run.html")
    args = parser.parse_args(argv)

    problems = ecocomp.check_project(args.project)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    project = ecocomp.load_project(args.project)

    with ecocomp.Ledger.open(args.db) as ledger:
        result = ecocomp.settle(project, year=args.year, ledger=ledger)
        print(f"{args.year}: posted {result.posted}, unchanged {result.unchanged}, "
              f"adjusted {result.adjusted}")
        for net in result.nets:
            payer, payee = project.parties[net.payer].name, project.parties[net.payee].name
            print(f"  {net.agreement}: {payer} pays {payee} {net.amount:,.2f} yuan by {net.due}")

        report = ledger.verify()
        if not report.ok:
            print(f"ledger verify failed at #{report.first_bad_seq}: {report.reason}")
            return 1
        checkpoint = ledger.checkpoint()
        print(f"ledger verified ({report.count} transactions); published root "
              f"{checkpoint.root[:16]}… at #{checkpoint.seq}")

        # A county checks its first obligation against the published root, without the ledger.
        first = next(o for o in result.obligations if o.amount > 0)
        key = f"{first.agreement}/{first.period}/{first.component}"
        proof = ledger.inclusion_proof(key, checkpoint.seq).to_json()  # what the county gets
        included = verify_inclusion(
            proof["leaf_hash"], proof["index"], proof["tree_size"], proof["path"],
            checkpoint.root,  # the root the province published
        )
        print(f"  {key}: {first.amount:,.2f} yuan — {first.basis['explanation']}")
        print(f"  inclusion proof against the published root: {'valid' if included else 'INVALID'}")

    ecocomp.write_report(args.db, args.year, args.report)
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
