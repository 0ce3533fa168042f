"""Token expiry and listing, run against every adapter of the PrincipalStore."""

from __future__ import annotations

import time

from suanwang.control.stores import Principal, PrincipalStore, Role, TokenInfo
from suanwang.storage import Stores

ALICE = Principal("alice", "acme", frozenset({Role.CONSUMER}))
BOB = Principal("bob", "globex", frozenset({Role.CONSUMER}))


def test_adapters_keep_the_port() -> None:
    from suanwang.storage.memory import MemoryPrincipalStore

    assert isinstance(MemoryPrincipalStore(), PrincipalStore)


def test_an_expired_token_authenticates_no_one(stores: Stores) -> None:
    principals = stores.principals
    principals.add_principal(ALICE)
    past = principals.create_token("alice", expires_at_s=time.time() - 1.0)
    future = principals.create_token("alice", expires_at_s=time.time() + 3600.0)
    forever = principals.create_token("alice")
    assert principals.authenticate(past.plaintext) is None
    assert principals.authenticate(future.plaintext) == ALICE
    assert principals.authenticate(forever.plaintext) == ALICE
    info = principals.token_of(past.plaintext)
    assert info is not None
    assert info.token_id == past.token_id
    assert info.expired(time.time())
    assert principals.token_of("swt_unknown") is None


def test_tokens_are_listed_oldest_first_without_secrets(stores: Stores) -> None:
    principals = stores.principals
    principals.add_principal(ALICE)
    principals.add_principal(BOB)
    before_s = time.time()
    first = principals.create_token("alice")
    second = principals.create_token("bob", expires_at_s=before_s + 60.0)
    third = principals.create_token("alice")
    principals.revoke(third.token_id)
    listed = principals.tokens()
    assert [t.token_id for t in listed] == [first.token_id, second.token_id, third.token_id]
    assert all(isinstance(t, TokenInfo) for t in listed)
    assert all(t.created_at_s is not None and t.created_at_s >= before_s for t in listed)
    assert [t.expires_at_s for t in listed] == [None, before_s + 60.0, None]
    assert [t.revoked for t in listed] == [False, False, True]
    assert [t.token_id for t in principals.tokens("alice")] == [first.token_id, third.token_id]
    assert principals.tokens("nobody") == []
    assert not any(first.plaintext in repr(t) for t in listed)
