"""Bearer tokens and role checks: every route but ``/health`` names the roles it admits.

A token is verified against the principal store (which keeps only its hash) and the answer is
cached for ``token_cache_s`` under the token's hash, so that a burst of requests does not turn
into a burst of database reads; a revocation through this server clears the cache at once, one
made elsewhere (``suanwang token revoke``) takes effect within the cache time.
"""

from __future__ import annotations

import threading
import time

from fastapi import Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from suanwang.api.problems import ApiError
from suanwang.control.stores import MAX_KEY_CHARS, Principal, PrincipalStore, Role
from suanwang.storage.common import hash_token

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_MAX_TOKEN_CHARS = MAX_KEY_CHARS
_CACHE_ENTRIES = 10_000


class Authenticator:
    """Maps bearer tokens to principals, with a short cache.

    Args:
        principals: Where principals and token hashes are kept.
        cache_s: How long a verified token is trusted without asking again.
    """

    def __init__(self, principals: PrincipalStore, cache_s: float) -> None:
        self._principals, self._cache_s = principals, cache_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Principal, float]] = {}

    def cached(self, token: str) -> Principal | None:
        """The principal of a recently verified token, or None."""
        key = hash_token(token)
        with self._lock:
            hit = self._cache.get(key)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def verify(self, token: str) -> Principal | None:
        """Ask the store (blocking) and cache a positive answer."""
        principal = self._principals.authenticate(token)
        if principal is not None and self._cache_s > 0:
            with self._lock:
                if len(self._cache) >= _CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[hash_token(token)] = (principal, time.monotonic() + self._cache_s)
        return principal

    def forget_all(self) -> None:
        """Drop every cached answer (after a revocation)."""
        with self._lock:
            self._cache.clear()


class Caller(HTTPBearer):
    """The dependency of a route: the calling principal, if it holds one of ``roles``.

    One object does both checks (a token, then a role), so that a request resolves a single
    dependency; as an ``HTTPBearer`` it also declares the bearer scheme in the OpenAPI
    document. Answers 401 when the token is missing, malformed, unknown or revoked, 403 when
    the principal lacks every admitted role.

    Args:
        roles: Roles admitted.
    """

    def __init__(self, roles: frozenset[Role]) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="bearer",
            description="A token from `suanwang token create`.",
        )
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        """Authenticate the request and check its principal's roles."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "a bearer token is required", _CHALLENGE)
        if len(token) > _MAX_TOKEN_CHARS:
            raise ApiError(401, "the bearer token is not valid", _CHALLENGE)
        authenticator: Authenticator = request.app.state.authenticator
        principal = authenticator.cached(token)
        if principal is None:
            principal = await run_in_threadpool(authenticator.verify, token)
        if principal is None:
            raise ApiError(401, "the bearer token is not valid", _CHALLENGE)
        if not principal.roles & self.roles:
            raise ApiError(403, f"this needs one of the roles {', '.join(sorted(self.roles))}")
        return principal


def allow(*roles: Role) -> Caller:
    """The dependency admitting principals with one of ``roles``."""
    return Caller(frozenset(roles))


def tenant_scope(principal: Principal) -> str | None:
    """The tenant a principal's reads and changes are confined to (None: all, for admins)."""
    return None if Role.ADMIN in principal.roles else principal.tenant


def speaks_for(principal: Principal, node_id: str) -> bool:
    """Whether a principal may act for ``node_id`` (admins and operators for any node)."""
    if principal.roles & {Role.ADMIN, Role.OPERATOR}:
        return True
    return node_id in principal.node_ids


ANY_ROLE = tuple(Role)
PEOPLE = (Role.ADMIN, Role.OPERATOR, Role.PROVIDER, Role.CONSUMER)
"""Every role but the agent's (agents only pull work and report)."""
STAFF = (Role.ADMIN, Role.OPERATOR)
SUBMITTERS = (Role.ADMIN, Role.OPERATOR, Role.CONSUMER)
