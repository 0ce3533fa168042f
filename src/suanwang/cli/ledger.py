"""``suanwang ledger head | sync | verify | prove | consistency | witness | public-key``.

The commands work on the database directly (``--database`` or ``SUANWANG_DATABASE_URL``, else
``suanwang.db`` in ``SUANWANG_DATA_DIR``), like ``token``, so an auditor can check a copy of the
database with no server running. ``verify`` checks heads against ``--public-key`` (a PEM file),
else against the key in ``SUANWANG_LEDGER_KEY`` (default ``SUANWANG_DATA_DIR/ledger.key``);
``sync`` signs with that key. Exit codes: 0 fine, 1 no database or key, 2 bad input, 3 the
ledger failed verification.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from suanwang.cli.common import console, fail, unavailable
from suanwang.cli.output import AsJson
from suanwang.cli.tokens import Database, sqlite_file

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from suanwang.control.ledgerstore import SignedHead
    from suanwang.ledger import Ledger

EXIT_TAMPERED = 3
"""Exit code of ``verify`` when the ledger does not check out."""

ledger_app = typer.Typer(
    help="The tamper-evident audit ledger (works on the database directly).",
    no_args_is_help=True,
)

PublicKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="PEM public key the heads must be signed with (default: the server's ledger key).",
    ),
]


def _public_key(path: Path | None) -> Ed25519PublicKey:
    from suanwang.bootstrap import Settings  # noqa: PLC0415 (fast --help)
    from suanwang.bootstrap.build import ledger_key  # noqa: PLC0415
    from suanwang.security.keys import load_public_key  # noqa: PLC0415

    try:
        if path is not None:
            return load_public_key(path.read_bytes())
        return ledger_key(Settings(), create=False).public_key
    except FileNotFoundError as exc:
        raise unavailable(
            f"no ledger key at {exc.filename}: pass --public-key or set SUANWANG_LEDGER_KEY"
        ) from None
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None


@contextmanager
def _ledger(
    database: str | None, public_key: Path | None = None, *, signing: bool = False
) -> Iterator[Ledger]:
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415 (database imports are slow)

    from suanwang.bootstrap import Settings, open_stores  # noqa: PLC0415
    from suanwang.bootstrap.build import ledger_key  # noqa: PLC0415
    from suanwang.control.stores import StoreUnavailableError  # noqa: PLC0415
    from suanwang.ledger import Ledger  # noqa: PLC0415

    settings = Settings()
    url = database or settings.resolved_database_url()
    try:
        path = sqlite_file(url)
    except ArgumentError as exc:
        raise fail(f"--database: {exc}") from None
    if path is not None and not path.exists():
        raise unavailable(f"no database at {path}: point SUANWANG_DATA_DIR (or --database) at it")
    key = ledger_key(settings, create=True) if signing else None
    checker = None if key is not None else _public_key(public_key)
    try:
        stores = open_stores(url)
    except StoreUnavailableError as exc:
        raise unavailable(str(exc)) from None
    with stores:
        if stores.ledger is None:
            raise unavailable(f"the stores at {stores.url} keep no ledger")
        yield Ledger(stores.ledger, stores.audit, key=key, public_key=checker)


def _head_json(head: SignedHead) -> dict[str, Any]:
    from suanwang.ledger.heads import head_to_json  # noqa: PLC0415

    return head_to_json(head)


def _print_head(head: SignedHead | None, as_json: bool) -> None:
    if head is None:
        raise unavailable("the ledger has no signed head yet (run `suanwang ledger sync`)")
    if as_json:
        console.print_json(json.dumps(_head_json(head)))
        return
    console.print(
        f"size {head.size}  root {head.root.hex()}  signed at {head.timestamp_ms} ms "
        f"by key {head.key_id}",
        highlight=False,
        soft_wrap=True,
    )


@ledger_app.command("head")
def head(
    database: Database = None, public_key: PublicKeyFile = None, as_json: AsJson = False
) -> None:
    """The latest signed tree head (size, root hash, timestamp, key id)."""
    with _ledger(database, public_key) as ledger:
        _print_head(ledger.head(), as_json)


@ledger_app.command("sync")
def sync(database: Database = None, as_json: AsJson = False) -> None:
    """Checkpoint audit entries not yet in the ledger and sign a new head (the server does too)."""
    from suanwang.control.stores import StoreError  # noqa: PLC0415

    with _ledger(database, signing=True) as ledger:
        try:
            new = ledger.sync()
        except StoreError as exc:
            raise unavailable(str(exc)) from None
        _print_head(new, as_json)


@ledger_app.command("verify")
def verify(
    witness: Annotated[
        Path | None, typer.Option(help="A witness file (`ledger witness`) the ledger must extend.")
    ] = None,
    database: Database = None,
    public_key: PublicKeyFile = None,
    as_json: AsJson = False,
) -> None:
    """Recompute every leaf, subtree and head; name the first bad audit entry (exit 3)."""
    from suanwang.ledger import read_witness  # noqa: PLC0415

    try:
        kept = None if witness is None else read_witness(witness)
    except (OSError, ValueError) as exc:
        raise fail(f"--witness: {exc}") from None
    with _ledger(database, public_key) as ledger:
        report = ledger.verify(kept)
    if as_json:
        out = {
            "ok": report.ok,
            "size": report.size,
            "entries": report.entries,
            "first_bad_seq": report.first_bad_seq,
            "problems": report.problems,
        }
        console.print_json(json.dumps(out))
    elif report.ok:
        what = "" if kept is None else f", extending the witness of size {kept.head.size}"
        console.print(f"ok: {report.size} entries checked{what}", highlight=False)
    else:
        for problem in report.problems:
            console.print(f"bad: {problem}", highlight=False, soft_wrap=True)
        first = report.first_bad_seq
        console.print(
            "first bad entry: " + ("unknown" if first is None else f"seq {first}"),
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(EXIT_TAMPERED)


@ledger_app.command("prove")
def prove(
    seq: Annotated[int, typer.Argument(help="Audit entry (its seq) to prove.")],
    database: Database = None,
    public_key: PublicKeyFile = None,
    as_json: AsJson = False,
) -> None:
    """An inclusion proof of one audit entry under the latest head (checked before printing)."""
    from suanwang.ledger import LedgerError, merkle  # noqa: PLC0415

    with _ledger(database, public_key) as ledger:
        try:
            proof = ledger.prove(seq)
        except LedgerError as exc:
            raise unavailable(str(exc)) from None
    ok = merkle.verify_inclusion(
        proof.index, proof.head.size, proof.leaf_hash, proof.path, proof.head.root
    )
    out = {
        "seq": proof.seq,
        "leaf_index": proof.index,
        "leaf_hash": proof.leaf_hash.hex(),
        "audit_path": [p.hex() for p in proof.path],
        "head": _head_json(proof.head),
        "verified": ok,
    }
    summary = f"entry {seq} is leaf {proof.index} of {proof.head.size}; path of"
    _emit_proof(out, summary, proof.path, ok, as_json)


def _emit_proof(
    out: dict[str, object], summary: str, path: Sequence[bytes], ok: bool, as_json: bool
) -> None:
    """Print a checked proof (JSON, or ``summary`` and one hash a line); exit 3 if it failed."""
    if as_json:
        console.print_json(json.dumps(out))
    else:
        verdict = "verified" if ok else "DOES NOT VERIFY"
        console.print(f"{summary} {len(path)} hashes; {verdict}", highlight=False)
        for node in path:
            console.print(node.hex(), highlight=False)
    if not ok:
        raise typer.Exit(EXIT_TAMPERED)


@ledger_app.command("consistency")
def consistency(
    old: Annotated[int, typer.Argument(help="Size of the older tree.")],
    new: Annotated[int, typer.Argument(help="Size of the newer tree.")],
    database: Database = None,
    public_key: PublicKeyFile = None,
    as_json: AsJson = False,
) -> None:
    """A consistency proof that the tree of OLD leaves is a prefix of the tree of NEW."""
    from suanwang.ledger import LedgerError, merkle  # noqa: PLC0415

    with _ledger(database, public_key) as ledger:
        try:
            proof = ledger.consistency(old, new)
        except LedgerError as exc:
            raise fail(str(exc)) from None
    ok = merkle.verify_consistency(old, new, proof.old_root, proof.new_root, proof.path)
    out = {
        "old_size": old,
        "new_size": new,
        "old_root": proof.old_root.hex(),
        "new_root": proof.new_root.hex(),
        "proof": [p.hex() for p in proof.path],
        "verified": ok,
    }
    _emit_proof(out, f"{old} -> {new}:", proof.path, ok, as_json)


@ledger_app.command("witness")
def witness(
    output: Annotated[Path, typer.Option("-o", "--output", help="Witness file to write.")],
    database: Database = None,
    public_key: PublicKeyFile = None,
) -> None:
    """Save the latest signed head (checked) as a witness file to keep outside the server."""
    from suanwang.ledger import write_witness  # noqa: PLC0415
    from suanwang.ledger.heads import head_signed_by  # noqa: PLC0415

    with _ledger(database, public_key) as ledger:
        latest = ledger.head()
        key = ledger.public_key
    if latest is None:
        raise unavailable("the ledger has no signed head yet (run `suanwang ledger sync`)")
    if not head_signed_by(latest, key):
        raise fail(
            f"the head of size {latest.size} has no valid signature of this key", EXIT_TAMPERED
        )
    try:
        write_witness(latest, key, output)
    except OSError as exc:
        raise fail(f"-o: {exc}") from None
    console.print(f"witness of size {latest.size} written to {output}", highlight=False)


@ledger_app.command("public-key")
def public_key_command() -> None:
    """Print the ledger key's public half (PEM) for auditors (from SUANWANG_LEDGER_KEY)."""
    from suanwang.security.keys import public_key_pem  # noqa: PLC0415

    console.print(public_key_pem(_public_key(None)), end="", highlight=False, soft_wrap=True)
