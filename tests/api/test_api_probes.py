"""Link probes: agents announce echo endpoints, get their peers and post signed RTTs.

The network is the local network's three sites: edge-north's agent probes the link
``edge-north--cloud`` against the cloud's echo endpoint (a real server on loopback).
"""

from __future__ import annotations

import base64
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_support import Api, make_settings, seed_principals

from suanwang.cli.localnet import write_three_sites
from suanwang.control.stores import Principal, Role
from suanwang.execution.netprobe import EchoServer, probe_peers, rtt_report
from suanwang.security import KeyPair, MetricReport, sign_report
from suanwang.security import Role as KeyRole
from suanwang.service import ControlPlane

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx
    from fastapi.testclient import TestClient

from suanwang.api import create_app

LINK = "edge-north--cloud"


@dataclass
class Agent:
    name: str
    node: str
    keys: KeyPair


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(tmp_path, scenario=str(write_three_sites(tmp_path)))
    tokens = seed_principals(settings)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings, tokens)


def _agent(api: Api, node: str) -> Agent:
    keys = KeyPair.generate(KeyRole.AGENT)
    name = f"agent-{node}"
    api.add_principal(
        Principal(name, "sites", frozenset({Role.AGENT}), frozenset({node}), keys.key_id)
    )
    key = base64.b64encode(keys.public_bytes).decode()
    bound = api.call(name, "PUT", f"/v1/agents/{node}/key", json={"public_key": key})
    assert bound.status_code == 200, bound.text
    return Agent(name, node, keys)


def _plane(api: Api) -> ControlPlane:
    plane: ControlPlane = api.client.app.state.plane  # type: ignore[attr-defined]
    return plane


def _post(api: Api, agent: Agent, report: MetricReport, signer: KeyPair | None = None) -> object:
    wire = sign_report(signer or agent.keys, report).to_wire().decode()
    path = f"/v1/agents/{agent.node}/rtt"
    return api.call(agent.name, "POST", path, json={"envelope": wire})


def test_an_agent_probes_its_peer_and_the_rtt_reaches_the_network_agent(api: Api) -> None:
    north, cloud = _agent(api, "edge-north-1"), _agent(api, "cloud-1")
    assert api.call(north.name, "GET", "/v1/agents/edge-north-1/peers").json() == []
    with EchoServer() as echo:
        where = {"host": echo.host, "port": echo.port}
        announced = api.call(cloud.name, "PUT", "/v1/agents/cloud-1/echo", json=where)
        assert announced.status_code == 200, announced.text
        peers = api.call(north.name, "GET", "/v1/agents/edge-north-1/peers").json()
        assert peers == [{"link_id": LINK, "host": echo.host, "port": echo.port}]
        assert api.call(cloud.name, "GET", "/v1/agents/cloud-1/peers").json() == []
        measured = probe_peers([(LINK, echo.host, echo.port)], count=5)
    report = rtt_report(north.node, measured, time.time())
    response = _post(api, north, report)
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert response.json() == {"node_id": "edge-north-1", "links": 1}  # type: ignore[attr-defined]
    live = _plane(api).live
    with live.aggregator_lock:
        metrics = live.network.metrics()
    i = metrics.index[LINK]
    assert metrics.measured[i]
    assert metrics.latency_ms[i] == pytest.approx(measured[0].stats.median_ms / 2)
    assert metrics.loss_ratio[i] == 0.0


def test_rtt_reports_are_refused_for_links_a_node_does_not_probe(api: Api) -> None:
    north = _agent(api, "edge-north-1")
    now = time.time()
    other_link = MetricReport(north.node, {"rtt_ms:users--edge-north": 3.0}, now)
    refused = _post(api, north, other_link)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    negative = MetricReport(north.node, {f"rtt_ms:{LINK}": -1.0}, now)
    assert _post(api, north, negative).status_code == 422  # type: ignore[attr-defined]
    intruder = KeyPair.generate(KeyRole.AGENT)
    forged = MetricReport(north.node, {f"rtt_ms:{LINK}": 3.0}, now)
    assert _post(api, north, forged, intruder).status_code == 403  # type: ignore[attr-defined]
    live = _plane(api).live
    with live.aggregator_lock:
        assert not live.network.metrics().measured.any()
    report = MetricReport(north.node, {f"rtt_ms:{LINK}": 3.0}, now)
    wire = sign_report(north.keys, report).to_wire().decode()
    path = f"/v1/agents/{north.node}/rtt"
    assert api.call(north.name, "POST", path, json={"envelope": wire}).status_code == 200
    replay = api.call(north.name, "POST", path, json={"envelope": wire})
    assert replay.status_code == 422
    assert replay.json()["reason"] == "replay"


def test_an_agent_announces_only_its_own_echo_endpoint(api: Api) -> None:
    north = _agent(api, "edge-north-1")
    where = {"host": "127.0.0.1", "port": 9}
    assert api.call(north.name, "PUT", "/v1/agents/cloud-1/echo", json=where).status_code == 403
    bad_port = {"host": "127.0.0.1", "port": 0}
    assert (
        api.call(north.name, "PUT", "/v1/agents/edge-north-1/echo", json=bad_port).status_code
        == 422
    )
