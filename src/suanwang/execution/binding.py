"""An agent's key binding (``PUT /v1/agents/{node}/key``), retried until the control plane answers.

A control plane may be starting, restarting, or killed in the middle of a binding; the agent
binds again until it is told yes (2xx) or no (4xx: a wrong key, a principal not bound to the
node), within a deadline. A binding is idempotent on the control plane (a key has one
binding), so a retry after an answer that got lost is harmless.
"""

from __future__ import annotations

import base64
import logging
import threading
import time

import httpx

from suanwang.security import KeyPair

log = logging.getLogger("suanwang.agent")

UNKNOWN_KEY = "unknown-key"
"""The ``reason`` of a report refused because the control plane does not know its key."""


def bind_key(
    client: httpx.Client,
    node_id: str,
    keys: KeyPair,
    *,
    timeout_s: float,
    pause_s: float,
    stopping: threading.Event,
) -> None:
    """Bind ``keys`` to ``node_id``, retrying transport errors and 5xx until ``timeout_s``.

    Raises:
        httpx.HTTPStatusError: the control plane refused the binding (4xx), or still failed
            (5xx) at the deadline.
        httpx.TransportError: it could not be reached until the deadline.
    """
    public = base64.b64encode(keys.public_bytes).decode()
    deadline_s = time.monotonic() + timeout_s
    while True:
        try:
            client.put(f"/v1/agents/{node_id}/key", json={"public_key": public}).raise_for_status()
        except (httpx.TransportError, httpx.HTTPStatusError) as error:
            refused = isinstance(error, httpx.HTTPStatusError) and error.response.is_client_error
            if refused or time.monotonic() >= deadline_s or stopping.is_set():
                raise
            log.warning("binding the key of %s failed, retrying: %s", node_id, error)
            stopping.wait(pause_s)
            continue
        log.info("agent for %s bound key %s", node_id, keys.key_id)
        return


def refused_as_unknown_key(response: httpx.Response) -> bool:
    """Whether a report was refused because the control plane does not know the signing key."""
    if response.status_code != 403:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("reason") == UNKNOWN_KEY
