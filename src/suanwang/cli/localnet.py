"""A whole network on one machine: a real ``suanwang serve`` and several ``suanwang agent``.

Each agent is a process of its own standing for one site's node, so that killing one (by its
PID) is a real site failure. Used by ``suanwang demo``, the end-to-end tests and the
self-healing benchmark. Every process started here is stopped by ``close`` (agents in their
own process group, so that their worker processes go with them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from suanwang.bootstrap import Settings, ensure_admin, open_stores
from suanwang.security import KeyPair, Role, save_private_key

AGENT_TENANT = "sites"
"""Tenant of the agent principals made here."""

THREE_SITES = """\
version: 1
name: three-sites
description: A user site, two edge sites and a regional cloud; one node each, each with an agent.
node_profiles:
  box: {cpu_cores: 2, mem_gib: 16, cpu_peak_gflops: {fp64: 25, fp32: 50}, price_per_hour: 0.5}
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 22.54, lon_deg: 114.05}}
  - {id: edge-north, tier: edge, geo: {lat_deg: 22.60, lon_deg: 114.05}}
  - {id: edge-south, tier: edge, geo: {lat_deg: 22.50, lon_deg: 114.06}}
  - {id: cloud, tier: region, geo: {lat_deg: 23.13, lon_deg: 113.26}}
nodes:
  - {id: edge-north-1, site: edge-north, profile: box}
  - {id: edge-south-1, site: edge-south, profile: box}
  - {id: cloud-1, site: cloud, profile: box, price_per_hour: 0.2}
links:
  - {a: users, b: edge-north, bandwidth_mbps: 1000, latency_ms: 1}
  - {a: users, b: edge-south, bandwidth_mbps: 1000, latency_ms: 2}
  - {a: edge-north, b: cloud, bandwidth_mbps: 10000, latency_ms: 6}
  - {a: edge-south, b: cloud, bandwidth_mbps: 10000, latency_ms: 6}
"""
"""A network small enough that every node has an agent (three processes on one machine)."""

THREE_SITES_NODES = ("edge-north-1", "edge-south-1", "cloud-1")
"""The nodes of ``THREE_SITES``."""

USERS_SITE = "users"
"""Where requests enter ``THREE_SITES``."""


def write_three_sites(folder: Path) -> Path:
    """Write ``THREE_SITES`` into ``folder``; returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "three-sites.yaml"
    path.write_text(THREE_SITES, encoding="utf-8")
    return path


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(slots=True)
class LocalNet:
    """A control plane and its agents in child processes (see the module docstring).

    Attributes:
        data_dir: Database, logs and agents' keys.
        scenario: Built-in name or scenario file made live.
        profile: Scheduling profile.
        health: Extra ``SUANWANG_*`` settings of the server (thresholds of self-healing).
        url: The server's URL once started.
        admin_token: A token of the admin.
        agents: Agent processes by node.
    """

    data_dir: Path
    scenario: str = "campus"
    profile: str = "cats-joint"
    health: dict[str, str] = field(default_factory=dict)
    url: str = ""
    admin_token: str = ""
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _server: subprocess.Popen[bytes] | None = None
    _started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _log(self, name: str) -> Path:
        folder = self.data_dir / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}.log"

    def start_server(self, timeout_s: float = 60.0) -> None:
        """Start the server on a free loopback port and make an admin token.

        Raises:
            RuntimeError: the server exited.
            TimeoutError: it did not answer in time.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=self.data_dir)
        with open_stores(settings.resolved_database_url()) as stores:
            issued = ensure_admin(stores.principals, settings.admin_tenant)
            if issued is None:
                issued = stores.principals.create_token("admin")
            self.admin_token = issued.plaintext
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "suanwang", "serve", "--port", str(port)]
        command += ["--data-dir", str(self.data_dir), "--scenario", self.scenario]
        command += ["--profile", self.profile]
        env = {**os.environ, **{f"SUANWANG_{k.upper()}": v for k, v in self.health.items()}}
        with self._log("server").open("ab") as log:
            self._server = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise RuntimeError(f"the server exited: {self._log('server').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError("the server did not start in time")

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client of the server (the admin's token unless another is given)."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def enrol(self, node_id: str) -> tuple[str, Path]:
        """Make (or reuse) the agent principal of ``node_id``; returns its token and key file."""
        key_path = self.data_dir / "agents" / f"{node_id}.key"
        key_path.parent.mkdir(parents=True, exist_ok=True)
        keys = KeyPair.generate(Role.AGENT)
        principal = f"agent-{node_id}"
        body = {"id": principal, "tenant": AGENT_TENANT, "roles": ["agent"]}
        body |= {"node_ids": [node_id], "agent_key_id": keys.key_id}
        with self.client() as client:
            created = client.post("/v1/principals", json=body)
            if created.status_code == 409 and key_path.exists():  # enrolled before: same key
                token = client.post(f"/v1/principals/{principal}/tokens").raise_for_status()
                return str(token.json()["token"]), key_path
            created.raise_for_status()
            save_private_key(keys, key_path)
            token = client.post(f"/v1/principals/{principal}/tokens").raise_for_status()
            return str(token.json()["token"]), key_path

    def start_agent(
        self,
        node_id: str,
        interval_s: float = 1.0,
        workers: int = 1,
        *,
        cpu_cores: float | None = None,
        probe_interval_s: float = 0.0,
    ) -> int:
        """Enrol and start the agent of ``node_id``; returns its PID.

        Agents here share one machine, so each measures its own workers' load (against
        ``cpu_cores``, else the machine's cores); ``probe_interval_s`` > 0 makes it probe links.
        """
        token, key_path = self.enrol(node_id)
        command = [sys.executable, "-m", "suanwang", "agent", "--controller", self.url]
        command += ["--token", token, "--node", node_id, "--key-file", str(key_path)]
        command += ["--interval-s", str(interval_s), "--workers", str(workers)]
        command += ["--load-source", "workers", "--probe-interval-s", str(probe_interval_s)]
        if cpu_cores is not None:
            command += ["--cpu-cores", str(cpu_cores)]
        # One BLAS thread per worker: the node's cores are its workers, not threads on top.
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        env["MKL_NUM_THREADS"] = "1"
        with self._log(f"agent-{node_id}").open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.agents[node_id] = process
        self._started.append(process)  # a restarted node's earlier agent is still to be reaped
        return process.pid

    def wait_heartbeats(self, node_ids: list[str], timeout_s: float = 60.0) -> None:
        """Wait until every node in ``node_ids`` has reported metrics.

        Raises:
            TimeoutError: one did not in time.
        """
        deadline = time.monotonic() + timeout_s
        with self.client() as client:
            for node in node_ids:
                while time.monotonic() < deadline:
                    doc = client.get(f"/v1/nodes/{node}/metrics").json()
                    if doc.get("values"):
                        break
                    time.sleep(0.1)
                else:
                    raise TimeoutError(f"no heartbeat from the agent of {node}")

    def kill_agent(self, node_id: str) -> None:
        """SIGKILL the agent of ``node_id`` by its PID: a site lost without a word."""
        process = self.agents[node_id]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def close(self) -> None:
        """Stop every agent (with its workers) and the server."""
        for process in [*self._started, self._server]:
            if process is None:
                continue
            # The leader only: an agent finishes and reports its running tasks first.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
            # Workers of an agent killed earlier are still in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.agents.clear()
        self._started.clear()
        self._server = None

    def __enter__(self) -> LocalNet:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
