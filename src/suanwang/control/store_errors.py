"""The errors and limits every store port shares (``stores`` re-exports them).

An adapter raises these on purpose, so that callers (the plane, the API) can tell a clash
(``ConflictError``, HTTP 409), an absent record (``NotFoundError``) and a transient outage
(``StoreUnavailableError``) apart whichever database is behind the port.
"""

from __future__ import annotations

MAX_KEY_CHARS = 255
"""Longest idempotency key, task id, tenant or principal id a store accepts."""

MAX_PAGE_SIZE = 1000
"""Most tasks (or audit entries) one listing call returns."""


class StoreError(Exception):
    """Base of the errors a store raises on purpose."""


class ConflictError(StoreError):
    """The write clashes with what is stored (an HTTP API answers 409)."""


class TaskExistsError(ConflictError):
    """A task with this id is already stored (and the call carried no matching key)."""


class StaleTaskError(ConflictError):
    """An update was based on an older version of the task than the stored one."""


class PrincipalExistsError(ConflictError):
    """A principal with this id is already stored."""


class NotFoundError(StoreError, LookupError):
    """The record named does not exist (or belongs to another tenant)."""


class InvalidCursorError(StoreError, ValueError):
    """A listing cursor was not one this store handed out."""


class StoreUnavailableError(StoreError):
    """The backing database cannot be reached or refused the operation for a transient reason."""


def check_key(idempotency_key: str | None) -> None:
    """Refuse an empty or over-long idempotency key (None is fine).

    Raises:
        ValueError: the key is empty or longer than ``MAX_KEY_CHARS``.
    """
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_CHARS:
        raise ValueError(f"an idempotency key has 1 to {MAX_KEY_CHARS} characters")
