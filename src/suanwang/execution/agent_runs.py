"""What an agent tells the control plane about the runs it holds: kills and logs.

``RunTracker`` names the agent's runs to the control plane (``POST /v1/agents/{node}/runs``)
at its poll pace; a run the control plane cancelled or moved off the node since comes back
*withdrawn* and is killed at once with the ``cancel`` it was tracked with (its worker process,
or its sandbox's process group), and the kill is confirmed on the next call. A run that ends
on its own has its logs sent, bounded, before its finished report
(``PUT /v1/agents/{node}/runs/{run}/logs``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx

log = logging.getLogger("suanwang.agent")

LOG_WIRE_CHARS = 262_144
"""Longest stream a log report carries (the API's bound): first and last parts are kept."""
_GAP_CHARS = 64  # room for the line that says how much was dropped


def cut(text: str, limit: int = LOG_WIRE_CHARS) -> str:
    """``text`` within ``limit`` characters: its first and last parts, the gap named."""
    if len(text) <= limit:
        return text
    kept = max(0, limit - _GAP_CHARS)
    head = kept // 2
    gap = f"\n[... {len(text) - kept} characters dropped ...]\n"
    return text[:head] + gap + text[len(text) - (kept - head) :]


class RunTracker:
    """The runs one agent holds, what kills each, and the kills still to confirm.

    Used from the agent's main loop only (not thread-safe).
    """

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._cancels: dict[str, Callable[[], object]] = {}
        self._killed: list[dict[str, str]] = []
        self.kills = 0

    def track(self, run_id: str, cancel: Callable[[], object]) -> None:
        """Name ``run_id`` to the control plane until it ends; ``cancel`` kills it if withdrawn."""
        self._cancels[run_id] = cancel

    def ended(self, run_id: str) -> None:
        """``run_id`` ended (or was killed): no longer named."""
        self._cancels.pop(run_id, None)

    @property
    def due(self) -> bool:
        """Whether there is anything to tell: runs held or kills to confirm."""
        return bool(self._cancels or self._killed)

    def sync(self, client: httpx.Client) -> bool:
        """Kill the runs the control plane withdrew; confirm earlier kills. True if it killed."""
        body = {"running": list(self._cancels), "killed": self._killed}
        response = client.post(f"/v1/agents/{self.node_id}/runs", json=body)
        response.raise_for_status()
        self._killed = []
        killed = False
        for run_id in response.json()["withdrawn"]:
            cancel = self._cancels.pop(run_id, None)
            if cancel is not None:
                log.info("run %s withdrawn by the control plane: killed (%s)", run_id, cancel())
                self._killed.append({"run_id": run_id})
                self.kills += 1
                killed = True
        return killed

    def send_logs(
        self, client: httpx.Client, run_id: str, outcome: str, stdout: str, stderr: str
    ) -> None:
        """Report a run's logs (each stream cut to its first and last parts) before its end."""
        body = {"outcome": outcome, "stdout": cut(stdout), "stderr": cut(stderr)}
        response = client.put(f"/v1/agents/{self.node_id}/runs/{run_id}/logs", json=body)
        if response.status_code != 200:
            log.info("logs of %s refused: %s", run_id, response.text[:300])
