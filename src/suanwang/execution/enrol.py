"""An agent enrols itself with a one-time enrolment token, and keeps what it got in a file.

``enrol`` makes (or loads) the agent's Ed25519 key, measures the machine with the quick probes,
and posts token, node, public key and figures to ``POST /v1/enrol``; the control plane answers
the agent principal's bearer token. ``Credentials`` (control plane URL, node, token, key file)
are written to a JSON file created with mode 0600 (renamed into place, so a crash never leaves
half a file), from which ``suanwang agent --credentials FILE`` runs the agent.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from suanwang.execution.agent_config import QUICK_PROBES, load_or_create_key
from suanwang.measure.probes import probe_once
from suanwang.security.tls import client_context

CREDENTIALS_MODE = 0o600
"""Mode of a credentials file: it holds a bearer token."""


class EnrolError(Exception):
    """The control plane refused the enrolment; ``reason`` is its code (``used``, ...)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an enrolled agent needs to run.

    Attributes:
        controller_url: Base URL of the control plane.
        node_id: The node it speaks for.
        token: Its principal's bearer token.
        key_file: Its private key file.
        principal_id: Its principal.
        key_id: Its key's id.
    """

    controller_url: str
    node_id: str
    token: str
    key_file: str
    principal_id: str
    key_id: str

    def save(self, path: Path) -> None:
        """Write the credentials to ``path`` (mode 0600, atomically)."""
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, CREDENTIALS_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, CREDENTIALS_MODE)
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> Credentials:
        """Read credentials written by ``save``.

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not a credentials file.
        """
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a credentials file ({exc})") from None


def enrol(
    server: str,
    enrol_token: str,
    node_id: str,
    key_file: Path,
    *,
    ca_file: Path | None = None,
    timeout_s: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> Credentials:
    """Enrol this machine's agent for ``node_id`` (see the module docstring).

    Raises:
        EnrolError: the control plane refused (its problem's reason and detail).
        httpx.HTTPError: it could not be reached, or failed.
    """
    keys = load_or_create_key(key_file)
    body = {
        "enrol_token": enrol_token,
        "node_id": node_id,
        "public_key": base64.b64encode(keys.public_bytes).decode(),
        "measured": probe_once(QUICK_PROBES),
    }
    with httpx.Client(
        base_url=server, timeout=timeout_s, transport=transport, verify=client_context(ca_file)
    ) as client:
        response = client.post("/v1/enrol", json=body)
    if response.is_client_error:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        detail = str(problem.get("detail", response.text))
        raise EnrolError(detail, str(problem.get("reason", response.status_code)))
    response.raise_for_status()
    out = response.json()
    return Credentials(
        server, node_id, str(out["token"]), str(key_file), str(out["principal_id"]), keys.key_id
    )
