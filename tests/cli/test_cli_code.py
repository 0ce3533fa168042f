"""``artefact push``, ``object put``, ``task submit --artefact``, ``task result | logs``.

Against a real server and real agent processes (``LocalNet``, three sites): a package folder
written here is pushed, its input stored, the task runs on an agent and its result and logs
come back through the command line. Bad input ends with exit 2 and names the value.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites
from suanwang.cli.main import app

runner = CliRunner()

FINAL = {"completed", "failed", "rejected", "cancelled"}

SHOUT = """
from pathlib import Path


def run(inputs: Path, outputs: Path) -> None:
    for path in sorted(inputs.iterdir()):
        print("read", len(path.read_bytes()), "bytes")
        (outputs / "shout.txt").write_text(path.read_text().upper())
    (outputs / "deep").mkdir()
    (outputs / "deep" / "done.txt").write_text("ok")


def fail(inputs: Path, outputs: Path) -> None:
    import sys

    print("about to give up", file=sys.stderr)
    raise RuntimeError("the shout failed")
"""


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    folder: Path = tmp_path_factory.mktemp("net")
    local = LocalNet(folder / "data", scenario=str(write_three_sites(folder)))
    try:
        local.start_server()
        for node in THREE_SITES_NODES:
            local.start_agent(node, interval_s=0.5)
        local.wait_heartbeats(list(THREE_SITES_NODES))
        yield local
    finally:
        local.close()


@pytest.fixture(scope="module")
def env(net: LocalNet) -> dict[str, str]:
    with net.client() as admin:
        body = {"id": "carol", "tenant": "acme", "roles": ["consumer"]}
        admin.post("/v1/principals", json=body).raise_for_status()
        token = admin.post("/v1/principals/carol/tokens").raise_for_status().json()["token"]
    return {"SUANWANG_URL": net.url, "SUANWANG_TOKEN": str(token)}


def _package(root: Path) -> Path:
    package = root / "project" / "shout"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SHOUT)
    cache = package / "__pycache__"
    cache.mkdir()
    (cache / "junk.cpython-311.pyc").write_bytes(b"not code")
    return package


def _wait_final(env: dict[str, str], task_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        code, out, err = cli("task", "get", task_id, "--json", **env)
        assert code == 0, err
        task: dict[str, Any] = json.loads(out)
        if task["state"] in FINAL or time.monotonic() > deadline:
            return task
        time.sleep(0.2)


def test_push_submit_and_fetch_the_result_and_logs(env: dict[str, str], tmp_path: Path) -> None:
    package = _package(tmp_path)
    code, out, err = cli("artefact", "push", str(package), "--entry", "shout:run", **env)
    assert code == 0, err
    digest = out.strip()
    assert len(digest) == 64
    assert "shout:run" in err
    # The folder holding the package zips to the same bytes: the same artefact.
    code, out, err = cli("artefact", "push", str(package.parent), "--entry", "shout:run", **env)
    assert code == 0, err
    assert out.strip() == digest
    data = tmp_path / "words.txt"
    data.write_text("hello there\n")
    code, out, err = cli("object", "put", str(data), **env)
    assert code == 0, err
    assert out.strip() == hashlib.sha256(data.read_bytes()).hexdigest()
    assert "12 B" in err
    submit = ("task", "submit", "--artefact", digest, "--input", out.strip())
    code, out, err = cli(*submit, "--ingress", USERS_SITE, "--work-gflop", "1", "--json", **env)
    assert code == 0, err
    task_id = json.loads(out)["id"]
    task = _wait_final(env, task_id, timeout_s=60.0)
    assert task["state"] == "completed", task["reason"]

    zipped = tmp_path / "out" / "result.zip"
    code, out, err = cli("task", "result", task_id[:12], "-o", str(zipped), **env)
    assert code == 0, err
    assert str(zipped) in err
    with zipfile.ZipFile(zipped) as archive:
        assert archive.read("shout.txt") == b"HELLO THERE\n"
    code, out, err = cli("task", "result", task_id, "--extract", str(tmp_path / "x"), **env)
    assert code == 0, err
    assert (tmp_path / "x" / "shout.txt").read_text() == "HELLO THERE\n"
    assert (tmp_path / "x" / "deep" / "done.txt").read_text() == "ok"
    assert "shout.txt" in out.split()

    code, out, err = cli("task", "logs", task_id, **env)
    assert code == 0, err
    assert out.splitlines() == ["read 12 bytes"]
    assert f"run {task_id}" in err
    code, out, err = cli("task", "logs", task_id, "--json", **env)
    assert code == 0, err
    assert json.loads(out)["runs"][0]["outcome"] == "ok"


def test_a_failed_run_s_logs_carry_its_stderr(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = cli("artefact", "push", str(_package(tmp_path)), "--entry", "shout:run", **env)
    assert code == 0, err
    submit = ("task", "submit", "--artefact", out.strip(), "--entry", "shout:fail")
    code, out, err = cli(*submit, "--ingress", USERS_SITE, "--work-gflop", "1", "--json", **env)
    assert code == 0, err
    task_id = json.loads(out)["id"]
    assert _wait_final(env, task_id, timeout_s=60.0)["state"] == "failed"
    code, out, err = cli("task", "logs", task_id, **env)
    assert code == 0, err
    assert out == ""
    assert "about to give up" in err
    assert "RuntimeError: the shout failed" in err
    assert ": error ==" in err


def test_the_pushed_zip_leaves_out_caches(
    net: LocalNet, env: dict[str, str], tmp_path: Path
) -> None:
    package = _package(tmp_path)
    code, out, err = cli("artefact", "push", str(package), "--entry", "shout:run", "--json", **env)
    assert code == 0, err
    pushed = json.loads(out)
    assert (pushed["format"], pushed["entry"]) == ("zip", "shout:run")
    with net.client(env["SUANWANG_TOKEN"]) as client:
        archive = client.get(f"/v1/objects/{pushed['archive']}")
    assert archive.status_code == 200, archive.text
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert zipped.namelist() == ["shout/__init__.py"]
        assert zipped.getinfo("shout/__init__.py").date_time == (1980, 1, 1, 0, 0, 0)


def test_bad_input_names_the_value(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    code, _, err = cli("artefact", "push", str(missing), "--entry", "a:b", **env)
    assert (code, str(missing) in err, "no such file" in err) == (2, True, True)
    text = tmp_path / "notes.txt"
    text.write_text("not a zip")
    code, _, err = cli("artefact", "push", str(text), "--entry", "a:b", **env)
    assert (code, "notes.txt" in err, "not a zip" in err) == (2, True, True)
    code, _, err = cli("artefact", "push", str(_package(tmp_path)), "--entry", "shout.run", **env)
    assert (code, "'shout.run'" in err) == (2, True)
    code, _, err = cli("artefact", "push", str(tmp_path / "project"), "--entry", "nope:run", **env)
    assert code == 2  # refused by the server: the module is not in the archive
    assert "nope" in err
    code, _, err = cli("object", "put", str(missing), **env)
    assert (code, str(missing) in err) == (2, True)
    code, _, err = cli("object", "put", str(tmp_path), **env)
    assert (code, "is a folder" in err) == (2, True)
    code, _, err = cli("task", "submit", "--artefact", "abc123", **env)
    assert (code, "--artefact" in err, "'abc123'" in err) == (2, True, True)
    code, _, err = cli("task", "submit", "--entry", "a:b", **env)
    assert (code, "needs --artefact" in err) == (2, True)
    code, _, err = cli("task", "result", "0" * 32, **env)
    assert (code, "-o/--output" in err) == (2, True)
    code, _, err = cli("task", "result", "0" * 32, "-o", str(tmp_path / "r.zip"), **env)
    assert (code, "does not exist" in err) == (2, True)
    assert not (tmp_path / "r.zip").exists()


def test_a_task_without_a_result_is_refused_and_leaves_no_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    plain = ("task", "submit", "--ingress", USERS_SITE, "--work-gflop", "0.1", "--json")
    code, out, err = cli(*plain, **env)
    assert code == 0, err
    task_id = json.loads(out)["id"]
    assert _wait_final(env, task_id, timeout_s=60.0)["state"] == "completed"
    target = tmp_path / "r.zip"
    code, _, err = cli("task", "result", task_id, "-o", str(target), **env)
    assert (code, "has no result" in err) == (2, True)
    assert list(tmp_path.iterdir()) == []
