"""Ed25519 keys of a ledger operator: make, store, load, sign and check checkpoints.

The operator keeps the private key (a PEM file readable only by its owner); counties keep
the public key (a PEM file, or its 64-hex ``key_id`` fingerprint to compare by phone). A
signed checkpoint can only be made with the private key, so someone who can write the
database file but does not hold the key cannot vouch for a rewritten or extended ledger.
The public key a check uses always comes from the verifier, never from the database.

>>> signer = Signer.generate()
>>> sig = signer.sign(b"message")
>>> verify_signature(signer.public_key, b"message", sig)
True
>>> verify_signature(signer.public_key, b"other", sig)
False
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ecocomp.errors import LedgerError

__all__ = [
    "SIGNING_KEY_ENV",
    "Signer",
    "key_id",
    "load_public_key",
    "public_key_pem",
    "verify_signature",
]

#: Environment variable naming the private key file settle/pay sign with.
SIGNING_KEY_ENV = "ECOCOMP_SIGNING_KEY"


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The fingerprint of a public key: SHA-256 of its 32 raw bytes, lowercase hex."""
    return hashlib.sha256(_raw(public_key)).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as PEM text (SubjectPublicKeyInfo), for ``operator.pub``."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(source: str | os.PathLike[str]) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (or 64 hex digits of its raw bytes)."""
    text = os.fspath(source)
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    path = Path(text)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LedgerError(f"{path}: cannot read the public key ({exc.strerror}); give the "
                          "operator's .pub file from `ecocomp ledger keygen`") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise LedgerError(f"{path}: not a PEM public key; give the operator's .pub file from "
                          "`ecocomp ledger keygen`") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise LedgerError(f"{path}: not an Ed25519 public key; give the .pub file from "
                          "`ecocomp ledger keygen`")
    return key


def verify_signature(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """True when ``signature`` (hex) is ``public_key``'s signature of ``message``."""
    try:
        public_key.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class Signer:
    """An operator's private key, used to sign checkpoints.

    >>> Signer.generate().key_id != Signer.generate().key_id
    True
    """

    __slots__ = ("_key",)

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Signer:
        """The private key in a PEM file written by :meth:`save` (``ecocomp ledger keygen``)."""
        where = Path(path)
        try:
            data = where.read_bytes()
        except OSError as exc:
            raise LedgerError(f"{where}: cannot read the signing key ({exc.strerror}); make "
                              "one with `ecocomp ledger keygen --out FILE`") from exc
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise LedgerError(f"{where}: not an unencrypted PEM private key; make one with "
                              "`ecocomp ledger keygen --out FILE`") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise LedgerError(f"{where}: not an Ed25519 private key; make one with "
                              "`ecocomp ledger keygen --out FILE`")
        return cls(key)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the private key (PEM, PKCS#8) readable by its owner only (mode 0600).

        Refuses to overwrite an existing file: losing a key would orphan every signature.
        Also writes the public key next to it as ``<path>.pub``; returns that path.
        """
        where = Path(path)
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise LedgerError(f"{where}: already exists; a new key would not replace it "
                              "(choose another --out, or delete the old key on purpose)") from exc
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.chmod(where, 0o600)  # the umask cannot widen it, but make it explicit
        public = where.with_name(where.name + ".pub")
        public.write_text(public_key_pem(self.public_key), encoding="ascii")
        return public

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of ``message``, lowercase hex (128 digits)."""
        return self._key.sign(message).hex()

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id[:16]}…)"
