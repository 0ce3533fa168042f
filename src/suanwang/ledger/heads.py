"""Signed tree heads, the canonical encoding of audit entries, and witness files.

A head signs ``HEAD_TAG || size (8 bytes, big-endian) || root (32) || timestamp_ms (8)`` with
the ledger's Ed25519 key. An audit entry's leaf data is the UTF-8 JSON array ``[tag, seq, at_s,
who, action, target, detail]`` with no spaces (floats as Python's shortest round-trip repr), so
a change to any field changes its leaf hash. A witness file is one head as JSON, kept by someone
outside the server: a later tree that is not an extension of it proves tampering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from suanwang.control.ledgerstore import SignedHead
from suanwang.control.stores import AuditEntry
from suanwang.security.keys import KeyPair, key_id_of, raw_public_bytes

HEAD_TAG = b"suanwang.ledger.head.v1\x00"
ENTRY_TAG = "suanwang.audit.v1"
WITNESS_FORMAT = "suanwang.ledger.witness.v1"


def encode_entry(entry: AuditEntry) -> bytes:
    """The leaf data of one audit entry (canonical: equal entries, equal bytes)."""
    fields = [ENTRY_TAG, entry.seq, entry.at_s, entry.who, entry.action, entry.target, entry.detail]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def head_message(size: int, root: bytes, timestamp_ms: int) -> bytes:
    """The bytes a head's signature covers."""
    return HEAD_TAG + size.to_bytes(8, "big") + root + timestamp_ms.to_bytes(8, "big")


def sign_head(key: KeyPair, size: int, root: bytes, timestamp_ms: int) -> SignedHead:
    """A head of ``size`` leaves with ``root``, signed with ``key``."""
    signature = key.sign(head_message(size, root, timestamp_ms))
    return SignedHead(size, root, timestamp_ms, key.key_id, signature)


def head_signed_by(head: SignedHead, public_key: Ed25519PublicKey) -> bool:
    """Whether ``head`` carries a valid signature of ``public_key`` (key id included)."""
    if head.key_id != key_id_of(public_key):
        return False
    try:
        public_key.verify(head.signature, head_message(head.size, head.root, head.timestamp_ms))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Witness:
    """A signed head kept outside the server, with the public key it was checked against."""

    head: SignedHead
    public_key: bytes


def head_to_json(head: SignedHead) -> dict[str, Any]:
    """A head as JSON fields (hashes and signature in hex)."""
    return {
        "tree_size": head.size,
        "root_hash": head.root.hex(),
        "timestamp_ms": head.timestamp_ms,
        "key_id": head.key_id,
        "signature": head.signature.hex(),
    }


def head_from_json(data: dict[str, Any]) -> SignedHead:
    """The head ``head_to_json`` wrote.

    Raises:
        ValueError: a field is missing or malformed.
    """
    try:
        return SignedHead(
            int(data["tree_size"]),
            bytes.fromhex(str(data["root_hash"])),
            int(data["timestamp_ms"]),
            str(data["key_id"]),
            bytes.fromhex(str(data["signature"])),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a signed tree head: {exc}") from exc


def write_witness(head: SignedHead, public_key: Ed25519PublicKey, path: str | Path) -> Path:
    """Write a witness file (JSON) of ``head`` and return its path."""
    out = Path(path)
    data = {
        "format": WITNESS_FORMAT,
        **head_to_json(head),
        "public_key": raw_public_bytes(public_key).hex(),
    }
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return out


def read_witness(path: str | Path) -> Witness:
    """Read a witness file.

    Raises:
        ValueError: the file is not a witness.
        OSError: it cannot be read.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != WITNESS_FORMAT:
        raise ValueError(f"{path}: not a ledger witness file ({WITNESS_FORMAT})")
    return Witness(head_from_json(data), bytes.fromhex(str(data.get("public_key", ""))))
