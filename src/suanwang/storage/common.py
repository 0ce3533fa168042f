"""What every adapter shares: argument checks, listing cursors and token hashing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from suanwang.control.stores import MAX_KEY_CHARS, MAX_PAGE_SIZE, InvalidCursorError

TOKEN_PREFIX = "swt_"
"""Prefix of every bearer token, so that secret scanners and people can recognise one."""

_CURSOR_TAG = "t1:"
_MAX_SEQ = 2**63 - 1  # the largest submission number both databases can hold


def check_key(idempotency_key: str | None) -> None:
    """Refuse an empty or over-long idempotency key (None is fine).

    Raises:
        ValueError: the key is empty or longer than ``MAX_KEY_CHARS``.
    """
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_CHARS:
        raise ValueError(f"an idempotency key has 1 to {MAX_KEY_CHARS} characters")


def check_limit(limit: int) -> None:
    """Refuse a page size outside 1..``MAX_PAGE_SIZE``.

    Raises:
        ValueError: out of range.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be within 1..{MAX_PAGE_SIZE}, got {limit}")


def encode_cursor(seq: int) -> str:
    """An opaque cursor pointing after the task with submission number ``seq``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The submission number a cursor points after (0 for None, the start).

    Raises:
        InvalidCursorError: the cursor was not made by ``encode_cursor``.
    """
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_CURSOR_TAG):
            raise ValueError(text)
        seq = int(text.removeprefix(_CURSOR_TAG))
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursorError(f"not a listing cursor: {cursor!r}") from exc
    if not 0 <= seq <= _MAX_SEQ:
        raise InvalidCursorError(f"not a listing cursor: {cursor!r}")
    return seq


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
