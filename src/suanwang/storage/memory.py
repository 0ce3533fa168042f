"""In-memory stores: the fakes next to the SQL adapters, for tests, the twin and ``memory://``.

They keep the ports' contracts within one process (one lock each, so every method is atomic) and
lose everything when the process ends.
"""

from __future__ import annotations

import builtins
import threading
import time
from dataclasses import dataclass

from suanwang.control.stores import (
    AuditEntry,
    IssuedToken,
    NotFoundError,
    Principal,
    PrincipalExistsError,
    TaskExistsError,
    TaskPage,
    TokenInfo,
    check_key,
    check_update,
)
from suanwang.model import Task, TaskState
from suanwang.security.tokens import hash_token, new_token
from suanwang.storage.common import check_limit, decode_cursor, encode_cursor


def _matches(
    task: Task,
    tenant: str | None,
    state: TaskState | None,
    task_type: str | None,
    id_prefix: str | None,
) -> bool:
    """Whether a task passes a listing's filters (None: any)."""
    return (
        (tenant is None or task.tenant == tenant)
        and (state is None or task.state is state)
        and (task_type is None or task.spec.task_type == task_type)
        and (id_prefix is None or task.id.startswith(id_prefix))
    )


class MemoryTaskStore:
    """A ``TaskStore`` in a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._seq: dict[str, int] = {}
        self._by_key: dict[tuple[str, str], str] = {}

    def add(self, task: Task, idempotency_key: str | None = None) -> tuple[Task, bool]:
        """See ``TaskStore.add``."""
        check_key(idempotency_key)
        with self._lock:
            if idempotency_key is not None:
                existing = self._by_key.get((task.tenant, idempotency_key))
                if existing is not None:
                    return self._tasks[existing], False
            if task.id in self._tasks:
                raise TaskExistsError(f"task {task.id!r} already exists")
            self._tasks[task.id] = task
            self._seq[task.id] = len(self._seq) + 1
            if idempotency_key is not None:
                self._by_key[(task.tenant, idempotency_key)] = task.id
            return task, True

    def get(self, task_id: str, tenant: str | None = None) -> Task | None:
        """See ``TaskStore.get``."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or (tenant is not None and task.tenant != tenant):
            return None
        return task

    def list(
        self,
        tenant: str | None = None,
        state: TaskState | None = None,
        task_type: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        *,
        newest_first: bool = False,
        id_prefix: str | None = None,
    ) -> TaskPage:
        """See ``TaskStore.list``."""
        check_limit(limit)
        seq = decode_cursor(cursor)
        with self._lock:
            # Dicts keep insertion order, which is submission order here.
            matching = [
                (self._seq[task.id], task)
                for task in self._tasks.values()
                if _matches(task, tenant, state, task_type, id_prefix)
            ]
        if newest_first:
            matching.reverse()
            # A cursor points before the last task listed; none starts at the newest.
            matching = [m for m in matching if cursor is None or m[0] < seq]
        else:
            matching = [m for m in matching if m[0] > seq]
        page = matching[:limit]
        more = len(matching) > limit
        return TaskPage(
            tuple(task for _, task in page), encode_cursor(page[-1][0]) if more else None
        )

    def count(
        self,
        tenant: str | None = None,
        state: TaskState | None = None,
        task_type: str | None = None,
        *,
        id_prefix: str | None = None,
    ) -> int:
        """See ``TaskStore.count``."""
        with self._lock:
            tasks = list(self._tasks.values())
        return sum(_matches(task, tenant, state, task_type, id_prefix) for task in tasks)

    def update(self, task: Task) -> Task:
        """See ``TaskStore.update``."""
        with self._lock:
            stored = self._tasks.get(task.id)
            if stored is None:
                raise NotFoundError(f"task {task.id!r} does not exist")
            check_update(stored, task)
            self._tasks[task.id] = task
            return task

    def non_terminal(self) -> builtins.list[Task]:
        """See ``TaskStore.non_terminal``."""
        with self._lock:
            return [task for task in self._tasks.values() if not task.state.is_terminal]


