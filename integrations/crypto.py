"""Encryption of secrets at rest (client secrets, cached tokens).

`FIELD_ENCRYPTION_KEY` holds one or more Fernet keys, comma separated: the first
encrypts, every key decrypts, so a new key can be put first and old data re-encrypted
(`manage.py rotate_encryption_key`) before the old key is removed.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""

    def __init__(self) -> None:
        super().__init__(
            "A stored secret could not be decrypted: FIELD_ENCRYPTION_KEY no longer "
            "contains the key it was encrypted with."
        )


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise RuntimeError("FIELD_ENCRYPTION_KEY is empty: set at least one Fernet key.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = [k for k in keys.split(",") if k.strip()]
    return _fernet_for(tuple(k.strip() for k in keys))


def encrypt(plaintext: str) -> str:
    """Encrypt with the newest key; the result is ASCII and safe to store in a text column."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key."""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError from exc


def reencrypt(ciphertext: str) -> str:
    """Re-encrypt a stored value with the newest key (key rotation)."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError from exc
