"""Alembic migrations of the storage schema (run by ``suanwang.storage.engine.upgrade``)."""
