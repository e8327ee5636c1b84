"""ecocomp: exact, explainable, auditable settlement of watershed ecological compensation.

The public API (everything else is importable but not promised)::

    import ecocomp
    ecocomp.classify({"do": "5.5", "nh3n": "0.45", "tp": "0.12"}, waterbody="river")
    project = ecocomp.load_project("my-project")
    with ecocomp.Ledger.open("settle.db") as ledger:
        result = ecocomp.settle(project, year=2021, ledger=ledger)
        ledger.verify()

``ecocomp.testing`` (hypothesis strategies and the invariant checker for your own formulas)
is imported on demand because it needs hypothesis.
"""

import importlib
from typing import TYPE_CHECKING

from ecocomp.exports import lazy

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name loads on first use
    from ecocomp.agreement_files import load_agreement, load_agreements, preset, presets
    from ecocomp.agreements import Agreement
    from ecocomp.air import AirAssessments, AirStatistics, AirStore, assess_air, attains, iaqi
    from ecocomp.assessment import (
        Assessments,
        ItemAssessment,
        MonthlyAggregate,
        RiverEvaluation,
        SectionAssessment,
        aggregate,
        assess,
        assess_month,
        assess_readings,
        assess_year,
        assessment_table,
        completeness,
        daily_flow_means,
        evaluate_river,
    )
    from ecocomp.classification import Classification, TrophicState, classify, trophic_index
    from ecocomp.errors import (
        AgreementError,
        AssessmentError,
        EcocompError,
        FormulaError,
        IdempotencyConflict,
        InputError,
        LedgerError,
        LedgerIntegrityError,
        Problem,
        SettlementError,
        StandardError,
        UnbalancedTransaction,
        ValidationFailed,
    )
    from ecocomp.evidence import verify_readings
    from ecocomp.formulas import (
        Net,
        Obligation,
        formula_names,
        get_formula,
        net_obligations,
        register_formula,
    )
    from ecocomp.identity import ProjectMismatch
    from ecocomp.ledger import (
        Ledger,
        LedgerHead,
        NewTransaction,
        Signer,
        Transaction,
        Transfer,
        verify_consistency,
        verify_inclusion,
    )
    from ecocomp.money import split_largest_remainder, to_fen, to_yuan
    from ecocomp.periods import Period, Quarter
    from ecocomp.project import Project, check_project, load_project
    from ecocomp.readings import Reading, check_readings, load_readings, read_readings
    from ecocomp.references import normalise_reference
    from ecocomp.reports import build_report, write_report
    from ecocomp.settlement import SettlementResult, pay, reverse_payment, settle
    from ecocomp.standards import (
        WaterClass,
        classify_item,
        exceedance_multiple,
        gb3838,
        parameter,
    )
    from ecocomp.statements import PartyStatement, party_statement
    from ecocomp.store import Correction, ImportResult, ReadingStore
    from ecocomp.watershed import (
        Party,
        Section,
        Watershed,
        load_parties,
        load_sections,
        load_watershed,
        reference_watershed,
    )

