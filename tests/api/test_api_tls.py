"""TLS end to end: a real server over HTTPS, a real agent process and the command line, each
verifying the server with a CA file or a pinned certificate made here with ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from suanwang.bootstrap import Settings, ensure_admin
from suanwang.cli.main import app
from suanwang.security import KeyPair, Role, save_private_key
from suanwang.security.tls import client_context
from suanwang.storage import open_store

NODE = "edge-1"
ONE_NODE = """\
version: 1
name: one-node
sites:
  - {id: users, tier: terminal, geo: {lat_deg: 22.54, lon_deg: 114.05}}
  - {id: edge, tier: edge, geo: {lat_deg: 22.60, lon_deg: 114.05}}
nodes:
  - {id: edge-1, site: edge, cpu_cores: 2, mem_gib: 8, cpu_peak_gflops: {fp64: 25, fp32: 50}}
links:
  - {a: users, b: edge, bandwidth_mbps: 1000, latency_ms: 1}
"""
TASK = ["--work-gflop", "1", "--cpu-cores", "1", "--mem-gib", "0.5", "--ingress", "users"]
runner = CliRunner()


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
) -> x509.Certificate:
    """A CA certificate (``issuer`` None: self-signed) or a server one for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signer = (subject, key) if issuer is None else issuer
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False
        )
    return builder.sign(signer, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path


def make_pki(folder: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA."""
    pem = serialization.Encoding.PEM
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("suanwang test CA", ca_key, None)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("127.0.0.1", server_key, ("suanwang test CA", ca_key))
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _certificate("someone else's CA", other_key, None)
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "other.pem")
    pki.ca.write_bytes(ca.public_bytes(pem))
    pki.server_cert.write_bytes(server.public_bytes(pem))
    _write_key(server_key, pki.server_key)
    pki.other_ca.write_bytes(other.public_bytes(pem))
    return pki


@dataclass
class TlsServer:
    url: str
    admin_token: str
    pki: Pki
    data_dir: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    folder = tmp_path_factory.mktemp("tls")
    pki = make_pki(folder)
    data = folder / "data"
    data.mkdir()
    scenario = folder / "one-node.yaml"
    scenario.write_text(ONE_NODE, encoding="utf-8")
    with open_store(Settings(data_dir=data).resolved_database_url()) as stores:
        issued = ensure_admin(stores.principals, "operator")
        assert issued is not None
    port = _free_port()
    command = [sys.executable, "-m", "suanwang", "serve", "--port", str(port)]
    command += ["--data-dir", str(data), "--scenario", str(scenario)]
    command += ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        verify = client_context(pki.ca)
        deadline = time.monotonic() + 60.0
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/health", verify=verify, timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield TlsServer(url, issued.plaintext, pki, data)
    finally:
        _stop(process)


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", "SUANWANG_CA_FILE": None})
    return result.exit_code, result.stdout, result.stderr


def test_the_server_speaks_only_tls_and_clients_verify_it(tls_server: TlsServer) -> None:
    url, pki = tls_server.url, tls_server.pki
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url.replace('https', 'http')}/health", timeout=5.0)
    for untrusted in (True, client_context(pki.other_ca)):  # the system's CAs; another CA
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{url}/health", verify=untrusted, timeout=5.0)
    pinned = client_context(pki.server_cert)  # the server's own certificate, no CA
    assert httpx.get(f"{url}/health", verify=pinned, timeout=5.0).status_code == 200


def test_the_cli_verifies_with_a_ca_file_or_a_pinned_certificate(tls_server: TlsServer) -> None:
    base = ["--url", tls_server.url, "--token", tls_server.admin_token]
    pki = tls_server.pki
    for trusted in (pki.ca, pki.server_cert):
        code, out, err = cli("node", "list", *base, "--ca-file", str(trusted), "--json")
        assert code == 0, err
        assert [n["id"] for n in json.loads(out)] == [NODE]
    code, _, err = cli("node", "list", *base)
    assert code == 1
    assert err.count("\n") == 1
    assert "CERTIFICATE_VERIFY_FAILED" in err
    code, _, err = cli("node", "list", *base, "--ca-file", str(pki.other_ca))
    assert code == 1
    assert "CERTIFICATE_VERIFY_FAILED" in err
    code, _, err = cli("node", "list", *base, "--ca-file", str(pki.ca.with_name("absent.pem")))
    assert code == 2
    assert err.startswith("error: --ca-file: cannot read the CA file")


def _enrol_agent(server: TlsServer) -> tuple[str, Path]:
    keys = KeyPair.generate(Role.AGENT)
    key_path = server.data_dir / "agent.key"
    save_private_key(keys, key_path)
    body = {"id": f"agent-{NODE}", "tenant": "sites", "roles": ["agent"], "node_ids": [NODE]}
    body["agent_key_id"] = keys.key_id
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    verify = client_context(server.pki.ca)
    with httpx.Client(base_url=server.url, headers=headers, verify=verify) as client:
        client.post("/v1/principals", json=body).raise_for_status()
        token = client.post(f"/v1/principals/agent-{NODE}/tokens").raise_for_status()
    return str(token.json()["token"]), key_path


def test_an_agent_process_runs_a_task_submitted_with_the_cli(tls_server: TlsServer) -> None:
    token, key_path = _enrol_agent(tls_server)
    command = [sys.executable, "-m", "suanwang", "agent", "--controller", tls_server.url]
    command += ["--token", token, "--node", NODE, "--key-file", str(key_path)]
    command += ["--interval-s", "0.5", "--load-source", "workers"]
    env = {**os.environ, "SUANWANG_CA_FILE": str(tls_server.pki.ca), "OMP_NUM_THREADS": "1"}
    log = tls_server.data_dir / "agent.log"
    with log.open("wb") as out:
        agent = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = ["--url", tls_server.url, "--token", tls_server.admin_token]
    base += ["--ca-file", str(tls_server.pki.ca)]
    try:
        code, out, err = cli("task", "submit", *TASK, *base, "--json")
        assert code == 0, err
        task_id = json.loads(out)["id"]
        deadline = time.monotonic() + 90.0
        state = ""
        while state not in {"completed", "failed", "rejected", "cancelled"}:
            assert agent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, (state, log.read_text()[-2000:])
            time.sleep(0.2)
            code, out, err = cli("task", "get", task_id, *base, "--json")
            assert code == 0, err
            state = json.loads(out)["state"]
        assert state == "completed", out
        assert json.loads(out)["placement"]["node_id"] == NODE
    finally:
        _stop(agent)
