"""The trust store: trusted provider keys, agent keys bound to nodes, nonces, report marks.

Report marks keep replays refused across a restart (``ReportMarks``).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from suanwang.security.keys import key_id_of, load_public_key, raw_public_bytes


@dataclass(frozen=True, slots=True, eq=False)
class TrustedKey:
    """A public key the verifier accepts, and what it may speak for.

    Attributes:
        key_id: Its key id.
        public_key: The key object (built once; verifying with it needs no parsing).
        raw: Its 32 raw bytes (what worker processes receive).
        nodes: Node ids it may speak for; None means any (a provider trusted for all nodes).
    """

    key_id: str
    public_key: Ed25519PublicKey
    raw: bytes
    nodes: frozenset[str] | None


class KeyRing:
    """Provider keys (sign registrations) and agent keys (sign metric reports), by key id.

    Providers are trusted by the operator, out of band; agent keys enter only through a
    registration signed by a trusted provider (see ``Verifier.register``).
    """

    def __init__(self) -> None:
        self._providers: dict[str, TrustedKey] = {}
        self._agents: dict[str, TrustedKey] = {}

    @staticmethod
    def _trusted(key: Ed25519PublicKey | bytes, nodes: frozenset[str] | None) -> TrustedKey:
        public_key = load_public_key(key) if isinstance(key, bytes) else key
        raw = raw_public_bytes(public_key)
        return TrustedKey(key_id_of(raw), public_key, raw, nodes)

    def trust_provider(
        self, key: Ed25519PublicKey | bytes, nodes: Iterable[str] | None = None
    ) -> str:
        """Trust a provider key, for the given node ids or (None) for any node; its key id."""
        trusted = self._trusted(key, None if nodes is None else frozenset(nodes))
        self._providers[trusted.key_id] = trusted
        return trusted.key_id

    def bind_agent(self, key: Ed25519PublicKey | bytes, node_id: str) -> str:
        """Let an agent key speak for ``node_id`` too (keeps its other nodes); its key id."""
        trusted = self._trusted(key, frozenset({node_id}))
        existing = self._agents.get(trusted.key_id)
        if existing is not None and existing.nodes is not None:
            trusted = TrustedKey(
                trusted.key_id, existing.public_key, existing.raw, existing.nodes | {node_id}
            )
        self._agents[trusted.key_id] = trusted
        return trusted.key_id

    def revoke(self, key_id: str) -> bool:
        """Forget a provider or agent key; True when it was known."""
        return (
            self._providers.pop(key_id, None) is not None
            or self._agents.pop(key_id, None) is not None
        )

    def agent_nodes(self) -> frozenset[str]:
        """Nodes some bound agent key speaks for (nodes with an agent)."""
        return frozenset(node for key in self._agents.values() for node in key.nodes or ())

    def provider(self, key_id: str) -> TrustedKey | None:
        """A trusted provider key, or None."""
        return self._providers.get(key_id)

    def agent(self, key_id: str) -> TrustedKey | None:
        """A bound agent key, or None."""
        return self._agents.get(key_id)

    def __len__(self) -> int:
        return len(self._providers) + len(self._agents)


class NonceCache:
    """Nonces seen within the acceptance window, to refuse a report sent twice.

    A nonce must be remembered only while a report carrying it could still pass the timestamp
    check, that is until ``timestamp_s + keep_s``; older entries are dropped as new ones come
    (amortised O(1) per nonce). ``max_entries`` bounds memory: when it is reached the cache
    reports itself full rather than forget a nonce that could still be replayed.
    """

    def __init__(self, keep_s: float, max_entries: int = 2_000_000) -> None:
        self.keep_s = keep_s
        self.max_entries = max_entries
        self._expiry: dict[tuple[str, str], float] = {}
        self._order: deque[tuple[float, tuple[str, str]]] = deque()

    def __len__(self) -> int:
        return len(self._expiry)

    def purge(self, now_s: float) -> None:
        """Drop nonces whose reports would now be refused as too old anyway."""
        order, expiry = self._order, self._expiry
        while order and order[0][0] <= now_s:
            _, key = order.popleft()
            expiry.pop(key, None)

    def full(self, now_s: float) -> bool:
        """True when no more nonces can be remembered right now."""
        self.purge(now_s)
        return len(self._expiry) >= self.max_entries

    def add(self, key_id: str, nonce: str, timestamp_s: float, now_s: float) -> bool:
        """Remember a nonce; False when it was already there (a replay)."""
        key = (key_id, nonce)
        if key in self._expiry:
            return False
        if len(self._order) & 0xFF == 0:
            self.purge(now_s)
        expires_s = timestamp_s + self.keep_s
        self._expiry[key] = expires_s
        self._order.append((expires_s, key))
        return True


class ReportMarks:
    """The newest accepted report per agent key, and the floor a restarted server holds to.

    The nonce cache forgets everything when the process ends, so after a restart a report
    captured within the last ``max_age_s`` would pass again. Two floors close that gap: the
    marks stored before the restart (a report signed at or before its key's stored mark is a
    replay), and ``start_s``, the time this process started (every report captured before the
    crash was signed before it; one signed at the very start passes). Within one run the floors
    do not move: the nonce cache refuses replays, and an agent's reports may arrive slightly out
    of order (heartbeats and link probes sign on two threads), which a moving floor would refuse.

    ``accepted`` records each accepted report; ``due`` hands out the marks changed since the
    last call, at most once per ``flush_every_s`` per key, for a write-behind flush.

    Args:
        stored: Marks kept before the restart, key id -> newest signed timestamp (seconds).
        start_s: Reports signed at or before this are refused (None: no such floor).
        flush_every_s: Least time between two flushes of one key's mark.
    """

    def __init__(
        self,
        stored: dict[str, float] | None = None,
        start_s: float | None = None,
        flush_every_s: float = 1.0,
    ) -> None:
        self._floor = dict(stored or {})
        self.start_s = start_s
        self.flush_every_s = flush_every_s
        self._newest: dict[str, tuple[float, str]] = {}
        self._dirty: dict[str, None] = {}
        self._flushed_at: dict[str, float] = {}
        self._lock = threading.Lock()  # verifiers of several live networks may share the marks

    def fresh(self, key_id: str, timestamp_s: float) -> bool:
        """Whether a report signed at ``timestamp_s`` passes both floors (NaN never does).

        It must be after its key's stored mark, and not before the start.
        """
        after_mark = timestamp_s > self._floor.get(key_id, -math.inf)
        return after_mark and (self.start_s is None or timestamp_s >= self.start_s)

    def accepted(self, key_id: str, timestamp_s: float, nonce: str) -> None:
        """Note an accepted report (it becomes the key's mark if it is the newest)."""
        with self._lock:
            newest = self._newest.get(key_id)
            if newest is None or timestamp_s > newest[0]:
                self._newest[key_id] = (timestamp_s, nonce)
                self._dirty[key_id] = None

    def due(self, now_s: float, everything: bool = False) -> list[tuple[str, float, str]]:
        """Changed marks whose key was last flushed ``flush_every_s`` ago (all with ``everything``).

        Returned as (key id, timestamp, nonce), and no longer changed once returned.
        """
        out = []
        with self._lock:
            for key_id in list(self._dirty):
                last_s = self._flushed_at.get(key_id, -math.inf)
                if not everything and now_s - last_s < self.flush_every_s:
                    continue
                del self._dirty[key_id]
                self._flushed_at[key_id] = now_s
                timestamp_s, nonce = self._newest[key_id]
                out.append((key_id, timestamp_s, nonce))
        return out

    def put_back(self, marks: list[tuple[str, float, str]]) -> None:
        """Mark ``due`` marks changed again (their flush failed; the next one retries them)."""
        with self._lock:
            for key_id, _, _ in marks:
                self._dirty[key_id] = None
                self._flushed_at.pop(key_id, None)
