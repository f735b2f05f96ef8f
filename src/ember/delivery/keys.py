"""Signing keys on disk: ed25519, PEM/PKCS8, one file per key named <role>.<keyid>.pem (mode 0600).

The root keys live in their own directory (meant to stay offline); the online keys (snapshot,
timestamp, rollout) and the publisher's targets key live in the registry's keys/ directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from ember.delivery.errors import SigningKeyError


def generate(role: str, directory: Path):
    """Make a new ed25519 key for `role`, save it in `directory`, return its signer."""
    from securesystemslib.signer import CryptoSigner

    signer = CryptoSigner.generate_ed25519()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = directory / f"{role}.{signer.public_key.keyid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.private_bytes)
        f.flush()
        os.fsync(f.fileno())
    return signer


def load_signers(role: str, keyids: list[str], directories: list[Path]) -> list:
    """Signers for the keys of `keyids` found in `directories` (others are ignored)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner, SSlibKey

    signers = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for keyid in keyids:
            path = directory / f"{role}.{keyid}.pem"
            if not path.exists():
                continue
            try:
                private = load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError) as exc:
                raise SigningKeyError(
                    f"key file {path} is not an unencrypted PEM/PKCS8 private key ({exc}); "
                    "restore it from your backup."
                ) from None
            public = SSlibKey.from_crypto(private.public_key())
            if public.keyid != keyid:
                raise SigningKeyError(f"key file {path} holds a key whose id is not {keyid}; restore it.")
            signers.append(CryptoSigner(private, public))
    return signers


def retire(role: str, keyid: str, directory: Path) -> None:
    """Move a replaced private key into directory/retired/ (kept for audit, never used again)."""
    path = directory / f"{role}.{keyid}.pem"
    if path.exists():
        (directory / "retired").mkdir(exist_ok=True)
        os.replace(path, directory / "retired" / path.name)
