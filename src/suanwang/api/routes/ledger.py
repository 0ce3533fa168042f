"""The audit ledger (admins): the latest signed tree head, inclusion and consistency proofs.

Hashes and signatures are hex. A client checks an inclusion proof with the RFC 9162 §2.1.3.2
algorithm against the head's root, and the head's Ed25519 signature with the ledger's public
key (``public_key`` in the head answer; an auditor compares it with a copy kept elsewhere).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from suanwang.api.auth import allow
from suanwang.api.deps import PlaneDep
from suanwang.api.problems import ApiError
from suanwang.control.ledgerstore import SignedHead
from suanwang.control.stores import Principal, Role
from suanwang.ledger import Ledger, LedgerError
from suanwang.security.keys import raw_public_bytes

router = APIRouter(tags=["ledger"])

Admin = Annotated[Principal, Depends(allow(Role.ADMIN))]
_MAX_SIZE = 2**63 - 1


class HeadOut(BaseModel):
    """A signed tree head."""

    tree_size: int
    root_hash: str
    timestamp_ms: int
    key_id: str
    signature: str
    public_key: str

    @classmethod
    def of(cls, head: SignedHead, ledger: Ledger) -> HeadOut:
        """From the record, with the ledger's public key."""
        return cls(
            tree_size=head.size,
            root_hash=head.root.hex(),
            timestamp_ms=head.timestamp_ms,
            key_id=head.key_id,
            signature=head.signature.hex(),
            public_key=raw_public_bytes(ledger.public_key).hex(),
        )


class InclusionOut(BaseModel):
    """An inclusion proof of one audit entry under a head."""

    seq: int
    leaf_index: int
    leaf_hash: str
    audit_path: list[str]
    head: HeadOut


class ConsistencyOut(BaseModel):
    """A consistency proof between two tree sizes."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str]


def _ledger(plane: PlaneDep) -> Ledger:
    if plane.ledger is None:
        raise ApiError(404, "this server keeps no ledger (SUANWANG_LEDGER_SYNC_S=0)")
    return plane.ledger.ledger


@router.get("/v1/ledger/head", operation_id="getLedgerHead")
def get_head(plane: PlaneDep, _: Admin) -> HeadOut:
    """The latest signed tree head of the audit ledger."""
    ledger = _ledger(plane)
    head = ledger.head()
    if head is None:
        raise ApiError(404, "the ledger has no signed head yet")
    return HeadOut.of(head, ledger)


@router.get("/v1/ledger/proofs/inclusion", operation_id="getLedgerInclusionProof")
def get_inclusion(
    plane: PlaneDep, _: Admin, seq: Annotated[int, Query(ge=1, le=_MAX_SIZE)]
) -> InclusionOut:
    """Proof that audit entry ``seq`` is in the tree under the latest head."""
    ledger = _ledger(plane)
    try:
        proof = ledger.prove(seq)
    except LedgerError as exc:
        raise ApiError(404, str(exc)) from None
    return InclusionOut(
        seq=proof.seq,
        leaf_index=proof.index,
        leaf_hash=proof.leaf_hash.hex(),
        audit_path=[p.hex() for p in proof.path],
        head=HeadOut.of(proof.head, ledger),
    )


@router.get("/v1/ledger/proofs/consistency", operation_id="getLedgerConsistencyProof")
def get_consistency(
    plane: PlaneDep,
    _: Admin,
    old: Annotated[int, Query(ge=0, le=_MAX_SIZE)],
    new: Annotated[int | None, Query(ge=0, le=_MAX_SIZE)] = None,
) -> ConsistencyOut:
    """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new`` (default: all)."""
    try:
        proof = _ledger(plane).consistency(old, new)
    except LedgerError as exc:
        raise ApiError(422, str(exc)) from None
    return ConsistencyOut(
        old_size=proof.old_size,
        new_size=proof.new_size,
        old_root=proof.old_root.hex(),
        new_root=proof.new_root.hex(),
        proof=[p.hex() for p in proof.path],
    )