#: Where each public name lives: ``ecocomp.X`` imports its module on first use (PEP 562), so
#: ``import ecocomp`` and the command line load only what a command needs.
_EXPORTS: dict[str, str] = {
    "Agreement": "ecocomp.agreements",
    "AgreementError": "ecocomp.errors",
    "AirAssessments": "ecocomp.air",
    "AirStatistics": "ecocomp.air",
    "AirStore": "ecocomp.air",
    "AssessmentError": "ecocomp.errors",
    "Assessments": "ecocomp.assessment",
    "Classification": "ecocomp.classification",
    "Correction": "ecocomp.store",
    "EcocompError": "ecocomp.errors",
    "FormulaError": "ecocomp.errors",
    "IdempotencyConflict": "ecocomp.errors",
    "ImportResult": "ecocomp.store",
    "InputError": "ecocomp.errors",
    "ItemAssessment": "ecocomp.assessment",
    "Ledger": "ecocomp.ledger",
    "LedgerError": "ecocomp.errors",
    "LedgerHead": "ecocomp.ledger",
    "LedgerIntegrityError": "ecocomp.errors",
    "MonthlyAggregate": "ecocomp.assessment",
    "Net": "ecocomp.formulas",
    "NewTransaction": "ecocomp.ledger",
    "Obligation": "ecocomp.formulas",
    "Party": "ecocomp.watershed",
    "PartyStatement": "ecocomp.statements",
    "Period": "ecocomp.periods",
    "Problem": "ecocomp.errors",
    "Project": "ecocomp.project",
    "ProjectMismatch": "ecocomp.identity",
    "Quarter": "ecocomp.periods",
    "Reading": "ecocomp.readings",
    "ReadingStore": "ecocomp.store",
    "RiverEvaluation": "ecocomp.assessment",
    "Section": "ecocomp.watershed",
    "SectionAssessment": "ecocomp.assessment",
    "SettlementError": "ecocomp.errors",
    "SettlementResult": "ecocomp.settlement",
    "Signer": "ecocomp.ledger",
    "StandardError": "ecocomp.errors",
    "Transaction": "ecocomp.ledger",
    "Transfer": "ecocomp.ledger",
    "TrophicState": "ecocomp.classification",
    "UnbalancedTransaction": "ecocomp.errors",
    "ValidationFailed": "ecocomp.errors",
    "WaterClass": "ecocomp.standards",
    "Watershed": "ecocomp.watershed",
    "aggregate": "ecocomp.assessment",
    "assess": "ecocomp.assessment",
    "assess_air": "ecocomp.air",
    "assess_month": "ecocomp.assessment",
    "assess_readings": "ecocomp.assessment",
    "assess_year": "ecocomp.assessment",
    "assessment_table": "ecocomp.assessment",
    "attains": "ecocomp.air",
    "build_report": "ecocomp.reports",
    "check_project": "ecocomp.project",
    "check_readings": "ecocomp.readings",
    "classify": "ecocomp.classification",
    "classify_item": "ecocomp.standards",
    "completeness": "ecocomp.assessment",
    "daily_flow_means": "ecocomp.assessment",
    "evaluate_river": "ecocomp.assessment",
    "exceedance_multiple": "ecocomp.standards",
    "formula_names": "ecocomp.formulas",
    "gb3838": "ecocomp.standards",
    "get_formula": "ecocomp.formulas",
    "iaqi": "ecocomp.air",
    "load_agreement": "ecocomp.agreement_files",
    "load_agreements": "ecocomp.agreement_files",
    "load_parties": "ecocomp.watershed",
    "load_project": "ecocomp.project",
    "load_readings": "ecocomp.readings",
    "load_sections": "ecocomp.watershed",
    "load_watershed": "ecocomp.watershed",
    "net_obligations": "ecocomp.formulas",
    "normalise_reference": "ecocomp.references",
    "parameter": "ecocomp.standards",
    "party_statement": "ecocomp.statements",
    "pay": "ecocomp.settlement",
    "preset": "ecocomp.agreement_files",
    "presets": "ecocomp.agreement_files",
    "read_readings": "ecocomp.readings",
    "reference_watershed": "ecocomp.watershed",
    "register_formula": "ecocomp.formulas",
    "reverse_payment": "ecocomp.settlement",
    "settle": "ecocomp.settlement",
    "split_largest_remainder": "ecocomp.money",
    "to_fen": "ecocomp.money",
    "to_yuan": "ecocomp.money",
    "trophic_index": "ecocomp.classification",
    "verify_consistency": "ecocomp.ledger",
    "verify_inclusion": "ecocomp.ledger",
    "verify_readings": "ecocomp.evidence",
    "write_report": "ecocomp.reports",
}


__getattr__, __dir__ = lazy(__name__, globals(), _EXPORTS)

# ``ecocomp.presets`` is a public function and also the package of the shipped agreement files.
# Importing a subpackage binds it on its parent, which would hide the lazy function once
# anything loads the files (loading an agreement does). So the package (one frozenset) is
# loaded now and its binding dropped: ``ecocomp.presets`` stays the function, as it was
# before names loaded lazily, and ``import ecocomp.presets`` still finds the package.
importlib.import_module("ecocomp.presets")
globals().pop("presets", None)  # (absent when the package is reloaded)

__version__ = "0.1.0.dev0"

__all__ = [
    "Agreement",
    "AgreementError",
    "AirAssessments",
    "AirStatistics",
    "AirStore",
    "AssessmentError",
    "Assessments",
    "Classification",
    "Correction",
    "EcocompError",
    "FormulaError",
    "IdempotencyConflict",
    "ImportResult",
    "InputError",
    "ItemAssessment",
    "Ledger",
    "LedgerError",
    "LedgerHead",
    "LedgerIntegrityError",
    "MonthlyAggregate",
    "Net",
    "NewTransaction",
    "Obligation",
    "Party",
    "PartyStatement",
    "Period",
    "Problem",
    "Project",
    "ProjectMismatch",
    "Quarter",
    "Reading",
    "ReadingStore",
    "RiverEvaluation",
    "Section",
    "SectionAssessment",
    "SettlementError",
    "SettlementResult",
    "Signer",
    "StandardError",
    "Transaction",
    "Transfer",
    "TrophicState",
    "UnbalancedTransaction",
    "ValidationFailed",
    "WaterClass",
    "Watershed",
    "__version__",
    "aggregate",
    "assess",
    "assess_air",
    "assess_month",
    "assess_readings",
    "assess_year",
    "assessment_table",
    "attains",
    "build_report",
    "check_project",
    "check_readings",
    "classify",
    "classify_item",
    "completeness",
    "daily_flow_means",
    "evaluate_river",
    "exceedance_multiple",
    "formula_names",
    "gb3838",
    "get_formula",
    "iaqi",
    "load_agreement",
    "load_agreements",
    "load_parties",
    "load_project",
    "load_readings",
    "load_sections",
    "load_watershed",
    "net_obligations",
    "normalise_reference",
    "parameter",
    "party_statement",
    "pay",
    "preset",
    "presets",
    "read_readings",
    "reference_watershed",
    "register_formula",
    "reverse_payment",
    "settle",
    "split_largest_remainder",
    "to_fen",
    "to_yuan",
    "trophic_index",
    "verify_consistency",
    "verify_inclusion",
    "verify_readings",
    "write_report",
]
