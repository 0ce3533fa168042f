"""``suanwang token create | list | revoke`` on the database directly."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.storage import open_store

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={**WIDE, **env})
    return result.exit_code, result.stdout, result.stderr


def test_no_database_at_the_resolved_place_is_refused(tmp_path: Path) -> None:
    # What happened before: a token issued into a new ./.suanwang that no server reads.
    data = tmp_path / "elsewhere"
    for command in (["create", "--role", "admin"], ["list"], ["revoke", "abc"]):
        code, out, err = cli("token", *command, SUANWANG_DATA_DIR=str(data))
        assert code == 1, command
        assert err.count("\n") == 1
        assert f"no database at {data.resolve() / 'suanwang.db'}" in err
        assert "SUANWANG_DATA_DIR" in err
        assert "--create-database" in err
        assert "swt_" not in out
    assert not data.exists()


def test_create_database_asks_for_a_new_one(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out, err = cli(
        "token", "create", "--role", "admin", "--database", database, "--create-database"
    )
    assert code == 0, err
    assert "for admin" in out
    assert "swt_" in out
    # Now it exists: no flag needed.
    code, _, err = cli("token", "create", "--role", "consumer", "--database", database)
    assert code == 0, err


def test_ttl_list_and_revoke(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    base = ("--database", database, "--create-database")
    before_s = time.time()
    code, out, err = cli("token", "create", "--role", "consumer", "--ttl", "3600", *base, "--json")
    assert code == 0, err
    short = json.loads(out)
    assert before_s + 3600 <= short["expires_at_s"] <= time.time() + 3600
    code, out, _ = cli("token", "create", "--role", "operator", "--principal", "op", *base[:2])
    assert "valid until" not in out
    code, out, _ = cli("token", "list", "--database", database, "--json")
    listed = json.loads(out)
    assert [t["principal_id"] for t in listed] == ["consumer", "op"]
    assert listed[0]["expires_at_s"] == short["expires_at_s"]
    assert listed[1]["expires_at_s"] is None
    assert all(t["state"] == "live" and t["created_at_s"] >= before_s for t in listed)
    assert short["token"] not in out  # never the secret
    code, _, _ = cli("token", "revoke", short["token_id"], "--database", database)
    assert code == 0
    code, out, _ = cli("token", "list", "--database", database, "--principal", "consumer")
    assert code == 0
    assert short["token_id"] in out
    assert "revoked" in out
    assert "op" not in out.split()
    with open_store(database) as stores:
        assert stores.principals.authenticate(short["token"]) is None


def test_an_expired_token_is_listed_as_expired(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    code, _, _ = cli(
        "token", "create", "--role", "admin", "--database", database, "--create-database"
    )
    assert code == 0
    with open_store(database) as stores:
        stores.principals.create_token("admin", expires_at_s=time.time() - 1.0)
    code, out, _ = cli("token", "list", "--database", database)
    assert code == 0
    assert "expired" in out
    assert "never" in out


def test_a_bad_ttl_is_one_line(tmp_path: Path) -> None:
    code, _, err = cli(
        "token", "create", "--role", "admin", "--ttl", "0", "--database", "sqlite:///x.db"
    )
    assert code == 2
    assert "--ttl" in err
