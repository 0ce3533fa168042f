"""The object store contract on every adapter: the filesystem and S3 (moto's server, a process).

The S3 cases run against ``moto_server`` (moto's S3-compatible HTTP server, from PyPI) started
as a separate process on a free loopback port, once per module.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from suanwang.control.objects import (
    DigestMismatchError,
    ObjectLimits,
    ObjectNotFoundError,
    ObjectStore,
    ObjectTooLargeError,
    read_all,
)
from suanwang.storage.objects import FileObjectStore, S3ObjectStore
from suanwang.storage.objects.fs import STALE_TMP_S, TMP_DIR

LIMIT_BYTES = 4096
RETENTION_S = 100.0
START_TIMEOUT_S = 20.0


class Clock:
    """A clock the test moves; starts at the wall clock so file times compare with it."""

    def __init__(self) -> None:
        self.now_s = time.time()

    def __call__(self) -> float:
        return self.now_s


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto S3 server process on loopback, until the module's tests end."""
    port = _free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    server = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"moto_server did not answer on {url}", pytrace=False)
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_client(url: str) -> Any:
    """A boto3 client of the moto server."""
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )


_buckets = iter(range(1_000_000))


@pytest.fixture(params=["fs", "s3"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, ObjectStore, Clock]:
    """(kind, store, clock) of a fresh store of each adapter."""
    clock = Clock()
    limits = ObjectLimits(max_object_bytes=LIMIT_BYTES, retention_s=RETENTION_S)
    if request.param == "fs":
        return "fs", FileObjectStore(tmp_path / "objects", limits, clock), clock
    url = request.getfixturevalue("moto_url")
    store = S3ObjectStore(
        f"bucket-{next(_buckets)}",
        prefix="sw/",
        limits=limits,
        clock=clock,
        client=s3_client(url),
        create_bucket=True,
    )
    return "s3", store, clock


def _put(store: ObjectStore, tenant: str, data: bytes) -> str:
    return store.put(tenant, io.BytesIO(data)).digest


def test_put_then_get_returns_the_bytes_under_their_sha256(adapter: Any) -> None:
    _, store, _ = adapter
    data = b"hello object store\n" * 10
    info = store.put("acme", io.BytesIO(data))
    assert info.digest == hashlib.sha256(data).hexdigest()
    assert info.size_bytes == len(data)
    assert read_all(store, "acme", info.digest) == data
    assert store.exists("acme", info.digest)
    assert store.info("acme", info.digest).size_bytes == len(data)


def test_the_same_bytes_twice_are_one_object(adapter: Any) -> None:
    _, store, _ = adapter
    first = _put(store, "acme", b"x" * 100)
    assert _put(store, "acme", b"x" * 100) == first
    _put(store, "acme", b"")
    listed = store.list("acme")
    assert [i.digest for i in listed] == sorted([first, hashlib.sha256(b"").hexdigest()])
    assert {i.size_bytes for i in listed} == {100, 0}


def test_an_object_over_the_limit_is_refused_and_nothing_is_kept(adapter: Any) -> None:
    _, store, _ = adapter
    with pytest.raises(ObjectTooLargeError, match=f"limit of {LIMIT_BYTES} bytes"):
        store.put("acme", io.BytesIO(b"y" * (LIMIT_BYTES + 1)))
    assert store.list("acme") == []
    assert store.put("acme", io.BytesIO(b"y" * LIMIT_BYTES)).size_bytes == LIMIT_BYTES


def test_an_expected_digest_that_does_not_match_is_refused(adapter: Any) -> None:
    _, store, _ = adapter
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(DigestMismatchError, match=wrong):
        store.put("acme", io.BytesIO(b"these bytes"), expect=wrong)
    assert store.list("acme") == []
    right = hashlib.sha256(b"these bytes").hexdigest()
    assert store.put("acme", io.BytesIO(b"these bytes"), expect=right).digest == right


class _Broken(io.RawIOBase):
    """A source that fails after its first chunk (a client that went away mid-upload)."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int = -1, /) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise ConnectionError("client went away")
        return b"z" * 100


def test_an_interrupted_put_leaves_nothing_visible(adapter: Any) -> None:
    kind, store, _ = adapter
    with pytest.raises(ConnectionError):
        store.put("acme", _Broken())
    assert store.list("acme") == []
    if kind == "fs":
        assert list((store.root / TMP_DIR).iterdir()) == []


def test_tenants_do_not_see_each_others_objects(adapter: Any) -> None:
    _, store, _ = adapter
    digest = _put(store, "acme", b"acme's secret")
    assert not store.exists("rival", digest)
    with pytest.raises(ObjectNotFoundError, match="rival"):
        store.get("rival", digest)
    with pytest.raises(ObjectNotFoundError):
        store.info("rival", digest)
    assert store.list("rival") == []
    assert store.delete("rival", digest) is False
    assert read_all(store, "acme", digest) == b"acme's secret"


def test_objects_expire_after_the_retention_and_a_new_put_renews_them(adapter: Any) -> None:
    _, store, clock = adapter
    old = _put(store, "acme", b"old")
    clock.now_s += RETENTION_S / 2
    young = _put(store, "acme", b"young")
    assert store.info("acme", old).age_s == pytest.approx(RETENTION_S / 2, abs=1.0)
    clock.now_s += RETENTION_S / 2 + 1
    assert not store.exists("acme", old)
    with pytest.raises(ObjectNotFoundError):
        store.get("acme", old)
    assert [i.digest for i in store.list("acme")] == [young]
    assert store.expire() == 1
    assert store.exists("acme", young)
    _put(store, "acme", b"old")
    clock.now_s += RETENTION_S / 2 + 1
    assert store.exists("acme", old)
    assert store.expire() == 1
    assert [i.digest for i in store.list("acme")] == [old]


def test_delete_removes_an_object(adapter: Any) -> None:
    _, store, _ = adapter
    digest = _put(store, "acme", b"gone soon")
    assert store.delete("acme", digest) is True
    assert not store.exists("acme", digest)
    assert store.delete("acme", digest) is False


@pytest.mark.parametrize(
    ("tenant", "digest", "named"),
    [
        ("acme", "abc", "'abc'"),
        ("acme", "A" * 64, "'AAAA"),
        ("../etc", "0" * 64, "'../etc'"),
        ("", "0" * 64, "''"),
    ],
)
def test_bad_digests_and_tenants_are_named(
    adapter: Any, tenant: str, digest: str, named: str
) -> None:
    _, store, _ = adapter
    with pytest.raises(ValueError, match=named):
        store.exists(tenant, digest)


def _corrupt(kind: str, store: Any, digest: str, url: str | None) -> None:
    if kind == "fs":
        path = store.root / "acme" / digest[:2] / digest
        path.chmod(0o644)
        path.write_bytes(b"tampered")
    else:
        s3_client(url).put_object(
            Bucket=store.bucket,
            Key=f"sw/acme/{digest}",
            Body=b"tampered",
            Metadata={"stored-s": repr(time.time())},
        )


def test_a_corrupted_object_fails_loudly_when_read(
    adapter: Any, request: pytest.FixtureRequest
) -> None:
    kind, store, _ = adapter
    digest = _put(store, "acme", b"original bytes")
    url = request.getfixturevalue("moto_url") if kind == "s3" else None
    _corrupt(kind, store, digest, url)
    with pytest.raises(DigestMismatchError, match=digest):
        read_all(store, "acme", digest)


def test_concurrent_puts_of_the_same_bytes_give_one_whole_object(adapter: Any) -> None:
    _, store, _ = adapter
    data = os.urandom(LIMIT_BYTES)
    digests: list[str] = []
    threads = [
        threading.Thread(target=lambda: digests.append(_put(store, "acme", data))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(digests) == 4
    assert len(set(digests)) == 1
    assert read_all(store, "acme", digests[0]) == data
    assert len(store.list("acme")) == 1


def test_a_crashed_puts_leftover_is_invisible_and_swept(tmp_path: Path) -> None:
    clock = Clock()
    store = FileObjectStore(tmp_path, ObjectLimits(retention_s=None), clock)
    leftover = tmp_path / TMP_DIR / "put-crashed.part"
    leftover.write_bytes(b"half an obj")
    assert store.list("acme") == []
    store.expire()
    assert leftover.exists()
    clock.now_s += STALE_TMP_S + 1
    store.expire()
    assert not leftover.exists()


def test_a_reference_names_an_object_of_its_tenant_while_it_lives(adapter: Any) -> None:
    _, store, clock = adapter
    first = _put(store, "acme", b"result one")
    assert store.ref("acme", "result-t1") is None
    store.put_ref("acme", "result-t1", first)
    assert store.ref("acme", "result-t1") == first
    second = _put(store, "acme", b"result two")
    store.put_ref("acme", "result-t1", second)
    assert store.ref("acme", "result-t1") == second
    assert store.ref("rival", "result-t1") is None
    with pytest.raises(ObjectNotFoundError):
        store.put_ref("rival", "result-t1", second)
    assert store.expire() == 0
    clock.now_s += RETENTION_S + 1
    assert store.ref("acme", "result-t1") is None
    with pytest.raises(ValueError, match=r"'\.\./x'"):
        store.ref("acme", "../x")
