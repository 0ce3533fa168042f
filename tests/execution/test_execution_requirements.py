"""Artefacts' requirements: declared in a wheel or a zip, installed only from the wheelhouse."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from wheels import build_wheel

from suanwang.control.artefacts import register
from suanwang.control.objects import read_all
from suanwang.execution import LocalEngine
from suanwang.execution.requirements import (
    RequirementsError,
    Wheelhouse,
    requirement_paths,
    requirements_digest,
    requirements_of,
)
from suanwang.model import Estimate, Placement, Task, TaskSpec, TaskState
from suanwang.storage.objects import FileObjectStore

pytestmark = pytest.mark.timeout(180)

DEPENDENCY = {"tenantdep/__init__.py": "def shout(text):\n    return text.upper() + '!'\n"}
USER_CODE = """
from pathlib import Path

import tenantdep


def run(inputs: Path, outputs: Path) -> None:
    for path in inputs.iterdir():
        (outputs / "shouted.txt").write_text(tenantdep.shout(path.read_text()))
"""


def _zip(folder: Path, files: dict[str, str]) -> Path:
    path = folder / "user.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    build_wheel(folder, "tenantdep", "1.0", DEPENDENCY)
    return folder


def test_a_wheel_declares_its_requirements_in_its_metadata(tmp_path: Path) -> None:
    requires = ("tenantdep>=1.0", "other; python_version >= '3'", "docs; extra == 'doc'")
    wheel = build_wheel(tmp_path, "userpkg", "0.1", {"userpkg/__init__.py": ""}, requires)
    assert requirements_of(wheel) == ("tenantdep>=1.0", "other; python_version >= '3'")


def test_a_zip_declares_them_in_requirements_txt(tmp_path: Path) -> None:
    text = "# what the code needs\ntenantdep==1.0  # pinned\n\nother\n"
    archive = _zip(tmp_path, {"requirements.txt": text, "user/__init__.py": ""})
    assert requirements_of(archive) == ("tenantdep==1.0", "other")
    assert requirements_of(_zip(tmp_path, {"user/__init__.py": ""})) == ()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--index-url http://elsewhere", "options are not allowed"),
        ("-r more.txt", "options are not allowed"),
        ("evil @ https://example.org/evil.whl", "a requirement is a package name"),
    ],
)
def test_an_artefact_may_not_say_where_packages_come_from(
    tmp_path: Path, line: str, says: str
) -> None:
    archive = _zip(tmp_path, {"requirements.txt": f"ok\n{line}\n"})
    with pytest.raises(RequirementsError, match=f"requirements.txt line 2: {says}"):
        requirements_of(archive)


def test_a_set_is_installed_once_from_the_wheelhouse(tmp_path: Path, wheelhouse: Path) -> None:
    house = Wheelhouse(str(wheelhouse), tmp_path / "cache")
    folder = house.resolve(("tenantdep==1.0",))
    assert folder == tmp_path / "cache" / requirements_digest(("tenantdep==1.0",))
    assert (folder / "tenantdep" / "__init__.py").read_text() == DEPENDENCY["tenantdep/__init__.py"]
    (folder / "marker").write_text("kept")
    assert house.resolve((" tenantdep==1.0",)) == folder  # the same set: not installed again
    assert (folder / "marker").exists()


def test_a_requirement_the_wheelhouse_lacks_is_named(tmp_path: Path, wheelhouse: Path) -> None:
    house = Wheelhouse(str(wheelhouse), tmp_path / "cache")
    with pytest.raises(RequirementsError, match=r"requirement 'tenantdep==2\.0' is not available"):
        house.resolve(("tenantdep==2.0",))
    with pytest.raises(RequirementsError, match="'absentpkg'"):
        house.resolve(("absentpkg",))
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # nothing half-installed


def test_requirements_without_a_wheelhouse_fail_naming_them(tmp_path: Path) -> None:
    archive = _zip(tmp_path, {"requirements.txt": "tenantdep\n"})
    with pytest.raises(RequirementsError, match="requires tenantdep, and no wheelhouse"):
        requirement_paths(archive, None)
    with pytest.raises(RequirementsError, match="wheelhouse: a folder of wheels"):
        Wheelhouse(str(tmp_path / "nowhere"), tmp_path / "cache")


class _Reports:
    def __init__(self) -> None:
        self.finished: dict[str, tuple[bool, str]] = {}
        self._changed = threading.Condition()

    def task_started(self, task_id: str) -> None:
        return None

    def task_finished(self, task_id: str, ok: bool, reason: str) -> None:
        with self._changed:
            self.finished[task_id] = (ok, reason)
            self._changed.notify_all()

    def wait(self, task_id: str) -> tuple[bool, str]:
        with self._changed:
            assert self._changed.wait_for(lambda: task_id in self.finished, 120.0)
            return self.finished[task_id]


@pytest.fixture
def engine(
    tmp_path: Path, wheelhouse: Path
) -> Iterator[tuple[LocalEngine, _Reports, FileObjectStore]]:
    store = FileObjectStore(tmp_path / "objects")
    with LocalEngine(
        ["a"], max_workers=1, objects=store, code_dir=tmp_path / "code", wheelhouse=str(wheelhouse)
    ) as local:
        reports = _Reports()
        local.attach(reports)
        yield local, reports, store


def _start(
    local: LocalEngine, store: FileObjectStore, tmp_path: Path, task_id: str, requirement: str
) -> None:
    files = {"user/__init__.py": USER_CODE, "requirements.txt": f"{requirement}\n"}
    digest, _ = register(store, "acme", _zip(tmp_path, files), "user:run")
    text = store.put("acme", io.BytesIO(b"hello")).digest
    spec = TaskSpec(work_gflop=0.01, artefact=digest, inputs=(text,))
    placement = Placement(task_id, "a", ("site",), estimate=Estimate(compute_ms=1.0))
    task = Task.submit(task_id, spec, "acme", 0.0)
    local.start(task.transition(TaskState.SCHEDULED, 0.0, "placed", placement))


def test_a_run_imports_its_requirement_from_the_wheelhouse(
    engine: tuple[LocalEngine, _Reports, FileObjectStore], tmp_path: Path
) -> None:
    local, reports, store = engine
    _start(local, store, tmp_path, "needs", "tenantdep==1.0")
    ok, reason = reports.wait("needs")
    assert ok, reason
    (record,) = local.records()
    assert isinstance(record.result, dict)
    result = store.ref("acme", "result-needs")
    assert result is not None
    with zipfile.ZipFile(io.BytesIO(read_all(store, "acme", result))) as archive:
        assert archive.read("shouted.txt") == b"HELLO!"
    assert record.result["result"] == result  # the summary names the stored result


def test_a_run_whose_requirement_is_missing_fails_naming_it(
    engine: tuple[LocalEngine, _Reports, FileObjectStore], tmp_path: Path
) -> None:
    local, reports, store = engine
    _start(local, store, tmp_path, "lacks", "tenantdep==9.9")
    ok, reason = reports.wait("lacks")
    assert not ok
    assert "requirement 'tenantdep==9.9' is not available from the wheelhouse" in reason
