"""What every adapter shares: page-size checks and listing cursors.

The idempotency-key check is the ports' (``control.stores.check_key``); token hashing is
``security.tokens``.
"""

from __future__ import annotations

import base64
import binascii

from suanwang.control.stores import MAX_PAGE_SIZE, InvalidCursorError

_CURSOR_TAG = "t1:"
_MAX_SEQ = 2**63 - 1  # the largest submission number both databases can hold


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
