"""Migration 0009: usage stored before it is numbered in (ended_s, key) order, and stays unique."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from suanwang.storage.engine import make_engine, upgrade

SQL_ONLY = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)

_INSERT = text(
    "INSERT INTO usage_events (key, run_id, tenant, provider, dimension, detail, quantity,"
    " ended_s, sla_met, period, late) VALUES (:key, :run, 'acme', 'prov-a', 'tasks', '', 1.0,"
    " :ended_s, true, 0, false)"
)


@SQL_ONLY
def test_stored_usage_is_numbered_in_end_time_order(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0008")
        with engine.begin() as connection:
            for key, ended_s in [("r3/tasks", 30.0), ("r1/tasks", 10.0), ("r2/tasks", 10.0)]:
                connection.execute(_INSERT, {"key": key, "run": key[:2], "ended_s": ended_s})
        upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT key, seq FROM usage_events ORDER BY seq"))
            assert [tuple(row) for row in rows] == [
                ("r1/tasks", 1),
                ("r2/tasks", 2),
                ("r3/tasks", 3),
            ]
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text("UPDATE usage_events SET seq = 1 WHERE key = 'r3/tasks'")
            )  # the unique index: two events never share a seq
    finally:
        engine.dispose()
