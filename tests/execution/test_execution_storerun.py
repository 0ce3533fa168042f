"""Staging from the object store and keeping results: what the local and Ray engines share."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from suanwang.api.routes.objects import RESULT_REF as API_RESULT_REF
from suanwang.control.artefacts import Artefact
from suanwang.control.objects import read_all
from suanwang.execution.coderun import StagingError
from suanwang.execution.storerun import (
    RESULT_REF,
    StoreCache,
    keep_result,
    stage_from_store,
    zipped_outputs,
)
from suanwang.model import TaskSpec
from suanwang.storage.objects import FileObjectStore


def test_a_result_is_kept_where_the_api_reads_it() -> None:
    assert RESULT_REF == API_RESULT_REF


def test_an_object_is_copied_once_and_verified(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "objects")
    digest = store.put("acme", io.BytesIO(b"some input")).digest
    cache = StoreCache(store, tmp_path / "cache")
    path, copied = cache.fetch("acme", digest)
    assert (path.read_bytes(), copied) == (b"some input", 10)
    assert cache.fetch("acme", digest) == (path, 0)  # a cache hit reads nothing


def test_a_corrupt_object_is_not_kept(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "objects")
    digest = store.put("acme", io.BytesIO(b"some input")).digest
    (stored,) = (tmp_path / "objects" / "acme").rglob(digest)
    stored.write_bytes(b"tampered!!")
    cache = StoreCache(store, tmp_path / "cache")
    with pytest.raises(StagingError, match=digest):
        cache.fetch("acme", digest)
    assert not (tmp_path / "cache" / "acme" / digest).exists()


def test_an_object_of_another_tenant_is_not_staged(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "objects")
    digest = store.put("rival", io.BytesIO(b"secret")).digest
    cache = StoreCache(store, tmp_path / "cache")
    with pytest.raises(StagingError, match=f"no object {digest} for tenant 'acme'"):
        cache.fetch("acme", digest)


def test_a_missing_artefact_fails_staging_naming_it(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "objects")
    cache = StoreCache(store, tmp_path / "cache")
    spec = TaskSpec(work_gflop=0.01, artefact="ab" * 32)
    (tmp_path / "run").mkdir()
    with pytest.raises(StagingError, match="ab" * 32):
        stage_from_store(cache, tmp_path / "run", "acme", spec)


def test_outputs_are_kept_as_the_tasks_result(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "objects")
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "a.txt").write_text("A")
    (tmp_path / "out" / "sub" / "b.txt").write_text("B")
    zipped, files = zipped_outputs(tmp_path / "out")
    digest = keep_result(store, "acme", "t1", zipped)
    assert files == 2
    assert store.ref("acme", "result-t1") == digest
    with zipfile.ZipFile(io.BytesIO(read_all(store, "acme", digest))) as archive:
        assert sorted(archive.namelist()) == ["a.txt", "sub/b.txt"]


def test_an_oci_image_is_left_to_the_agents_with_podman(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "objects")
    archive = store.put("acme", io.BytesIO(b"an image archive")).digest
    manifest = Artefact(archive, "", "oci", 16).manifest()
    digest = store.put("acme", io.BytesIO(manifest)).digest
    (tmp_path / "run").mkdir()
    cache = StoreCache(store, tmp_path / "cache")
    spec = TaskSpec(work_gflop=0.01, artefact=digest)
    with pytest.raises(StagingError, match="an OCI image runs on a node agent with podman only"):
        stage_from_store(cache, tmp_path / "run", "acme", spec)
