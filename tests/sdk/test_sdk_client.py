"""The SDK against a real server on loopback: every method, pages, typed errors."""

from __future__ import annotations

import pytest
from api_support import CPU_TASK, INGRESS

from suanwang.sdk import ApiError, Client

Live = tuple[str, dict[str, str]]


@pytest.fixture
def alice(live: Live) -> Client:
    url, tokens = live
    return Client(url, tokens["alice"])


def test_a_task_is_submitted_read_listed_explained_and_cancelled(alice: Client) -> None:
    with alice:
        task = alice.submit_task(dict(CPU_TASK))
        assert task["state"] == "scheduled"
        assert task["placement"] is not None
        assert alice.get_task(task["id"])["id"] == task["id"]
        page = alice.list_tasks(limit=1)
        assert len(page["items"]) == 1
        assert task["id"] in {t["id"] for t in alice.iter_tasks()}
        explained = alice.explain_task(task["id"])
        assert explained["task"]["id"] == task["id"]
        assert explained["placeable"]
        cancelled = alice.cancel_task(task["id"])
        assert cancelled["state"] == "cancelled"
        assert cancelled["history"][-1]["to_state"] == "cancelled"


def test_an_idempotency_key_returns_the_first_task(alice: Client) -> None:
    with alice:
        first = alice.submit_task(dict(CPU_TASK), idempotency_key="sdk-1")
        again = alice.submit_task(dict(CPU_TASK), idempotency_key="sdk-1")
    assert first["id"] == again["id"]


def test_a_catalogue_type_fills_the_spec(alice: Client) -> None:
    with alice:
        catalogue = alice.catalogue_types()
        frame = next(t for t in catalogue["types"] if t["name"] == "video-analytics-frame")
        task = alice.submit_task({"task_type": frame["name"], "ingress_site": INGRESS})
    assert catalogue["scenario"] == "metro-edge"
    assert task["spec"]["work_gflop"] == frame["spec"]["work_gflop"]


def test_listings_read_every_page(alice: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    with alice:
        nodes = alice.list_nodes()
        sites = alice.list_sites()
        monkeypatch.setattr("suanwang.sdk.client.PAGE_ITEMS", 7)
        assert [n["id"] for n in alice.list_nodes()] == [n["id"] for n in nodes]
        assert [s["id"] for s in alice.list_sites()] == [s["id"] for s in sites]
        one = alice.get_node(nodes[0]["id"])
        of_site = alice.list_nodes(site_id=nodes[0]["site_id"])
    assert len(nodes) > 7
    assert one == nodes[0]
    assert all(n["site_id"] == nodes[0]["site_id"] for n in of_site)
    assert sum(s["nodes"] for s in sites) == len(nodes)


def test_errors_carry_the_problem_document(live: Live, alice: Client) -> None:
    url, _ = live
    with alice:
        with pytest.raises(ApiError) as missing:
            alice.get_task("0" * 32)
        with pytest.raises(ApiError) as invalid:
            alice.submit_task({"work_gflop": -1, "ingress_site": INGRESS})
    assert missing.value.status == 404
    assert missing.value.problem["title"] == "Not Found"
    assert "does not exist" in missing.value.detail
    assert invalid.value.status == 422
    assert any(e["path"] == "body.work_gflop" for e in invalid.value.problem["errors"])
    with Client(url, "not-a-token") as stranger, pytest.raises(ApiError) as refused:
        stranger.list_sites()
    assert refused.value.status == 401
    assert str(refused.value).startswith("401 ")