@dataclass(slots=True)
class _Token:
    principal_id: str
    token_hash: str
    created_at_s: float
    expires_at_s: float | None
    revoked: bool = False

    def info(self, token_id: str) -> TokenInfo:
        return TokenInfo(
            token_id, self.principal_id, self.created_at_s, self.expires_at_s, self.revoked
        )


class MemoryPrincipalStore:
    """A ``PrincipalStore`` in dicts; tokens are kept hashed, as in the SQL adapter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._principals: dict[str, Principal] = {}
        self._tokens: dict[str, _Token] = {}
        self._by_hash: dict[str, str] = {}

    def add_principal(self, principal: Principal) -> None:
        """See ``PrincipalStore.add_principal``."""
        with self._lock:
            if principal.id in self._principals:
                raise PrincipalExistsError(f"principal {principal.id!r} already exists")
            self._principals[principal.id] = principal

    def get_principal(self, principal_id: str) -> Principal | None:
        """See ``PrincipalStore.get_principal``."""
        with self._lock:
            return self._principals.get(principal_id)

    def principals(self, tenant: str | None = None) -> builtins.list[Principal]:
        """See ``PrincipalStore.principals``."""
        with self._lock:
            found = [p for p in self._principals.values() if tenant is None or p.tenant == tenant]
        return sorted(found, key=lambda p: p.id)

    def create_token(self, principal_id: str, expires_at_s: float | None = None) -> IssuedToken:
        """See ``PrincipalStore.create_token``."""
        token_id, plaintext, token_hash = new_token()
        with self._lock:
            if principal_id not in self._principals:
                raise NotFoundError(f"principal {principal_id!r} does not exist")
            self._tokens[token_id] = _Token(principal_id, token_hash, time.time(), expires_at_s)
            self._by_hash[token_hash] = token_id
        return IssuedToken(token_id, principal_id, plaintext)

    def authenticate(self, plaintext: str) -> Principal | None:
        """See ``PrincipalStore.authenticate``."""
        token_hash = hash_token(plaintext)
        with self._lock:
            token_id = self._by_hash.get(token_hash)
            token = None if token_id is None else self._tokens[token_id]
            if token is None or token.revoked or token.info("").expired(time.time()):
                return None
            return self._principals.get(token.principal_id)

    def token_of(self, plaintext: str) -> TokenInfo | None:
        """See ``PrincipalStore.token_of``."""
        with self._lock:
            token_id = self._by_hash.get(hash_token(plaintext))
            return None if token_id is None else self._tokens[token_id].info(token_id)

    def tokens(self, principal_id: str | None = None) -> builtins.list[TokenInfo]:
        """See ``PrincipalStore.tokens``."""
        with self._lock:
            found = [
                token.info(token_id)
                for token_id, token in self._tokens.items()
                if principal_id is None or token.principal_id == principal_id
            ]
        return sorted(found, key=lambda t: (t.created_at_s or 0.0, t.token_id))

    def revoke(self, token_id: str) -> bool:
        """See ``PrincipalStore.revoke``."""
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None or token.revoked:
                return False
            token.revoked = True
            return True


class MemoryAuditLog:
    """An ``AuditLog`` in a list."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: builtins.list[AuditEntry] = []

    def append(self, who: str, action: str, target: str, detail: str, at_s: float) -> AuditEntry:
        """See ``AuditLog.append``."""
        with self._lock:
            entry = AuditEntry(len(self._entries) + 1, at_s, who, action, target, detail)
            self._entries.append(entry)
            return entry

    def list(
        self, limit: int = 100, since_s: float | None = None, after_seq: int | None = None
    ) -> builtins.list[AuditEntry]:
        """See ``AuditLog.list``."""
        check_limit(limit)
        with self._lock:
            # seq is the 1-based position, so the entries after ``after_seq`` start there.
            tail = self._entries[max(after_seq or 0, 0) :]
        return [e for e in tail if since_s is None or e.at_s >= since_s][:limit]
