"""The SDK's runtime registration against a real server: register, refuse, retire."""

from __future__ import annotations

import pytest

from suanwang.sdk import ApiError, Client

Live = tuple[str, dict[str, str]]


def test_a_provider_registers_a_node_and_retires_it(live: Live) -> None:
    url, tokens = live
    node = {"id": "sdk-1", "site": "edge-futian", "cpu_cores": 4, "mem_gib": 8}
    with Client(url, tokens["prov"]) as provider:
        made = provider.register("node", node, enrol_ttl_s=60)
        assert (made["kind"], made["id"], made["who"]) == ("node", "sdk-1", "prov")
        assert made["body"]["owner"] == "acme-compute"
        assert made["enrol_token"] is not None
        assert provider.get_node("sdk-1")["state"] == "up"
        with pytest.raises(ApiError) as refused:
            provider.register("node", {**node, "id": "sdk-2", "site": "nowhere"})
        assert refused.value.status == 422
        assert refused.value.problem.get("field") == "site"
        retired = provider.retire_node("sdk-1", "done")
        assert retired == {"id": "sdk-1", "state": "retired", "moving": 0}
        with pytest.raises(ValueError, match="cannot register"):
            provider.register("element", {})
