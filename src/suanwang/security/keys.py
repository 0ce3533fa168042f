"""Ed25519 identities of providers and agents, and their key files.

A key is named by its *key id*: the first 16 bytes of the SHA-256 of the raw public key, in hex.
Private keys are stored as unencrypted PKCS#8 PEM files readable by their owner only (0600);
``load_private_key`` refuses a file that group or others can read.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE_MODE = 0o600


class Role(StrEnum):
    """Who holds a key."""

    PROVIDER = "provider"
    """Owns nodes; signs node registrations that bind agent keys to nodes."""
    AGENT = "agent"
    """Runs on a node; signs metric reports."""
    CONTROLLER = "controller"
    """The brain itself."""


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_key: Ed25519PublicKey | bytes) -> str:
    """Key id of a public key (object or its 32 raw bytes): 32 hex characters."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_bytes(public_key)
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True, slots=True, eq=False)
class KeyPair:
    """An Ed25519 key pair with its role and key id.

    Attributes:
        private_key: The signing key; never leaves its owner.
        role: Provider, agent or controller.
        key_id: Derived from the public key (``key_id_of``).
    """

    private_key: Ed25519PrivateKey
    role: Role
    key_id: str

    @classmethod
    def generate(cls, role: Role) -> KeyPair:
        """A fresh key pair."""
        private_key = Ed25519PrivateKey.generate()
        return cls(private_key, role, key_id_of(private_key.public_key()))

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey, role: Role) -> KeyPair:
        """Wrap an existing private key."""
        return cls(private_key, role, key_id_of(private_key.public_key()))

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The verifying key."""
        return self.private_key.public_key()

    @property
    def public_bytes(self) -> bytes:
        """The 32 raw bytes of the public key (what registrations carry)."""
        return raw_public_bytes(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes) of ``message``."""
        return self.private_key.sign(message)

    def __repr__(self) -> str:
        return f"KeyPair(role={self.role}, key_id={self.key_id})"


def save_private_key(pair: KeyPair, path: str | Path) -> Path:
    """Write the private key as PKCS#8 PEM with mode 0600; refuses to overwrite a file.

    The file is created with 0600 from the start (``os.open`` with that mode), so the key is
    never readable by others, even for a moment.

    Raises:
        FileExistsError: ``path`` exists.
    """
    target = Path(path)
    pem = pair.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.chmod(target, KEY_FILE_MODE)  # the umask may have narrowed it; make it exact
    return target


def load_private_key(path: str | Path, role: Role) -> KeyPair:
    """Read a key pair written by ``save_private_key``.

    Raises:
        PermissionError: group or others may read or write the file.
        ValueError: the file holds no Ed25519 private key.
    """
    target = Path(path)
    mode = stat.S_IMODE(target.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(f"{target}: key file mode is {mode:o}; it must be 600")
    key = serialization.load_pem_private_key(target.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{target}: not an Ed25519 private key")
    return KeyPair.from_private_key(key, role)


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """SubjectPublicKeyInfo PEM of a public key (safe to share)."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(data: str | bytes) -> Ed25519PublicKey:
    """A public key from its PEM text or its 32 raw bytes.

    Raises:
        ValueError: not an Ed25519 public key.
    """
    if isinstance(data, bytes) and len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    raw = data.encode("ascii") if isinstance(data, str) else data
    key = serialization.load_pem_public_key(raw)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key
