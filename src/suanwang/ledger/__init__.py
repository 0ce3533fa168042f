"""The tamper-evident ledger: the audit log checkpointed into a signed Merkle log (RFC 9162 shape).

``merkle`` holds the pure hashing and proof algorithms; ``heads`` the signed tree heads, the
canonical encoding of audit entries and witness files; ``log`` the use-cases (sync; prove in
``proofs``, verify in ``verify``) over the ``control.ledgerstore.LedgerStore`` port, which
``suanwang.storage`` implements.
"""

from suanwang.ledger.heads import Witness, read_witness, write_witness
from suanwang.ledger.log import Ledger
from suanwang.ledger.proofs import ConsistencyProof, InclusionProof, LedgerError
from suanwang.ledger.verify import VerifyReport

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "Ledger",
    "LedgerError",
    "VerifyReport",
    "Witness",
    "read_witness",
    "write_witness",
]
