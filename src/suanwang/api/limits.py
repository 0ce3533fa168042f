"""Request limits: request sizes (413) and per-tenant submission rates (429).

A body over the size limit is answered 413 before any route sees it; a tenant over its
submission rate is answered 429 with ``Retry-After`` once its token is verified.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanwang.api.problems import problem


class BodyLimit:
    """ASGI middleware that buffers request bodies up to ``max_bytes`` and refuses larger ones.

    A declared ``Content-Length`` over the limit is refused without reading; a chunked body is
    counted as it arrives. Buffering first means a route never sees half a body.

    Args:
        app: The application.
        max_bytes: Largest body accepted.
        exempt: Paths whose bodies stream through unbuffered (uploads that count their own
            limit as they read).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: re.Pattern[str] | None = None) -> None:
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        streamed = self.exempt is not None and self.exempt.match(scope.get("path", ""))
        if scope["type"] != "http" or streamed:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, f"the request body is over {self.max_bytes} bytes")
        await response(scope, receive, send)


_MAX_BUCKETS = 10_000
"""Tenants tracked at once; past it, full buckets (which behave as no entry) are dropped."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_s: float


class SubmitLimiter:
    """A token bucket per tenant: ``rate_per_s`` submissions per second, ``burst`` at once.

    Each tenant's bucket holds up to ``burst`` tokens and refills at ``rate_per_s``; a
    submission takes one. One tenant's flood empties only its own bucket, so other tenants'
    submissions go through. Thread-safe.

    Args:
        rate_per_s: Sustained submissions per second per tenant (> 0).
        burst: Bucket size: submissions a tenant may make at once (>= 1).
        clock: Monotonic seconds (tests may pass their own).
    """

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a submission limit needs rate_per_s > 0 and burst >= 1")
        self.rate_per_s, self.burst, self._clock = rate_per_s, burst, clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, tenant: str) -> float:
        """Take a token for ``tenant``: 0.0 when admitted, else seconds until one is there."""
        now_s = self._clock()
        with self._lock:
            bucket = self._buckets.get(tenant)
            if bucket is None:
                if len(self._buckets) >= _MAX_BUCKETS:
                    self._drop_full(now_s)
                bucket = self._buckets[tenant] = _Bucket(float(self.burst), now_s)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now_s - bucket.at_s) * self.rate_per_s
            )
            bucket.at_s = now_s
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate_per_s

    def _drop_full(self, now_s: float) -> None:
        full_after_s = self.burst / self.rate_per_s
        for tenant in [t for t, b in self._buckets.items() if now_s - b.at_s >= full_after_s]:
            del self._buckets[tenant]
        if len(self._buckets) >= _MAX_BUCKETS:
            # Every tenant is busy: forgetting the oldest hands it a full bucket, never a refusal.
            oldest = min(self._buckets, key=lambda t: self._buckets[t].at_s)
            del self._buckets[oldest]


def retry_after_header(wait_s: float) -> dict[str, str]:
    """The ``Retry-After`` header for a wait (whole seconds, at least 1, as RFC 9110 says)."""
    return {"Retry-After": str(max(1, math.ceil(wait_s)))}
