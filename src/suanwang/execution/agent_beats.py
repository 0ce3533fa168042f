"""The node agent's traffic beside its tasks: key binding, heartbeats, attestation, link probes.

``AgentBeats`` is the part of ``NodeAgent`` (``agent``) that talks to the control plane on
threads of its own: the signed heartbeat every ``interval_s`` (binding the key again when it
is refused as unknown, answering an attestation challenge it carries), and the signed link
probes every ``probe_interval_s``. Both loops end when ``stopping`` is set.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from suanwang.execution.agent_config import AgentConfig
from suanwang.execution.binding import bind_key, refused_as_unknown_key
from suanwang.execution.load import CpuMeter
from suanwang.execution.netprobe import probe_peers, rtt_report
from suanwang.measure.challenge import answer
from suanwang.security import KeyPair, MetricReport
from suanwang.security import sign_report as sign
from suanwang.security.tls import client_context

log = logging.getLogger("suanwang.agent")  # one logger for the whole agent


class AgentBeats:
    """Heartbeats, attestation answers, link probes and key binding of a ``NodeAgent``."""

    config: AgentConfig
    keys: KeyPair
    stopping: threading.Event
    _transport: httpx.BaseTransport | None
    _facts: dict[str, float]
    _meter: CpuMeter | None
    _running: int

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.config.controller_url,
            headers={"Authorization": f"Bearer {self.config.token}"},
            timeout=self.config.timeout_s,
            transport=self._transport,
            verify=client_context(self.config.ca_file),
        )

    def _bind(self, client: httpx.Client, timeout_s: float) -> None:
        config = self.config
        pause_s, stopping = config.poll_s, self.stopping
        bind_key(
            client,
            config.node_id,
            self.keys,
            timeout_s=timeout_s,
            pause_s=pause_s,
            stopping=stopping,
        )

    @property
    def cpu_cores(self) -> float:
        """Cores the node offers: configured, else the machine's."""
        configured = self.config.cpu_cores
        return configured if configured is not None else self._facts.get("cpu_cores", 1.0)

    def heartbeat_values(self) -> dict[str, float]:
        """The figures of one heartbeat: the probes' facts and the load measured since the last.

        Load is the busy cores the meter measured (``execution.load``) against ``cpu_cores``.
        """
        cores = self.cpu_cores
        busy = 0.0 if self._meter is None else self._meter.busy_cores()
        return {
            "cpu_free_cores": max(0.0, cores - busy),
            "load_ratio": min(1.0, busy / cores) if cores > 0 else 1.0,
            "queue_length": float(self._running),
            **{k: v for k, v in self._facts.items() if k.endswith("gflops")},
        }

    def _probes(self) -> None:
        node = self.config.node_id
        with self._client() as client:
            while not self.stopping.is_set():
                try:
                    peers = client.get(f"/v1/agents/{node}/peers").raise_for_status().json()
                    targets = [(p["link_id"], p["host"], int(p["port"])) for p in peers]
                    if targets:
                        report = rtt_report(node, probe_peers(targets), time.time())
                        wire = sign(self.keys, report).to_wire().decode()
                        response = client.post(f"/v1/agents/{node}/rtt", json={"envelope": wire})
                        if response.status_code != 200:
                            log.warning("link probes refused: %s", response.text)
                except httpx.HTTPError as error:
                    log.warning("link probes failed: %s", error)
                self.stopping.wait(self.config.probe_interval_s)

    def _attest(self, client: httpx.Client, challenge: dict[str, Any] | None) -> None:
        """Answer a challenge the control plane sent with a heartbeat's answer."""
        if not challenge:
            return
        done = answer(int(challenge["seed"]), int(challenge["size"]))
        body = {
            "challenge_id": challenge["id"],
            "row_checksums": list(done.row_checksums),
            "measured_gflops": done.measured_gflops,
        }
        response = client.post(f"/v1/agents/{self.config.node_id}/attestation", json=body)
        log.info("attestation answered: %s %s", response.status_code, response.text[:300])

    def _heartbeats(self) -> None:
        node = self.config.node_id
        with self._client() as client:
            while not self.stopping.is_set():
                report = MetricReport(node, self.heartbeat_values(), time.time())
                wire = sign(self.keys, report).to_wire().decode()
                try:
                    response = client.post(f"/v1/agents/{node}/metrics", json={"envelope": wire})
                    if response.status_code != 200:
                        log.warning("heartbeat refused: %s", response.text)
                    if refused_as_unknown_key(response):
                        self._bind(client, 0.0)  # the next heartbeat goes through
                    elif response.status_code == 200:
                        self._attest(client, response.json().get("challenge"))
                except httpx.HTTPError as error:
                    log.warning("heartbeat failed: %s", error)
                self.stopping.wait(self.config.interval_s)
