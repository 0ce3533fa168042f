"""Key pairs, key files and compute identifiers."""

import os
import stat

import pytest

from suanwang.security import (
    KeyPair,
    Role,
    instance_id,
    is_instance_id,
    is_service_id,
    key_id_of,
    load_private_key,
    load_public_key,
    public_key_pem,
    random_instance_id,
    save_private_key,
    service_id,
)


def test_key_files_are_private_and_round_trip(tmp_path):
    pair = KeyPair.generate(Role.AGENT)
    path = save_private_key(pair, tmp_path / "agent.pem")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_private_key(path, Role.AGENT)
    assert loaded.key_id == pair.key_id
    assert loaded.public_bytes == pair.public_bytes
    with pytest.raises(FileExistsError):
        save_private_key(pair, path)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="600"):
        load_private_key(path, Role.AGENT)


def test_public_keys_and_key_ids():
    pair = KeyPair.generate(Role.PROVIDER)
    assert len(pair.key_id) == 32
    assert key_id_of(pair.public_key) == key_id_of(pair.public_bytes) == pair.key_id
    assert key_id_of(load_public_key(public_key_pem(pair.public_key))) == pair.key_id
    assert key_id_of(load_public_key(pair.public_bytes)) == pair.key_id
    assert pair.key_id in repr(pair)
    assert KeyPair.generate(Role.PROVIDER).key_id != pair.key_id


def test_service_and_instance_ids_are_stable_and_distinct():
    cs = service_id("provider-key", "video-analytics")
    assert cs == service_id("provider-key", "video-analytics")
    assert cs != service_id("other-key", "video-analytics")
    assert is_service_id(cs)
    assert not is_instance_id(cs)
    first, second = instance_id(cs, "node-1"), instance_id(cs, "node-1", ordinal=1)
    assert first != second != instance_id(cs, "node-2")
    assert is_instance_id(first)
    assert is_instance_id(random_instance_id())
    assert random_instance_id() != random_instance_id()
    with pytest.raises(ValueError, match="name"):
        service_id("k", "")
    with pytest.raises(ValueError, match="ordinal"):
        instance_id(cs, "n", -1)
