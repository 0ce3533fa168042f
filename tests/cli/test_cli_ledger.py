"""``suanwang ledger head | sync | verify | prove | consistency | witness`` on a database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from suanwang.cli.main import app
from suanwang.security.keys import KeyPair, Role, public_key_pem
from suanwang.storage import open_store

runner = CliRunner()


def cli(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {"COLUMNS": "200", "SUANWANG_DATA_DIR": str(tmp_path / "data")}
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _database(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "data" / "suanwang.db"
    with open_store(f"sqlite:///{path}") as stores:
        for i in range(n):
            stores.audit.append("admin", "token.create", f"token:{i}", "", 100.0 + i)
    return path


def test_sync_head_prove_consistency_and_verify(tmp_path: Path) -> None:
    db = _database(tmp_path, 9)
    code, _, err = cli(tmp_path, "ledger", "head")
    assert code == 1, err  # no key yet, or no head yet
    code, out, err = cli(tmp_path, "ledger", "sync", "--json")
    assert code == 0, err
    assert json.loads(out)["tree_size"] == 9
    code, out, err = cli(tmp_path, "ledger", "head")
    assert code == 0, err
    assert out.startswith("size 9  root ")
    code, out, err = cli(tmp_path, "ledger", "prove", "4", "--json")
    assert code == 0, err
    proof = json.loads(out)
    assert proof["verified"]
    assert proof["leaf_index"] == 3
    code, out, err = cli(tmp_path, "ledger", "prove", "99")
    assert code == 1
    witness = tmp_path / "witness.json"
    code, out, err = cli(tmp_path, "ledger", "witness", "-o", str(witness))
    assert code == 0, err
    assert json.loads(witness.read_text())["tree_size"] == 9
    with open_store(f"sqlite:///{db}") as stores:
        stores.audit.append("admin", "token.revoke", "token:1", "", 200.0)
    assert cli(tmp_path, "ledger", "sync")[0] == 0
    code, out, err = cli(tmp_path, "ledger", "consistency", "9", "10", "--json")
    assert code == 0, err
    assert json.loads(out)["verified"]
    code, out, err = cli(tmp_path, "ledger", "verify", "--witness", str(witness))
    assert code == 0, out + err
    assert "ok: 10 entries checked, extending the witness of size 9" in out


def test_verify_names_the_first_bad_entry(tmp_path: Path) -> None:
    db = _database(tmp_path, 12)
    assert cli(tmp_path, "ledger", "sync")[0] == 0
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("UPDATE audit_log SET who = 'mallory' WHERE seq = 5")
    code, out, _ = cli(tmp_path, "ledger", "verify")
    assert code == 3
    assert "first bad entry: seq 5" in out
    code, out, _ = cli(tmp_path, "ledger", "verify", "--json")
    assert code == 3
    assert json.loads(out)["first_bad_seq"] == 5


def test_verify_with_an_explicit_public_key_and_bad_inputs(tmp_path: Path) -> None:
    _database(tmp_path, 3)
    assert cli(tmp_path, "ledger", "sync")[0] == 0
    other = tmp_path / "other.pem"
    other.write_text(public_key_pem(KeyPair.generate(Role.CONTROLLER).public_key))
    code, out, _ = cli(tmp_path, "ledger", "verify", "--public-key", str(other))
    assert code == 3
    assert "signature" in out
    code, pem, _ = cli(tmp_path, "ledger", "public-key")
    assert code == 0
    mine = tmp_path / "ledger.pub"
    mine.write_text(pem)
    assert cli(tmp_path, "ledger", "verify", "--public-key", str(mine))[0] == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = cli(tmp_path, "ledger", "verify", "--witness", str(bad))
    assert code == 2
    assert "witness" in err
    code, _, err = cli(tmp_path, "ledger", "consistency", "5", "2")
    assert code == 2
    code, _, err = cli(tmp_path / "nowhere", "ledger", "verify")
    assert code == 1
