"""The PrincipalStore and AuditLog contracts, run against every adapter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from suanwang.control.stores import (
    AuditEntry,
    AuditLog,
    NotFoundError,
    Principal,
    PrincipalExistsError,
    PrincipalStore,
    Role,
    TaskStore,
)
from suanwang.security.tokens import TOKEN_PREFIX, hash_token
from suanwang.storage import Stores
from suanwang.storage.tables import TokenRow

# Tests that look into the database itself (the in-memory stores have none).
SQL_ONLY = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
AGENT = Principal(
    "agent-7",
    "provider-x",
    frozenset({Role.AGENT, Role.PROVIDER}),
    node_ids=frozenset({"node-1", "node-2"}),
    agent_key_id="ed25519:ab12",
)


def test_every_adapter_implements_the_ports(stores: Stores) -> None:
    assert isinstance(stores.tasks, TaskStore)
    assert isinstance(stores.principals, PrincipalStore)
    assert isinstance(stores.audit, AuditLog)


def test_principals_read_back_equal(stores: Stores) -> None:
    stores.principals.add_principal(AGENT)
    stores.principals.add_principal(ALICE)
    assert stores.principals.get_principal("agent-7") == AGENT
    assert stores.principals.get_principal("nobody") is None
    assert stores.principals.principals() == [AGENT, ALICE]
    assert stores.principals.principals("acme") == [ALICE]
    with pytest.raises(PrincipalExistsError):
        stores.principals.add_principal(ALICE)


@pytest.mark.parametrize(
    ("principal_id", "tenant", "roles"),
    [("", "t", {Role.ADMIN}), ("p", "", {Role.ADMIN}), ("p", "t", set()), ("p" * 256, "t", {})],
)
def test_incomplete_principals_are_refused(
    principal_id: str, tenant: str, roles: set[Role]
) -> None:
    with pytest.raises(ValueError, match="principal"):
        Principal(principal_id, tenant, frozenset(roles))


def test_tokens_authenticate_until_revoked(stores: Stores) -> None:
    stores.principals.add_principal(ALICE)
    stores.principals.add_principal(AGENT)
    first = stores.principals.create_token("alice")
    second = stores.principals.create_token("alice")
    agents = stores.principals.create_token("agent-7")
    assert first.plaintext.startswith(TOKEN_PREFIX)
    assert len({first.plaintext, second.plaintext, agents.plaintext}) == 3
    assert stores.principals.authenticate(first.plaintext) == ALICE
    assert stores.principals.authenticate(agents.plaintext) == AGENT
    assert stores.principals.revoke(first.token_id) is True
    assert stores.principals.revoke(first.token_id) is False
    assert stores.principals.revoke("no-such-token") is False
    assert stores.principals.authenticate(first.plaintext) is None
    assert stores.principals.authenticate(second.plaintext) == ALICE, "only that token is revoked"
    for bogus in ("", TOKEN_PREFIX, first.plaintext + "x", hash_token(second.plaintext)):
        assert stores.principals.authenticate(bogus) is None


def test_a_token_needs_a_known_principal(stores: Stores) -> None:
    with pytest.raises(NotFoundError):
        stores.principals.create_token("nobody")


def test_tokens_are_stored_only_as_hashes(open_stores: Callable[[], Stores]) -> None:
    stores = open_stores()
    stores.principals.add_principal(ALICE)
    issued = stores.principals.create_token("alice")
    assert hash_token(issued.plaintext) != issued.plaintext
    assert issued.plaintext.removeprefix(TOKEN_PREFIX) not in hash_token(issued.plaintext)
    if stores.engine is not None:
        with stores.engine.connect() as connection:
            rows = connection.execute(select(TokenRow.__table__)).all()
        [row] = rows
        assert (row.id, row.principal_id, row.token_hash, row.revoked, row.expires_at_s) == (
            issued.token_id,
            "alice",
            hash_token(issued.plaintext),
            False,
            None,
        )
        assert row.created_at_s > 0
    restarted = open_stores()
    assert restarted.principals.authenticate(issued.plaintext) == ALICE


def test_audit_entries_keep_their_order(open_stores: Callable[[], Stores]) -> None:
    stores = open_stores()
    appended = [
        stores.audit.append("alice", "task.submit", f"task:t{i}", f"try {i}", 100.0 + i % 3)
        for i in range(7)
    ]
    seqs = [entry.seq for entry in appended]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 7
    assert appended[0] == AuditEntry(seqs[0], 100.0, "alice", "task.submit", "task:t0", "try 0")
    restarted = open_stores()
    assert restarted.audit.list() == appended
    assert restarted.audit.list(limit=3) == appended[:3]
    assert restarted.audit.list(limit=3, after_seq=seqs[2]) == appended[3:6]
    assert restarted.audit.list(since_s=102.0) == [appended[2], appended[5]]
    with pytest.raises(ValueError, match="limit"):
        restarted.audit.list(limit=0)


@SQL_ONLY
@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET who = 'mallory'", "DELETE FROM audit_log"]
)
def test_the_audit_table_refuses_changes(stores: Stores, statement: str) -> None:
    assert stores.engine is not None
    entry = stores.audit.append("alice", "token.create", "principal:alice", "", 1.0)
    with pytest.raises(DBAPIError, match="append-only"), stores.engine.begin() as connection:
        connection.execute(text(statement))
    assert stores.audit.list() == [entry]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_the_audit_table_refuses_truncate(stores: Stores) -> None:
    assert stores.engine is not None
    stores.audit.append("alice", "token.create", "principal:alice", "", 1.0)
    with pytest.raises(DBAPIError, match="append-only"), stores.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_log"))
    assert len(stores.audit.list()) == 1
