"""OCI artefacts with podman: an image built here (no registry), run by agents.

Skipped where podman is absent or cannot run a container here. The image is a root file system
made in the test (the host's ``sh`` and ``cat`` with the libraries they load), imported and
saved by podman as an image archive, pushed as an artefact, and run by the agents' code path
(``coderun.run_code``, through ``contract_code.CodePuller``), and once end to end: pushed
through the API and run by real agent processes of the three-site network.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_code import TENANT, CodePuller, pid_gone, put, result_files, wait_for

from suanwang.cli.localnet import THREE_SITES_NODES, USERS_SITE, LocalNet, write_three_sites
from suanwang.control.artefacts import ArtefactError, inspect_archive, register
from suanwang.execution import AgentDispatch
from suanwang.execution.oci import OciRunner, podman_path
from suanwang.model import Estimate, Placement, Task, TaskSpec, TaskState
from suanwang.storage.objects import FileObjectStore

pytestmark = pytest.mark.timeout(300)

NODES = ("n1",)
COPY = '["/bin/sh", "-c", "cat /inputs/* > /outputs/copy.txt; echo copied"]'
SPIN = '["/bin/sh", "-c", "echo spinning; while :; do :; done"]'


def _libraries(binary: str) -> list[str]:
    listed = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return [p for line in listed.splitlines() for p in line.split() if p.startswith("/")]


def _image(podman: str, folder: Path, name: str, command: str) -> Path:
    """An image archive of a root file system with sh and cat whose command is ``command``."""
    root = folder / f"{name}-root"
    for binary in ("/bin/sh", "/bin/cat"):
        for path in [binary, *_libraries(binary)]:
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    rootfs = folder / f"{name}-rootfs.tar"
    with tarfile.open(rootfs, "w") as archive:
        archive.add(root, arcname=".")
    tag = f"localhost/suanwang-test/{name}:1"
    run = [podman, "import", "--change", f"CMD {command}", str(rootfs), tag]
    subprocess.run(run, capture_output=True, check=True, timeout=120)
    saved = folder / f"{name}.tar"
    subprocess.run([podman, "save", "-o", str(saved), tag], capture_output=True, check=True)
    subprocess.run([podman, "rmi", tag], capture_output=True, check=False)
    return saved


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    podman = podman_path()
    if podman is None:
        pytest.skip("podman is not installed on this node")
    folder = tmp_path_factory.mktemp("images")
    try:
        made = {
            "copy": _image(podman, folder, "copy", COPY),
            "spin": _image(podman, folder, "spin", SPIN),
        }
    except (subprocess.CalledProcessError, OSError) as error:
        pytest.skip(f"podman cannot build an image here: {error}")
    yield made
    listed = subprocess.run([podman, "images", "--format", "{{.Repository}}"], capture_output=True,
                            text=True, check=False).stdout.split()  # fmt: skip
    for repository in {r for r in listed if r.startswith("localhost/suanwang")}:
        subprocess.run([podman, "rmi", "--force", repository], capture_output=True, check=False)


class _Reports:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, bool | None, str]] = []
        self._changed = threading.Condition()

    def task_started(self, task_id: str) -> None:
        with self._changed:
            self.events.append(("started", task_id, None, ""))
            self._changed.notify_all()

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        with self._changed:
            self.events.append(("finished", task_id, ok, reason))
            self._changed.notify_all()

    def wait_finished(self, task_id: str) -> tuple[bool | None, str]:
        with self._changed:
            done = lambda: [e for e in self.events if e[:2] == ("finished", task_id)]  # noqa: E731
            assert self._changed.wait_for(done, 120.0)
            return done()[0][2], done()[0][3]


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[tuple[AgentDispatch, _Reports, FileObjectStore, OciRunner]]:
    podman = podman_path()
    assert podman is not None
    store = FileObjectStore(tmp_path / "objects")
    dispatch = AgentDispatch(NODES)
    reports = _Reports()
    dispatch.attach(reports)
    (tmp_path / "wheelhouse").mkdir()
    runner = OciRunner(podman)
    puller = CodePuller(
        dispatch, NODES, store, tmp_path / "agent", tmp_path / "wheelhouse", oci=runner
    )
    yield dispatch, reports, store, runner
    puller.stop()


def _start(dispatch: AgentDispatch, task_id: str, artefact: str, inputs: tuple[str, ...]) -> None:
    spec = TaskSpec(work_gflop=0.01, mem_gib=0.25, artefact=artefact, inputs=inputs)
    placement = Placement(task_id, "n1", ("site",), estimate=Estimate(compute_ms=1.0))
    task = Task.submit(task_id, spec, TENANT, 0.0)
    dispatch.start(task.transition(TaskState.SCHEDULED, 0.0, "placed", placement))
    dispatch.publish()


def test_an_image_archive_is_an_oci_artefact_without_an_entry(images: dict[str, Path]) -> None:
    assert inspect_archive(images["copy"], None, 1 << 30) == ("oci", "")
    with pytest.raises(ArtefactError, match="an OCI image runs its own command"):
        inspect_archive(images["copy"], "pkg:run", 1 << 30)


def test_a_plain_tar_is_not_an_image(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar"
    (tmp_path / "a.txt").write_text("a")
    with tarfile.open(plain, "w") as archive:
        archive.add(tmp_path / "a.txt", arcname="a.txt")
    with pytest.raises(ArtefactError, match="not an image archive"):
        inspect_archive(plain, None, 1 << 30)


def test_an_image_runs_its_command_offline_with_its_input_and_returns_its_output(
    images: dict[str, Path], agents: tuple[AgentDispatch, _Reports, FileObjectStore, OciRunner]
) -> None:
    dispatch, reports, store, _ = agents
    digest, artefact = register(store, TENANT, images["copy"], None)
    assert (artefact.format, artefact.entry) == ("oci", "")
    text = put(store, b"from the tenant's store")
    _start(dispatch, "copy", digest, (text,))
    ok, reason = reports.wait_finished("copy")
    assert ok, reason
    assert "container start" in reason
    assert result_files(store, "copy") == {"copy.txt": b"from the tenant's store"}


def test_a_cancelled_containers_process_is_gone_within_a_second(
    images: dict[str, Path], agents: tuple[AgentDispatch, _Reports, FileObjectStore, OciRunner]
) -> None:
    dispatch, reports, store, runner = agents
    digest, _ = register(store, TENANT, images["spin"], None)
    _start(dispatch, "spin", digest, ())
    name = f"suanwang-{TENANT}-spin"
    assert wait_for(lambda: runner.state(name, "Pid") not in ("", "0"), 60.0)
    pid = int(runner.state(name, "Pid"))
    assert not pid_gone(pid)
    dispatch.cancel("spin")
    assert wait_for(lambda: pid_gone(pid), 1.0), f"container pid {pid} runs 1 s after the cancel"
    assert wait_for(lambda: [k.run_id for k in dispatch.kills] == ["spin"], 5.0)
    assert [e for e in reports.events if e[1] == "spin" and e[0] == "finished"] == []


def test_an_image_pushed_through_the_api_runs_on_a_real_agent(
    images: dict[str, Path], tmp_path: Path
) -> None:
    net = LocalNet(tmp_path / "data", scenario=str(write_three_sites(tmp_path)))
    try:
        net.start_server()
        for node in THREE_SITES_NODES:
            net.start_agent(node, interval_s=0.5)
        net.wait_heartbeats(list(THREE_SITES_NODES))
        with net.client() as client:
            pushed = client.post("/v1/artefacts", content=images["copy"].read_bytes())
            assert pushed.status_code == 201, pushed.text
            assert (pushed.json()["format"], pushed.json()["entry"]) == ("oci", "")
            data = client.post("/v1/objects", content=b"staged by the agent").json()["digest"]
            body = {
                "work_gflop": 0.1,
                "cpu_cores": 1.0,
                "mem_gib": 0.25,
                "ingress_site": USERS_SITE,
            }
            body |= {"artefact": pushed.json()["digest"], "inputs": [data]}
            task_id = client.post("/v1/tasks", json=body).raise_for_status().json()["id"]
            deadline = time.monotonic() + 90.0
            while (doc := client.get(f"/v1/tasks/{task_id}").json())["state"] not in {
                "completed", "failed", "rejected", "cancelled"
            } and time.monotonic() < deadline:  # fmt: skip
                time.sleep(0.1)
            assert doc["state"] == "completed", doc["reason"]
            assert "container start" in doc["reason"]
            result = client.get(f"/v1/tasks/{task_id}/result")
            assert result.status_code == 200, result.text
            with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
                assert archive.read("copy.txt") == b"staged by the agent"
            logs = client.get(f"/v1/tasks/{task_id}/logs").json()
            assert "copied" in json.dumps(logs)
    finally:
        net.close()
