"""The settlement ledger: append-only, double-entry, hash-chained, with Merkle checkpoints.

Generic by design: it knows parties (6-digit GB/T 2260 codes), accounts (party + purpose),
amounts (Decimal yuan, stored as integer fen) and metadata — nothing about water. See
docs/ledger.md for the model, the canonical encoding and how to check a published root.

>>> from datetime import date
>>> from ecocomp.ledger import Ledger, NewTransaction, Transfer
>>> with Ledger.open(":memory:") as ledger:
...     result = ledger.post(NewTransaction(
...         key="demo/2023-01/class", kind="accrual", booked_on=date(2024, 1, 31),
...         transfers=[Transfer.between("430700", "430800", "800000.00", purpose="accrued")]))
...     ledger.verify().ok
True
"""

from typing import TYPE_CHECKING

from ecocomp.errors import (
    IdempotencyConflict,
    LedgerError,
    LedgerIntegrityError,
    UnbalancedTransaction,
)
from ecocomp.exports import lazy
from ecocomp.ledger._store import SCHEMA_VERSION
from ecocomp.ledger.checkpoints import HeadCheck, LedgerHead, catalog_digest
from ecocomp.ledger.hashing import GENESIS, checkpoint_hash, transaction_hash
from ecocomp.ledger.ledger import Batch, Ledger
from ecocomp.ledger.merkle import (
    EMPTY_ROOT,
    ConsistencyProof,
    InclusionProof,
    MerkleTree,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from ecocomp.ledger.model import (
    KINDS,
    Account,
    Checkpoint,
    InvalidTransaction,
    NewTransaction,
    PostResult,
    Statement,
    StatementLine,
    Transaction,
    Transfer,
    canonical_meta,
)
from ecocomp.ledger.verify import VerifyReport

if TYPE_CHECKING:  # loaded on first use below (cryptography)
    from ecocomp.ledger.signing import Signer, load_public_key

__all__ = [
    "EMPTY_ROOT",
    "GENESIS",
    "KINDS",
    "SCHEMA_VERSION",
    "Account",
    "Batch",
    "Checkpoint",
    "ConsistencyProof",
    "HeadCheck",
    "IdempotencyConflict",
    "InclusionProof",
    "InvalidTransaction",
    "Ledger",
    "LedgerError",
    "LedgerHead",
    "LedgerIntegrityError",
    "MerkleTree",
    "NewTransaction",
    "PostResult",
    "Signer",
    "Statement",
    "StatementLine",
    "Transaction",
    "Transfer",
    "UnbalancedTransaction",
    "VerifyReport",
    "canonical_meta",
    "catalog_digest",
    "checkpoint_hash",
    "leaf_hash",
    "load_public_key",
    "merkle_root",
    "node_hash",
    "transaction_hash",
    "verify_consistency",
    "verify_inclusion",
]

# Signer and load_public_key load cryptography: only when asked for (PEP 562)
__getattr__, __dir__ = lazy(__name__, globals(), {"Signer": "ecocomp.ledger.signing",
                                                   "load_public_key": "ecocomp.ledger.signing"})
