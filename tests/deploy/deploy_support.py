"""What the deploy checks share: the repository's paths and a /metrics page after real work."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx
    from fastapi.testclient import TestClient

from suanwang.api import create_app
from suanwang.bootstrap import Settings
from suanwang.control.stores import Principal, Role
from suanwang.service.plane import ControlPlane
from suanwang.storage import open_store

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TASK = {"work_gflop": 5.0, "cpu_cores": 1.0, "mem_gib": 0.5, "ingress_site": "term-futian"}
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)")


def metrics_page(tmp_path: Path) -> str:
    """/metrics of a real app after a task was placed, run and completed, and a writer tick."""
    settings = Settings(data_dir=tmp_path, token_cache_s=0.0, tune_gc=False, require_agent=False)
    with open_store(settings.resolved_database_url()) as stores:
        stores.principals.add_principal(Principal("ops", "operator", frozenset({Role.OPERATOR})))
        stores.principals.add_principal(Principal("alice", "acme", frozenset({Role.CONSUMER})))
        tokens = {p: stores.principals.create_token(p).plaintext for p in ("ops", "alice")}
    with TestClient(create_app(settings)) as client:
        auth = {p: {"Authorization": f"Bearer {t}"} for p, t in tokens.items()}
        task = client.post("/v1/tasks", json=TASK, headers=auth["alice"]).json()
        node = task["placement"]["node_id"]
        with open_store(settings.resolved_database_url()) as stores:
            agent = Principal("agent", "x", frozenset({Role.AGENT}), frozenset({node}))
            stores.principals.add_principal(agent)
            auth["agent"] = {
                "Authorization": f"Bearer {stores.principals.create_token('agent').plaintext}"
            }
        for event in ("started", "finished"):
            body = {"node_id": node, "event": event, "reason": "ok"}
            reply = client.post(f"/v1/tasks/{task['id']}/report", json=body, headers=auth["agent"])
            assert reply.status_code == 200, reply.text
        plane: ControlPlane = client.app.state.plane  # type: ignore[attr-defined]
        plane._worker.call(plane._tick).result(30)  # the per-site gauges refresh on the tick
        page = client.get("/metrics", headers=auth["ops"])
        assert page.status_code == 200
        text: str = page.text
        return text


def series_names(page: str) -> set[str]:
    """Every series name of a Prometheus text page (``_bucket``, ``_total``... included)."""
    names = set()
    for line in page.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            names.add(match.group(1))
    return names
