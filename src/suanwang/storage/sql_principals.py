"""The SQL ``PrincipalStore`` (SQLite, PostgreSQL) over the ``principals`` and ``tokens`` tables.

Tokens are stored only as their SHA-256 (``security.tokens``); ``authenticate`` matches the
hash of a live token (not revoked, not expired) in one query. Every write is its own
transaction, committed before the method returns.
"""

from __future__ import annotations

import builtins
import time

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanwang.control.stores import (
    IssuedToken,
    NotFoundError,
    Principal,
    PrincipalExistsError,
    Role,
    TokenInfo,
)
from suanwang.security.tokens import hash_token, new_token
from suanwang.storage.sql import _reachable, _rowcount
from suanwang.storage.tables import PrincipalRow, TokenRow


def _principal(row: PrincipalRow) -> Principal:
    return Principal(
        row.id,
        row.tenant,
        frozenset(Role(role) for role in row.roles),
        frozenset(row.node_ids),
        row.agent_key_id,
    )


def _token_info(row: TokenRow) -> TokenInfo:
    return TokenInfo(row.id, row.principal_id, row.created_at_s, row.expires_at_s, row.revoked)


class SqlPrincipalStore:
    """A ``PrincipalStore`` in the ``principals`` and ``tokens`` tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_principal(self, principal: Principal) -> None:
        """See ``PrincipalStore.add_principal``."""
        row = PrincipalRow(
            id=principal.id,
            tenant=principal.tenant,
            roles=sorted(role.value for role in principal.roles),
            node_ids=sorted(principal.node_ids),
            agent_key_id=principal.agent_key_id,
        )
        try:
            with _reachable(), Session(self._engine) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise PrincipalExistsError(f"principal {principal.id!r} already exists") from None

    def get_principal(self, principal_id: str) -> Principal | None:
        """See ``PrincipalStore.get_principal``."""
        with _reachable(), Session(self._engine) as session:
            row = session.get(PrincipalRow, principal_id)
            return None if row is None else _principal(row)

    def principals(self, tenant: str | None = None) -> builtins.list[Principal]:
        """See ``PrincipalStore.principals``."""
        query = select(PrincipalRow).order_by(PrincipalRow.id)
        if tenant is not None:
            query = query.where(PrincipalRow.tenant == tenant)
        with _reachable(), Session(self._engine) as session:
            return [_principal(row) for row in session.scalars(query)]

    def create_token(self, principal_id: str, expires_at_s: float | None = None) -> IssuedToken:
        """See ``PrincipalStore.create_token``."""
        token_id, plaintext, token_hash = new_token()
        row = TokenRow(
            id=token_id,
            principal_id=principal_id,
            token_hash=token_hash,
            created_at_s=time.time(),
            expires_at_s=expires_at_s,
        )
        with _reachable(), Session(self._engine) as session, session.begin():
            if session.get(PrincipalRow, principal_id) is None:
                raise NotFoundError(f"principal {principal_id!r} does not exist")
            session.add(row)
        return IssuedToken(token_id, principal_id, plaintext)

    def authenticate(self, plaintext: str) -> Principal | None:
        """See ``PrincipalStore.authenticate``."""
        query = (
            select(PrincipalRow)
            .join(TokenRow, TokenRow.principal_id == PrincipalRow.id)
            .where(
                TokenRow.token_hash == hash_token(plaintext),
                TokenRow.revoked.is_(False),
                or_(TokenRow.expires_at_s.is_(None), TokenRow.expires_at_s > time.time()),
            )
        )
        with _reachable(), Session(self._engine) as session:
            row = session.scalar(query)
            return None if row is None else _principal(row)

    def token_of(self, plaintext: str) -> TokenInfo | None:
        """See ``PrincipalStore.token_of``."""
        query = select(TokenRow).where(TokenRow.token_hash == hash_token(plaintext))
        with _reachable(), Session(self._engine) as session:
            row = session.scalar(query)
            return None if row is None else _token_info(row)

    def tokens(self, principal_id: str | None = None) -> builtins.list[TokenInfo]:
        """See ``PrincipalStore.tokens``."""
        # NULL issue times (tokens from before the column) sort first on SQLite and PostgreSQL
        # alike only when told so.
        query = select(TokenRow).order_by(TokenRow.created_at_s.asc().nulls_first(), TokenRow.id)
        if principal_id is not None:
            query = query.where(TokenRow.principal_id == principal_id)
        with _reachable(), Session(self._engine) as session:
            return [_token_info(row) for row in session.scalars(query)]

    def revoke(self, token_id: str) -> bool:
        """See ``PrincipalStore.revoke``."""
        statement = (
            update(TokenRow)
            .where(TokenRow.id == token_id, TokenRow.revoked.is_(False))
            .values(revoked=True)
            .execution_options(synchronize_session=False)
        )
        with _reachable(), Session(self._engine) as session, session.begin():
            return _rowcount(session.execute(statement)) == 1
