"""The intent store on every adapter: a record reads back whole (its prediction too), replaced
whole, kept per tenant."""

from __future__ import annotations

import dataclasses

from suanwang.control.intents import IntentPrediction, IntentRecord, IntentStatus, StatusChange
from suanwang.storage import open_store

RECORD = IntentRecord(
    "i-1",
    "acme",
    "alice",
    "shop-cameras",
    {"version": 1, "name": "shop-cameras", "need": {"kind": "video-analytics", "cameras": 200}},
    ("t-1", "t-2"),
    IntentStatus.MET,
    (StatusChange(10.0, IntentStatus.MET, 1.0, "applied"),),
    10.0,
    IntentPrediction(0.5, 1.25, 30.0, ("edge", ""), ("edge-1", ""), 9.5, 600.0),
)


def test_a_record_reads_back_whole_and_is_replaced_whole(store_url: str) -> None:
    with open_store(store_url) as stores:
        assert stores.intents is not None
        stores.intents.save(RECORD)
        assert stores.intents.get("i-1") == RECORD
        change = StatusChange(20.0, IntentStatus.AT_RISK, 0.5, "a spare lost")
        moved = dataclasses.replace(
            RECORD,
            task_ids=("t-1", "t-3"),
            status=IntentStatus.AT_RISK,
            history=(*RECORD.history, change),
        )
        stores.intents.save(moved)
        assert stores.intents.get("i-1") == moved
        assert stores.intents.list() == [moved]


def test_reads_are_scoped_to_the_tenant(store_url: str) -> None:
    with open_store(store_url) as stores:
        assert stores.intents is not None
        other = dataclasses.replace(RECORD, id="i-2", tenant="globex", created_at_s=11.0)
        stores.intents.save(RECORD)
        stores.intents.save(other)
        assert stores.intents.get("i-2", "acme") is None
        assert [r.id for r in stores.intents.list("acme")] == ["i-1"]
        assert [r.id for r in stores.intents.list()] == ["i-1", "i-2"]


def test_a_record_without_a_prediction_reads_back_without_one(store_url: str) -> None:
    with open_store(store_url) as stores:
        assert stores.intents is not None
        older = dataclasses.replace(RECORD, prediction=None)
        stores.intents.save(older)
        found = stores.intents.get("i-1")
        assert found is not None
        assert found.prediction is None
