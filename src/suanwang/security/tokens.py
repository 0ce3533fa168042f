"""Bearer tokens: how one is made and the only form in which it is kept (its hash)."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "swt_"
"""Prefix of every bearer token, so that secret scanners and people can recognise one."""


def new_token() -> tuple[str, str, str]:
    """A fresh bearer token.

    Returns:
        ``(token_id, plaintext, token_hash)``; only the id and the hash are to be stored.
    """
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secrets.token_hex(8), plaintext, hash_token(plaintext)


def hash_token(plaintext: str) -> str:
    """The stored form of a token: hex SHA-256 of its text.

    A plain (unkeyed, fast) hash is enough here because the token carries 256 random bits: no
    dictionary or brute-force search can find a preimage, which is the only thing slow or keyed
    hashes defend against (they exist for low-entropy passwords). A server-side key (pepper)
    would add a secret that must survive restarts and be rotated, for no gain in that case.
    Lookup by the hash also means no per-token comparison loop, so there is no timing side
    channel on the plaintext.
    """
    return hashlib.sha256(plaintext.encode()).hexdigest()
