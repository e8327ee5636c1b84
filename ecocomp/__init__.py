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
