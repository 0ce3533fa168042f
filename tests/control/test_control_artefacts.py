"""Artefacts: archives checked and registered by the digest of their manifest."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from suanwang.control.artefacts import (
    Artefact,
    ArtefactError,
    inspect_archive,
    load_artefact,
    register,
)
from suanwang.control.objects import ObjectLimits, ObjectTooLargeError, read_all, sha256_of
from suanwang.storage.objects import FileObjectStore

CODE = "def run(inputs, outputs):\n    (outputs / 'x').write_text('1')\n"


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture
def store(tmp_path: Path) -> FileObjectStore:
    return FileObjectStore(tmp_path / "objects", ObjectLimits(max_object_bytes=1 << 16))


def test_a_zip_is_registered_under_its_manifests_digest(
    store: FileObjectStore, tmp_path: Path
) -> None:
    archive = _zip(tmp_path / "pkg.zip", {"pkg/__init__.py": "", "pkg/main.py": CODE})
    digest, artefact = register(store, "acme", archive, "pkg.main:run")
    assert artefact.format == "zip"
    assert artefact.archive == sha256_of(archive.read_bytes())
    assert digest == sha256_of(artefact.manifest())
    assert read_all(store, "acme", artefact.archive) == archive.read_bytes()
    assert load_artefact(store, "acme", digest) == artefact


def test_a_wheel_declares_its_entry_point(store: FileObjectStore, tmp_path: Path) -> None:
    wheel = _zip(
        tmp_path / "tool-1.0-py3-none-any.whl",
        {
            "tool.py": CODE,
            "tool-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\n",
            "tool-1.0.dist-info/entry_points.txt": "[suanwang]\nmain = tool:run\n",
        },
    )
    assert inspect_archive(wheel, None, 1 << 20) == ("wheel", "tool:run")
    _, artefact = register(store, "acme", wheel, None)
    assert artefact.entry == "tool:run"


@pytest.mark.parametrize(
    ("files", "entry", "message"),
    [
        ({"pkg.py": CODE}, "pkg:", "'pkg:'"),
        ({"pkg.py": CODE}, None, "entry: give the entry point"),
        ({"pkg.py": CODE}, "other:run", "no other.py"),
        ({"../evil.py": CODE}, "evil:run", "'../evil.py' points outside"),
        ({"pkg.py": "x" * 5000}, "pkg:run", "over the limit of 4096 bytes"),
    ],
)
def test_bad_archives_are_refused_with_the_reason(
    tmp_path: Path, files: dict[str, str], entry: str | None, message: str
) -> None:
    with pytest.raises(ArtefactError, match=message):
        inspect_archive(_zip(tmp_path / "a.zip", files), entry, 4096)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ArtefactError, match="not a zip"):
        inspect_archive(path, "a:b", 4096)


def test_an_archive_over_the_store_limit_is_refused(store: FileObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("pkg.py", io.BytesIO(bytes(range(256)) * 300).getvalue())
    with pytest.raises(ObjectTooLargeError, match=str(1 << 16)):
        register(store, "acme", path, "pkg:run")
    assert store.list("acme") == []


def test_an_object_that_is_not_a_manifest_is_not_an_artefact(store: FileObjectStore) -> None:
    digest = store.put("acme", io.BytesIO(b'{"kind": "other"}')).digest
    with pytest.raises(ArtefactError, match="not an artefact manifest"):
        load_artefact(store, "acme", digest)


def test_an_artefact_whose_archive_is_gone_is_refused(
    store: FileObjectStore, tmp_path: Path
) -> None:
    digest, artefact = register(store, "acme", _zip(tmp_path / "p.zip", {"p.py": CODE}), "p:run")
    store.delete("acme", artefact.archive)
    with pytest.raises(ArtefactError, match="is gone"):
        load_artefact(store, "acme", digest)


def test_a_manifest_round_trips_and_checks_its_fields() -> None:
    artefact = Artefact("0" * 64, "a.b:c", "zip", 10)
    assert Artefact.from_manifest(artefact.manifest()) == artefact
    with pytest.raises(ArtefactError, match="format"):
        Artefact("0" * 64, "a.b:c", "tar", 10)
