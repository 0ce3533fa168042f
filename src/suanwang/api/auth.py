"""Bearer tokens and role checks: every route but ``/health`` names the roles it admits.

A token is verified against the principal store (which keeps only its hash) and the answer is
cached for ``token_cache_s`` under the token's hash, so that a burst of requests does not turn
into a burst of database reads; a revocation through this server clears the cache at once, one
made elsewhere (``suanwang token revoke``) takes effect within the cache time. A cached answer
never outlives the token's expiry. A refused token gets a 401 whose detail says why (unknown,
revoked, expired at a time): the caller holds the secret, so this tells them nothing new.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from fastapi import Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from suanwang.api.limits import SubmitLimiter, retry_after_header
from suanwang.api.problems import ApiError
from suanwang.control.stores import MAX_KEY_CHARS, Principal, PrincipalStore, Role, TokenInfo
from suanwang.security.tokens import hash_token

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

    def verify(self, token: str) -> Principal | str:
        """Ask the store (blocking): the principal, cached, or why the token is refused."""
        info = self._principals.token_of(token)
        now_s = time.time()
        refused = _refusal(info, now_s)
        if info is None or refused:
            return refused or _NOT_VALID
        principal = self._principals.get_principal(info.principal_id)
        if principal is None:
            return _NOT_VALID
        if self._cache_s > 0:
            trusted_s = self._cache_s
            if info.expires_at_s is not None:
                trusted_s = min(trusted_s, info.expires_at_s - now_s)
            with self._lock:
                if len(self._cache) >= _CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[hash_token(token)] = (principal, time.monotonic() + trusted_s)
        return principal

    def forget_all(self) -> None:
        """Drop every cached answer (after a revocation)."""
        with self._lock:
            self._cache.clear()


_NOT_VALID = "the bearer token is not valid"


def _refusal(info: TokenInfo | None, now_s: float) -> str:
    """Why a token is refused at ``now_s``; empty when it is live."""
    if info is None:
        return _NOT_VALID
    if info.revoked:
        return f"the bearer token {info.token_id} was revoked"
    if info.expired(now_s):
        assert info.expires_at_s is not None
        at = datetime.fromtimestamp(info.expires_at_s, UTC).isoformat(timespec="seconds")
        return f"the bearer token {info.token_id} expired at {at}"
    return ""


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
            raise ApiError(401, _NOT_VALID, _CHALLENGE)
        authenticator: Authenticator = request.app.state.authenticator
        principal = authenticator.cached(token)
        if principal is None:
            verified = await run_in_threadpool(authenticator.verify, token)
            if isinstance(verified, str):
                raise ApiError(401, verified, _CHALLENGE)
            principal = verified
        if not principal.roles & self.roles:
            raise ApiError(403, f"this needs one of the roles {', '.join(sorted(self.roles))}")
        _limit_submissions(request, principal)
        return principal


SUBMIT_ROUTE = ("POST", "/v1/tasks")
"""The route whose calls count against a tenant's submission rate."""


def _limit_submissions(request: Request, principal: Principal) -> None:
    """Answer 429 when the principal's tenant is over its submission rate.

    Checked here, right after the token, because the tenant is known only then and a refused
    submission should cost no more than its authentication.
    """
    limiter: SubmitLimiter | None = getattr(request.app.state, "submit_limiter", None)
    if limiter is None or request.method != SUBMIT_ROUTE[0]:
        return
    route = request.scope.get("route")
    if getattr(route, "path", None) != SUBMIT_ROUTE[1]:
        return
    wait_s = limiter.admit(principal.tenant)
    if wait_s > 0:
        raise ApiError(
            429,
            f"tenant {principal.tenant} is over its limit of {limiter.rate_per_s:g} submissions "
            f"per second (burst {limiter.burst}); retry in {wait_s:.2f} s",
            retry_after_header(wait_s),
        )


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


def keeps_node(principal: Principal, node_id: str, owner: str) -> bool:
    """Whether a principal may act for a node of tenant ``owner``: drain, down, up, retire.

    Those who speak for it (``speaks_for``), and a provider of the tenant that owns it (a node
    it registered); never a provider's node by another provider.
    """
    if speaks_for(principal, node_id):
        return True
    return Role.PROVIDER in principal.roles and owner == principal.tenant


ANY_ROLE = tuple(Role)
PEOPLE = (Role.ADMIN, Role.OPERATOR, Role.PROVIDER, Role.CONSUMER)
"""Every role but the agent's (agents only pull work and report)."""
STAFF = (Role.ADMIN, Role.OPERATOR)
SUBMITTERS = (Role.ADMIN, Role.OPERATOR, Role.CONSUMER)
